"""``impact_table``: the statistics for each treated area and for all of them together."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.schema import InputError

from ._wdd import relative_change, too_small, wdd, wdq

COUNT_COLUMNS = [
    "treated_before",
    "treated_after",
    "control_before",
    "control_after",
    "buffer_before",
    "buffer_after",
    "control_buffer_before",
    "control_buffer_after",
]
#: Columns of :func:`impact_table` (and ``impact.csv``), in order.
COLUMNS = [
    "area",
    "control",
    *COUNT_COLUMNS,
    "months_before",
    "months_after",
    "after_scale",
    "wdd_local",
    "wdd_displacement",
    "wdd",
    "wdd_per_month",
    "wdd_se",
    "wdd_z",
    "wdd_p",
    "success_measure",
    "buffer_measure",
    "wdq",
    "relative_change",
    "relative_change_low",
    "relative_change_high",
    "interval_method",
    "too_small",
    "warning",
]


def impact_table(
    counts: pd.DataFrame,
    *,
    months_before: int,
    months_after: int,
    confidence: float = 0.95,
    weighted: bool = False,
) -> pd.DataFrame:
    """Before/after statistics per treated area, plus a row ``area = "all"`` of the sums.

    Parameters
    ----------
    counts
        One row per treated area: ``area``, optional ``control`` (its control's name) and
        the :data:`COUNT_COLUMNS` (the buffer columns may be absent: 0).
    months_before, months_after
        Lengths of the two periods in months. With unequal lengths the WDD is computed on
        the after counts scaled by ``after_scale = months_before / months_after``.
    confidence
        Level of the relative-change interval.
    weighted
        The counts are sums of harm weights; ``counts`` then also has, for each count
        column, ``<column>_sq``: the sum of the squared weights, its variance (see
        :mod:`hotspots.impact._wdd`).

    Returns
    -------
    DataFrame
        :data:`COLUMNS`, then any other columns of ``counts`` (blank in the ``all``
        row); areas sorted by name, ``all`` last. ``too_small`` flags rows whose before
        counts could not show a halving (:func:`hotspots.impact.too_small`), with the
        reason in ``warning``.

    Examples
    --------
    >>> counts = pd.DataFrame({"area": ["A", "B"], "treated_before": [60, 40],
    ...     "treated_after": [30, 30], "control_before": [50, 50], "control_after": [50, 45]})
    >>> t = impact_table(counts, months_before=6, months_after=6)
    >>> t["area"].tolist(), t["wdd"].tolist(), t["wdd_se"].round(2).tolist()
    (['A', 'B', 'all'], [-30.0, -5.0, -35.0], [13.78, 12.85, 18.84])
    """
    for name, value in (("months_before", months_before), ("months_after", months_after)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"{name} must be a whole number of months ≥ 1, got {value!r}")
    if "area" not in counts:
        raise InputError("counts: needs an 'area' column")
    table = counts.copy()
    columns = COUNT_COLUMNS + ([f"{c}_sq" for c in COUNT_COLUMNS] if weighted else [])
    for col in columns:
        if col not in table:
            if "buffer" not in col:
                raise InputError(f"counts: needs a {col!r} column")
            table[col] = 0
        values = pd.to_numeric(table[col], errors="coerce")
        if values.isna().any() or (values < 0).any():
            raise InputError(f"counts: {col!r} must be counts ≥ 0")
        table[col] = values.astype(float if weighted else np.int64)
    table["area"] = table["area"].astype(str)
    if (table["area"] == "all").any():
        raise InputError("counts: an area is named 'all', the name of the total row; rename it")
    if "control" not in table:
        table["control"] = ""
    table = table.sort_values("area").reset_index(drop=True)
    total = {c: table[c].sum() for c in columns}
    total.update(area="all", control="all")
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    scale = months_before / months_after
    t0, t1, c0, c1, d0, d1, cd0, cd1 = (table[c].to_numpy(float) for c in COUNT_COLUMNS)
    table["months_before"] = months_before
    table["months_after"] = months_after
    table["after_scale"] = scale
    var = [table[f"{c}_sq"].to_numpy(float) for c in COUNT_COLUMNS] if weighted else None
    stats = [
        wdd(t0, t1, c0, c1, d0, d1, cd0, cd1, after_scale=scale, variances=var),
        wdq(t0, t1, c0, c1, d0, d1),
        relative_change(
            t0, t1, c0, c1, confidence=confidence, variances=None if var is None else var[:4]
        ),
    ]
    for frame in stats:
        for col in frame:
            table[col] = frame[col].to_numpy()
    table["wdd_per_month"] = table["wdd"] / months_before
    if var is not None:  # weighted: effective counts (Σw)² / Σw²
        with np.errstate(invalid="ignore", divide="ignore"):
            t0, c0 = (np.nan_to_num(x**2 / v) for x, v in ((t0, var[0]), (c0, var[2])))
    small = too_small(t0, c0, after_scale=scale)
    table["too_small"] = small
    table["warning"] = np.where(
        small,
        "too few incidents to say anything: a halving would not be detected on these "
        "before-period counts",
        "",
    )
    rest = [c for c in counts.columns if c not in COLUMNS and not c.endswith("_sq")]
    return table[COLUMNS + rest]
