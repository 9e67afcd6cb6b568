"""Did it work? Before/after evaluation of a place-based intervention (patrols, CCTV …).

``impact(incidents, treated=..., controls="auto", before=..., after=...)`` counts the
incidents of each treated area, its control and the buffers around both in a before and an
after period, and returns per-area and overall WDD (Wheeler & Ratcliffe 2018), WDQ (Bowers &
Johnson 2003) and the relative change treated against control with its interval. Methods:
:mod:`hotspots.impact._wdd` (statistics), :mod:`hotspots.impact._zones` (buffers),
:mod:`hotspots.impact._controls` (automatic controls); ``docs/impact.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.schema import InputError

from ._controls import (
    CANDIDATE_RULE,
    MATCH_RULE,
    candidate_cells,
    cell_monthly_counts,
    features,
    match_controls,
    pair_given_controls,
)
from ._dose import dose_response, patrol_dose
from ._table import COLUMNS, COUNT_COLUMNS, impact_table
from ._wdd import DETECTABLE_RATIO, EXACT_BELOW, relative_change, too_small, wdd, wdq
from ._zones import DEFAULT_BUFFER_M, ROLES, assign_zones, check_areas, zones

__all__ = [
    "COLUMNS",
    "COUNT_COLUMNS",
    "DEFAULT_BUFFER_M",
    "DETECTABLE_RATIO",
    "EXACT_BELOW",
    "Impact",
    "assign_zones",
    "dose_response",
    "patrol_dose",
    "features",
    "impact",
    "impact_table",
    "match_controls",
    "month_window",
    "relative_change",
    "too_small",
    "wdd",
    "wdq",
]


@dataclass(frozen=True, kw_only=True)
class Impact:
    """The result of :func:`impact`.

    Attributes
    ----------
    table
        :data:`COLUMNS` plus ``match_distance``: one row per treated area, then ``all``.
    zones
        Treated, control, buffer and control-buffer polygons (EPSG:27700): ``area``,
        ``role``, ``name``, ``before``, ``after`` (counts), ``geometry``.
    monthly
        Counts per zone role and month (``month``, ``period``, ``role``, ``incidents``),
        summed over the areas, for the chart.
    before, after
        The inclusive month windows.
    months_before, months_after
        Months with data in each window (a window's length).
    buffer_m
        Width of the displacement/diffusion rings (0: none).
    controls_rule
        How the controls were chosen (automatic matching, or as given and paired).
    candidates
        Candidate cells of the automatic matching (0 with given controls).
    seed
        Seed of the matching order and tie-breaks.
    weighted
        Whether counts are sums of harm weights.
    warnings
        Months without data in a window; areas too small to detect a fall.

    :meth:`params` gives them with the rules behind the automatic choices (impact.json).
    """

    table: pd.DataFrame
    zones: gpd.GeoDataFrame = field(repr=False)
    monthly: pd.DataFrame = field(repr=False)
    before: tuple[pd.Period, pd.Period]
    after: tuple[pd.Period, pd.Period]
    months_before: int
    months_after: int
    buffer_m: float
    controls_rule: str
    candidates: int
    seed: int
    weighted: bool
    warnings: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters: periods and their lengths, buffer width, how controls were
        chosen, seed, the interval and too-small rules, warnings."""
        lb, la = self.months_before, self.months_after
        return {
            "before": [str(p) for p in self.before],
            "after": [str(p) for p in self.after],
            "months_before": lb,
            "months_after": la,
            "after_scale": lb / la,
            "unequal_periods": (
                f"after counts scaled by {lb}/{la} in the WDD (rates per before-period "
                "length); wdd_per_month is per month; WDQ and relative change use counts of "
                "the same period and need no scaling"
                if lb != la
                else "equal lengths: no scaling"
            ),
            "buffer_m": float(self.buffer_m),
            "buffer_rule": "ring of buffer_m around each treated and control area, outside "
            "every treated and control area; an incident in overlapping rings counts for the "
            "nearest area" + (" (default width)" if self.buffer_m == DEFAULT_BUFFER_M else ""),
            "controls": self.controls_rule,
            "candidates": self.candidates,
            "seed": self.seed,
            "interval": f"95% log rate ratio (Poisson) when all four counts ≥ {EXACT_BELOW}, "
            "else exact conditional (non-central hypergeometric)",
            "too_small_rule": f"before counts could not detect a fall to {DETECTABLE_RATIO:g}× "
            "at the 5% level",
            "weighted": (
                "harm weights: counts are sums of weights, variances sums of squared weights; "
                "log-rate-ratio intervals; too_small on effective counts (Σw)²/Σw²"
                if self.weighted
                else "counts"
            ),
            "warnings": list(self.warnings),
        }


def month_window(value: object, what: str) -> tuple[pd.Period, pd.Period]:
    """``"YYYY-MM:YYYY-MM"`` or a (from, to) pair as two inclusive monthly periods.

    Examples
    --------
    >>> month_window("2025-01:2025-06", "before")
    (Period('2025-01', 'M'), Period('2025-06', 'M'))
    """
    if isinstance(value, str):
        lo, sep, hi = value.partition(":")
        parts: tuple[object, ...] = (lo, hi if sep else lo)
    else:
        parts = tuple(value) if isinstance(value, Iterable) else ()
    if len(parts) != 2:
        raise InputError(f"{what} {value!r}: expected YYYY-MM:YYYY-MM, e.g. 2025-01:2025-06")
    out = []
    for p in parts:
        try:
            out.append(pd.Period(str(p).strip(), freq="M"))
        except (ValueError, TypeError):
            raise InputError(
                f"{what} {value!r}: {p!r} is not a month like 2025-06 (expected YYYY-MM:YYYY-MM)"
            ) from None
    if out[0] > out[1]:
        raise InputError(f"{what} {value!r}: {out[0]} is after {out[1]}")
    return out[0], out[1]


def impact(
    incidents: pd.DataFrame,
    *,
    treated: gpd.GeoDataFrame,
    before: object,
    after: object,
    controls: gpd.GeoDataFrame | str = "auto",
    buffer_m: float = DEFAULT_BUFFER_M,
    study_area: shapely.Geometry | None = None,
    seed: int = 0,
    months_with_data: Iterable[pd.Timestamp] | None = None,
    weights: np.ndarray | None = None,
) -> Impact:
    """Evaluate an intervention in the ``treated`` areas between two periods.

    Parameters
    ----------
    incidents
        Canonical incidents: ``x``, ``y`` (EPSG:27700 metres) and ``when``.
    treated
        The treated places: ``name`` and polygons in EPSG:27700.
    before, after
        Inclusive month windows (``"YYYY-MM:YYYY-MM"`` or pairs); ``after`` starts after
        ``before`` ends (a gap between them, e.g. a roll-out, is left out).
    controls
        Control places (``name``, polygons), or ``"auto"``: chosen among grid cells of the
        study area by :data:`~hotspots.impact._controls.MATCH_RULE`.
    buffer_m
        Width of the displacement/diffusion ring around each treated and control area
        (default :data:`DEFAULT_BUFFER_M`); 0 measures no buffers.
    study_area
        Where automatic controls may be; None: the convex hull of the incidents.
    seed
        Seed of the matching order and tie-breaks.
    months_with_data
        Months the data covers (default: months with any incident); a window's length is
        its number of months with data, so a gap in the source is not read as a fall.
    weights
        Harm weight of each incident (:func:`hotspots.harm.harm_weights`): every count
        becomes a sum of weights, with the sum of squared weights as its variance, and the
        controls are matched on weighted before-period levels (:mod:`._wdd`).
    """
    b0, b1 = month_window(before, "before")
    a0, a1 = month_window(after, "after")
    if a0 <= b1:
        raise InputError(
            f"after ({a0}..{a1}) must start after before ({b0}..{b1}) ends: the windows overlap"
        )
    if not (isinstance(buffer_m, int | float) and np.isfinite(buffer_m) and buffer_m >= 0):
        raise InputError(f"buffer_m must be a number of metres ≥ 0, got {buffer_m!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputError(f"seed must be a whole number, got {seed!r}")
    for col in ("x", "y", "when"):
        if col not in incidents:
            raise InputError(f"incidents: needs a {col!r} column (canonical incidents)")
    treated = check_areas(treated, "treated")
    if (treated["name"] == "all").any():
        raise InputError("treated: an area is named 'all', the name of the total row; rename it")
    month = incidents["when"].dt.to_period("M")
    have = pd.PeriodIndex(
        pd.Series(list(months_with_data) if months_with_data is not None else incidents["when"])
        .pipe(pd.to_datetime)
        .dt.to_period("M")
        .unique()
    )
    windows = {}
    warnings = []
    for name, lo, hi in (("before", b0, b1), ("after", a0, a1)):
        span = pd.period_range(lo, hi, freq="M")
        with_data = span[span.isin(have)]
        if len(with_data) == 0:
            raise InputError(f"{name} window {lo}..{hi} has no months with data")
        if len(with_data) < len(span):
            missing = ", ".join(str(m) for m in span[~span.isin(have)])
            warnings.append(
                f"{name} window: no data for {missing}; its length is {len(with_data)} month(s)"
            )
        windows[name] = with_data
    in_before = month.isin(windows["before"]).to_numpy()
    in_after = month.isin(windows["after"]).to_numpy()
    x = incidents["x"].to_numpy(float)
    y = incidents["y"].to_numpy(float)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != x.shape or not np.isfinite(weights).all() or (weights < 0).any():
            raise InputError("weights: one finite weight ≥ 0 per incident")
    lb, la = len(windows["before"]), len(windows["after"])
    before_months = windows["before"]
    month_idx = np.full(len(incidents), -1)
    month_idx[in_before] = before_months.get_indexer(month[in_before])
    treated_monthly = _monthly(x, y, month_idx, lb, treated, weights)
    candidates = 0
    if isinstance(controls, str):
        if controls != "auto":
            raise InputError(f"controls must be a polygon layer or 'auto', got {controls!r}")
        if study_area is None:
            study_area = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
        cells, grid = candidate_cells(treated, study_area=study_area, buffer_m=buffer_m)
        candidates = len(cells)
        cand_monthly = cell_monthly_counts(
            cells,
            grid,
            x[in_before],
            y[in_before],
            month_idx[in_before],
            lb,
            None if weights is None else weights[in_before],
        )
        idx, dist = match_controls(treated_monthly, cand_monthly, seed=seed)
        ctrl = check_areas(cells.iloc[idx].assign(area=treated["name"].to_numpy()), "controls")
        pairs = pd.Series(cells["name"].to_numpy()[idx], index=treated["name"].to_numpy())
        rule = f"auto: {CANDIDATE_RULE} ({grid.cell_size_m:.0f} m); {MATCH_RULE}"
    else:
        ctrl = check_areas(controls, "controls")
        cg, tg = np.asarray(ctrl.geometry.values), np.asarray(treated.geometry.values)
        ci, ti = shapely.STRtree(tg).query(cg, predicate="intersects")
        shared = shapely.area(shapely.intersection(cg[ci], tg[ti])) > 0
        if shared.any():
            i, j = ci[shared][0], ti[shared][0]
            raise InputError(
                f"controls: control {ctrl['name'].iloc[i]!r} overlaps treated area "
                f"{treated['name'].iloc[j]!r}; controls must be untreated places"
            )
        ctrl_monthly = _monthly(x, y, month_idx, lb, ctrl, weights)
        pairs, dist, rule = pair_given_controls(
            treated, ctrl, treated_monthly, ctrl_monthly, seed=seed
        )
        ctrl = ctrl[ctrl["name"].isin(set(pairs))].reset_index(drop=True)
    counts, zone_counts = _count(x, y, in_before, in_after, treated, ctrl, pairs, buffer_m, weights)
    by_name = pd.Series(dist, index=treated["name"].to_numpy())
    counts["match_distance"] = by_name.reindex(counts["area"]).to_numpy()
    table = impact_table(counts, months_before=lb, months_after=la, weighted=weights is not None)
    table = table.drop(columns=[c for c in table.columns if c.endswith("_sq")])
    for row in table.loc[table["too_small"]].itertuples():
        warnings.append(
            f"{row.area}: {row.warning} ({row.treated_before} treated, "
            f"{row.control_before} control)"
        )
    zone_layer = zones(treated, ctrl, pairs, buffer_m=buffer_m)
    if buffer_m <= 0:
        zone_layer = zone_layer[~zone_layer["role"].str.contains("buffer")]
    zone_layer = zone_layer.merge(zone_counts, on=["role", "name"], how="left")
    zone_layer[["before", "after"]] = (
        zone_layer[["before", "after"]].fillna(0).astype(np.int64 if weights is None else float)
    )
    zone_layer = gpd.GeoDataFrame(zone_layer, geometry="geometry", crs=treated.crs)
    monthly = _monthly_by_role(
        month, x, y, treated, ctrl, buffer_m, windows["before"], windows["after"], weights
    )
    return Impact(
        table=table,
        zones=zone_layer,
        monthly=monthly,
        before=(b0, b1),
        after=(a0, a1),
        months_before=lb,
        months_after=la,
        buffer_m=float(buffer_m),
        controls_rule=rule,
        candidates=candidates,
        seed=int(seed),
        weighted=weights is not None,
        warnings=tuple(warnings),
    )


def _monthly(x, y, month_idx, months, areas, weights=None) -> np.ndarray:
    """Before-period counts (or weight sums) in each area, per month: ``(areas, months)``."""
    none = areas.iloc[:0]
    role, owner = assign_zones(x, y, areas, none, buffer_m=0.0)
    sel = (role == 0) & (month_idx >= 0)
    flat = owner[sel] * months + month_idx[sel]
    w = None if weights is None else weights[sel]
    counts = np.bincount(flat, weights=w, minlength=len(areas) * months)
    return counts.reshape(len(areas), months).astype(float)


def _count(x, y, in_before, in_after, treated, ctrl, pairs, buffer_m, weights=None):
    sel = in_before | in_after
    role, owner = assign_zones(x[sel], y[sel], treated, ctrl, buffer_m=buffer_m)
    after = in_after[sel]
    w = np.ones(int(sel.sum())) if weights is None else weights[sel]
    names = {0: treated["name"].to_numpy(), 1: ctrl["name"].to_numpy()}
    rows = []
    for code, r in enumerate(ROLES):
        hit = role == code
        own = names[code % 2][owner[hit]]
        for period, flag in (("before", ~after[hit]), ("after", after[hit])):
            rows.append(
                pd.DataFrame({"role": r, "name": own[flag], "period": period, "w": w[hit][flag]})
            )
    long = pd.concat(rows, ignore_index=True).assign(w2=lambda f: f["w"] ** 2)
    sums = long.groupby(["role", "name", "period"])[["w", "w2"]].sum()
    zc = sums["w"].unstack("period", fill_value=0)
    zc = zc.reindex(columns=["before", "after"], fill_value=0).reset_index()
    sq = sums["w2"].unstack("period", fill_value=0).reindex(columns=["before", "after"])
    sq = sq.fillna(0).reset_index()
    lookup = {(r, n): (b, a) for r, n, b, a in zc[["role", "name", "before", "after"]].values}
    lookup_sq = {(r, n): (b, a) for r, n, b, a in sq[["role", "name", "before", "after"]].values}
    out = pd.DataFrame({"area": treated["name"].to_numpy()})
    out["control"] = pairs.reindex(out["area"]).to_numpy()
    for r, key in (
        ("treated", "area"),
        ("control", "control"),
        ("buffer", "area"),
        ("control_buffer", "control"),
    ):
        for table, suffix in ((lookup, ""), (lookup_sq, "_sq")):
            got = [table.get((r, n), (0, 0)) for n in out[key]]
            out[f"{r}_before{suffix}"] = [g[0] for g in got]
            out[f"{r}_after{suffix}"] = [g[1] for g in got]
    if weights is None:
        out = out.drop(columns=[c for c in out.columns if c.endswith("_sq")])
    return out, zc


def _monthly_by_role(
    month, x, y, treated, ctrl, buffer_m, before, after, weights=None
) -> pd.DataFrame:
    months = before.append(after)
    sel = month.isin(months).to_numpy()
    role, _ = assign_zones(x[sel], y[sel], treated, ctrl, buffer_m=buffer_m)
    w = np.ones(int(sel.sum())) if weights is None else weights[sel]
    frame = pd.DataFrame({"month": month[sel].to_numpy(), "role": role, "w": w})
    frame = frame[frame["role"] >= 0]
    counts = frame.groupby(["month", "role"])["w"].sum()
    if weights is None:
        counts = counts.astype(np.int64)
    full = pd.MultiIndex.from_product([months, range(len(ROLES))], names=["month", "role"])
    out = counts.reindex(full, fill_value=0).rename("incidents").reset_index()
    out["role"] = out["role"].map(dict(enumerate(ROLES)))
    out["period"] = np.where(out["month"].isin(before), "before", "after")
    out["month"] = out["month"].astype(str)
    return out[["month", "period", "role", "incidents"]]
