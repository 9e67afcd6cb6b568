"""Patrol dose: minutes of patrol per treated area, and change against dose.

A patrol log has one row per visit or per area and week/day: the area's id, a date (or
week) and minutes. The dose of an area is its total minutes in the after period, also per
month. The dose–response table pools the areas into up to three equal-sized bands of dose
(low, middle, high) and gives each band's relative change with its interval (as
:func:`~hotspots.impact.relative_change` on the band's summed counts); the trend is
Spearman's rank correlation of dose with each area's log rate ratio (areas with a zero
count left out), with its p-value. Koper (1995) found visits of 10–15 minutes most
effective, with diminishing returns beyond: expect a curve, not a line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from hotspots.schema import InputError

from ._wdd import relative_change

DOSE_COLUMNS = ["area", "minutes", "minutes_per_month", "visits", "dose_band"]


def patrol_dose(
    log: pd.DataFrame,
    *,
    areas: list[str],
    after: tuple[pd.Period, pd.Period],
    months_after: int,
) -> pd.DataFrame:
    """Minutes (and log rows) per treated area over the after period.

    ``log`` has ``area``, ``date`` (anything :func:`pandas.to_datetime` reads: a day or the
    start of a week) and ``minutes``. Rows outside the after period are ignored; a log
    area that is not a treated area is an :class:`InputError`.
    """
    for col in ("area", "date", "minutes"):
        if col not in log:
            raise InputError(
                f"patrol log: needs a {col!r} column (area, date, minutes); it has "
                f"{list(log.columns)}"
            )
    when = pd.to_datetime(log["date"], errors="coerce")
    bad = when.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"patrol log row {i + 1}: date {log['date'].iloc[i]!r} is not a date")
    minutes = pd.to_numeric(log["minutes"], errors="coerce")
    bad = minutes.isna() | (minutes < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"patrol log row {i + 1}: minutes {log['minutes'].iloc[i]!r} is not a number ≥ 0"
        )
    area = log["area"].astype(str).str.strip()
    unknown = sorted(set(area) - set(areas))
    if unknown:
        raise InputError(
            f"patrol log: area {unknown[0]!r} is not a treated area (treated: "
            f"{', '.join(sorted(areas)[:10])}{'…' if len(areas) > 10 else ''})"
        )
    month = when.dt.to_period("M")
    keep = ((month >= after[0]) & (month <= after[1])).to_numpy()
    frame = pd.DataFrame({"area": area[keep], "minutes": minutes[keep]})
    per = frame.groupby("area")["minutes"].agg(["sum", "size"]).reindex(areas, fill_value=0)
    out = pd.DataFrame(
        {
            "area": per.index.to_numpy(),
            "minutes": per["sum"].to_numpy(float),
            "minutes_per_month": per["sum"].to_numpy(float) / months_after,
            "visits": per["size"].to_numpy(np.int64),
        }
    )
    return out.sort_values("area").reset_index(drop=True)


def dose_response(table: pd.DataFrame, dose: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Per-area dose joined to the impact table, banded, and the summary by band.

    Parameters
    ----------
    table
        :func:`~hotspots.impact.impact_table` output (the ``all`` row is ignored).
    dose
        :func:`patrol_dose` output.

    Returns
    -------
    (DataFrame, dict)
        One row per dose band (``dose_band``, ``areas``, ``minutes_per_month`` mean, the
        summed counts, ``relative_change`` with its interval) and the trend
        (``spearman_rho``, ``spearman_p``, ``areas``).

    Examples
    --------
    >>> t = pd.DataFrame({"area": list("abc"), "treated_before": [40, 40, 40],
    ...     "treated_after": [40, 30, 20], "control_before": [40, 40, 40],
    ...     "control_after": [40, 40, 40]})
    >>> d = pd.DataFrame({"area": list("abc"), "minutes": [0.0, 300, 600],
    ...     "minutes_per_month": [0.0, 50, 100], "visits": [0, 20, 40]})
    >>> bands, trend = dose_response(t, d)
    >>> bands["dose_band"].tolist(), bands["relative_change"].round(2).tolist()
    (['low', 'middle', 'high'], [0.0, -0.25, -0.5])
    >>> round(trend["spearman_rho"], 2)
    -1.0
    """
    rows = table.loc[table["area"] != "all"].merge(dose, on="area", how="left")
    rows["minutes_per_month"] = rows["minutes_per_month"].fillna(0.0)
    n = len(rows)
    labels = {1: ["all"], 2: ["low", "high"]}.get(n, ["low", "middle", "high"])
    rank = rows["minutes_per_month"].rank(method="first").to_numpy() - 1
    band_idx = np.floor(rank * len(labels) / max(n, 1)).astype(int)
    rows["dose_band"] = [labels[i] for i in band_idx]
    cols = ["treated_before", "treated_after", "control_before", "control_after"]
    bands = (
        rows.groupby("dose_band", sort=False)
        .agg(
            areas=("area", "size"),
            minutes_per_month=("minutes_per_month", "mean"),
            **{c: (c, "sum") for c in cols},
        )
        .reindex([b for b in labels if b in set(rows["dose_band"])])
        .reset_index()
    )
    rc = relative_change(*(bands[c].to_numpy() for c in cols))
    bands = pd.concat([bands, rc], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rr = np.log(
            (rows["treated_after"] * rows["control_before"])
            / (rows["treated_before"] * rows["control_after"])
        ).to_numpy(float)
    ok = np.isfinite(log_rr)
    trend: dict[str, float | int] = {"areas": int(ok.sum())}
    if ok.sum() >= 3 and np.ptp(rows["minutes_per_month"].to_numpy()[ok]) > 0:
        res = spearmanr(rows["minutes_per_month"].to_numpy()[ok], log_rr[ok])
        trend.update(spearman_rho=float(res.statistic), spearman_p=float(res.pvalue))
    else:
        trend.update(spearman_rho=float("nan"), spearman_p=float("nan"))
    return bands, trend
