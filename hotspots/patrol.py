"""The patrol plan: how often, how long and when to visit each patrol hotspot.

:func:`patrol_plan` turns the ranked patrol hotspots into one row per hotspot with a
visit dose and a time to patrol; :func:`allocate_visits` shares a weekly budget of
patrol hours between them by score. Both are pure functions of tables (no I/O).

The default dose follows Koper (1995), "Just enough police presence: reducing crime and
disorderly behavior by optimizing patrol time in crime hot spots", *Justice Quarterly*
12(4), 649–672: the deterrent effect of a stop at a hot spot grows with its length up to
about 14–15 minutes, with diminishing returns after that, so visits of 10–15 minutes
(here 15) repeated at unpredictable times about every two hours during the peak period
(the "Koper curve" practice, e.g. the Sacramento hot spots experiment, Telep, Mitchell &
Weisburd 2014, *Justice Quarterly* 31(5)). See ``docs/patrol.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import check_scalar
from hotspots.schema import InputError
from hotspots.seasonal import (
    DOW_COLUMNS,
    HOUR_COLUMNS,
    MONTH_ABBREVIATIONS,
    MONTH_COLUMNS,
    SEASON_MONTHS,
)

#: The plan's fixed columns, in order.
PLAN_COLUMNS = [
    "rank",
    "hotspot_id",
    "label",
    "beat",
    "npa",
    "visits_per_week",
    "minutes_per_visit",
    "hours_per_week",
    "when",
    "expected_share",
    "cumulative_share",
    "incidents",
    "score",
    "peak_days",
    "peak_hours",
    "window_share",
    "peak_months",
    "when_basis",
    "note",
]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Said of data with months only (police.uk): no day or time can be given.
NO_TIMES = "; any day and time (months only in the data)"
#: A day, hour or month pattern counts as a peak when its test gives p below this.
PEAK_P = 0.05


@dataclass(frozen=True, kw_only=True)
class PatrolDose:
    """The visit dose of the plan (Koper 1995; see the module docstring).

    ``visits_per_week`` is ``days_per_week × peak_window_h / visit_interval_h`` (rounded
    down, at least 1): with the defaults, 7 days × a 4-hour peak window / a visit every 2
    hours = 14 visits a week of 15 minutes, 3.5 hours a week on each hotspot.
    """

    minutes_per_visit: float = 15.0
    visit_interval_h: float = 2.0
    peak_window_h: int = 4
    days_per_week: int = 7

    def __post_init__(self) -> None:
        _above_zero(self.minutes_per_visit, "[patrol] minutes_per_visit", at_most=24 * 60)
        _above_zero(self.visit_interval_h, "[patrol] visit_interval_h", at_most=24 * 7)
        check_scalar(self.peak_window_h, "[patrol] peak_window_h", int, min_val=1, max_val=24)
        check_scalar(self.days_per_week, "[patrol] days_per_week", int, min_val=1, max_val=7)

    @property
    def visits_per_week(self) -> int:
        """The default visits a week at each patrol hotspot.

        Examples
        --------
        >>> PatrolDose().visits_per_week, PatrolDose(peak_window_h=6).visits_per_week
        (14, 21)
        """
        return max(1, int(self.days_per_week * self.peak_window_h // self.visit_interval_h))

    @property
    def max_visits_per_week(self) -> int:
        """Most visits a week one hotspot is given: one every interval, round the clock."""
        return max(1, int(7 * 24 // self.visit_interval_h))

    def params(self) -> dict[str, Any]:
        """JSON-ready parameters of the dose, with the rule behind the visits a week.

        Examples
        --------
        >>> p = PatrolDose(peak_window_h=6).params()
        >>> p["visits_per_week"], p["visits_per_week_rule"]
        (21, 'days_per_week x peak_window_h / visit_interval_h, rounded down, at least 1')
        """
        return {
            "minutes_per_visit": float(self.minutes_per_visit),
            "visit_interval_h": float(self.visit_interval_h),
            "peak_window_h": int(self.peak_window_h),
            "days_per_week": int(self.days_per_week),
            "visits_per_week": self.visits_per_week,
            "visits_per_week_rule": "days_per_week x peak_window_h / visit_interval_h, "
            "rounded down, at least 1",
            "max_visits_per_week": self.max_visits_per_week,
            "max_visits_per_week_rule": "one visit every visit_interval_h, round the clock",
            "source": "Koper (1995): about 15-minute stops, about every two hours",
        }


def _above_zero(value: object, name: str, *, at_most: float) -> float:
    return float(
        check_scalar(value, name, float, min_val=0, max_val=at_most, include_boundaries="right")
    )


def allocate_visits(
    scores: np.ndarray | pd.Series,
    total_visits: int,
    *,
    min_visits: int = 1,
    max_visits: int | None = None,
) -> np.ndarray:
    """Share ``total_visits`` between hotspots (in rank order) in proportion to their score.

    The rule: every hotspot gets ``min_visits``; the rest are shared in proportion to
    score (negative or missing scores count as 0; all zero: equal shares) by the largest
    remainder method, ties to the better rank; no hotspot gets more than ``max_visits``
    (its surplus is shared among the others the same way). The total never exceeds
    ``total_visits``. When there are too few visits for ``min_visits`` each, the best-ranked
    hotspots get them and the rest get 0.

    Examples
    --------
    >>> allocate_visits([50, 30, 20], 13).tolist()
    [6, 4, 3]
    >>> allocate_visits([50, 30, 20], 2).tolist()
    [1, 1, 0]
    >>> allocate_visits([100, 1, 1], 12, max_visits=5).tolist()
    [5, 4, 3]
    """
    s = np.nan_to_num(np.asarray(scores, dtype=float), nan=0.0)
    s = np.clip(s, 0, None)
    n = len(s)
    total = int(total_visits)
    if total < 0:
        raise InputError(f"total_visits must be 0 or more, got {total_visits!r}")
    out = np.zeros(n, dtype=int)
    if n == 0 or total == 0:
        return out
    if total < n * min_visits:
        out[: total // min_visits] = min_visits
        return out
    cap = np.full(n, np.iinfo(np.int64).max if max_visits is None else int(max_visits))
    out[:] = np.minimum(min_visits, cap)
    left = total - int(out.sum())
    while left > 0:
        free = out < cap
        if not free.any():
            break
        w = np.where(free, s, 0.0)
        if w.sum() <= 0:
            w = free.astype(float)
        quota = left * w / w.sum()
        extra = np.floor(quota).astype(int)
        rest = left - int(extra.sum())
        order = np.lexsort((np.arange(n), -(quota - extra)))  # largest remainder, then rank
        extra[order[:rest]] += 1
        extra = np.minimum(extra, cap - out)
        if extra.sum() == 0:
            break
        out += extra
        left = total - int(out.sum())
    return out


def _values(row: pd.Series, cols: tuple[str, ...]) -> np.ndarray | None:
    if not all(c in row.index for c in cols):
        return None
    v = pd.to_numeric(row[list(cols)], errors="coerce").to_numpy(float)
    return None if not np.isfinite(v).all() or v.sum() <= 0 else v


def _p_value(value: object) -> float:
    """A p-value cell as a float (NaN when missing or not a number)."""
    return float(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0])


def _p_text(value: object) -> str:
    p = _p_value(value)
    if np.isnan(p):
        return ""
    return "p < 0.001" if p < 0.001 else f"p {p:.2g}"


def _significant(value: object) -> bool:
    return bool(_p_value(value) < PEAK_P)


def peak_window(hours: np.ndarray, width_h: int) -> tuple[int, float]:
    """Start hour of the busiest ``width_h``-hour window of the day (wrapping past
    midnight; ties to the earliest start) and the share of the day's incidents in it.

    Examples
    --------
    >>> h = np.zeros(24); h[[22, 23, 0, 1]] = 5; h[12] = 2
    >>> peak_window(h, 4)
    (22, 0.909)
    """
    h = np.asarray(hours, float)
    sums = np.array([h[(np.arange(width_h) + s) % 24].sum() for s in range(24)])
    start = int(np.argmax(sums))
    return start, round(float(sums[start] / h.sum()), 3)


def _when_timed(row: pd.Series, dose: PatrolDose) -> dict[str, Any] | None:
    """Peak days and hours from the day and hour profiles, when the row has them."""
    hours = _values(row, HOUR_COLUMNS)
    days = _values(row, DOW_COLUMNS)
    if hours is None and days is None:
        return None
    out: dict[str, Any] = {"peak_days": "", "peak_hours": "", "window_share": np.nan}
    parts, basis = [], []
    if days is not None:
        if _significant(row.get("day_p")):
            top = np.argsort(-days, kind="stable")[: max(1, min(dose.days_per_week, 3))]
            out["peak_days"] = ", ".join(_DAYS[i] for i in sorted(top))
        else:
            out["peak_days"] = "any day"
        parts.append(out["peak_days"])
        basis.append(f"days of {int(days.sum()):,} dated incidents ({_p_text(row.get('day_p'))})")
    if hours is not None:
        start, share = peak_window(hours, dose.peak_window_h)
        end = (start + dose.peak_window_h) % 24
        out["peak_hours"] = f"{start:02d}:00–{end:02d}:00"
        out["window_share"] = share
        weak = "" if _significant(row.get("hour_p")) else " (weak peak)"
        parts.append(out["peak_hours"] + weak)
        basis.append(
            f"hours of {int(hours.sum()):,} timed incidents ({_p_text(row.get('hour_p'))})"
        )
    else:
        parts.append("hours not in the data")
    out["when"] = "; ".join(parts)
    out["when_basis"] = "; ".join(basis)
    return out


def _when_monthly(row: pd.Series) -> dict[str, Any]:
    """Peak months or season from the month profile (police.uk: months only)."""
    months = None
    if all(c in row.index for c in MONTH_COLUMNS):
        months = pd.to_numeric(row[list(MONTH_COLUMNS)], errors="coerce").to_numpy(float)
        if not (np.isfinite(months) & (months > 0)).any():
            months = None
    out: dict[str, Any] = {
        "peak_days": "",
        "peak_hours": "",
        "window_share": np.nan,
        "peak_months": "",
    }
    if months is None:
        peak = pd.to_numeric(pd.Series([row.get("peak_month")]), errors="coerce").iloc[0]
        if pd.notna(peak) and 1 <= peak <= 12:
            out["peak_months"] = MONTH_ABBREVIATIONS[int(peak) - 1]
            out["when"] = f"busiest {out['peak_months']}{NO_TIMES}"
        else:
            out["when"] = f"no pattern known{NO_TIMES}"
        out["when_basis"] = "months only"
        return out
    p = row.get("seasonal_p")
    loaded = int(np.isfinite(months).sum())  # months of the year the data covers
    months = np.nan_to_num(months, nan=-1.0)
    if _significant(p):
        top = sorted(np.argsort(-months, kind="stable")[:3])
        out["peak_months"] = ", ".join(MONTH_ABBREVIATIONS[i] for i in top)
        out["when"] = f"peak months {out['peak_months']}"
        for season, ms in SEASON_MONTHS.items():
            if sum(i + 1 in ms for i in top) >= 2:  # two of the three in one season
                out["when"] += f" ({season})"
    elif loaded < 12:
        busiest = MONTH_ABBREVIATIONS[int(np.argmax(months))]
        out["peak_months"] = busiest
        out["when"] = f"busiest {busiest} of the {loaded} months of the year in the data"
    else:
        out["peak_months"] = "all year"
        busiest = MONTH_ABBREVIATIONS[int(np.argmax(months))]
        out["when"] = f"all year (no clear seasonal peak; busiest {busiest})"
    out["when"] += NO_TIMES
    out["when_basis"] = f"months only ({_p_text(p)})" if _p_text(p) else "months only"
    return out


def patrol_plan(
    hotspots: pd.DataFrame,
    *,
    dose: PatrolDose | None = None,
    patrol_hours: float | None = None,
    total_incidents: float | None = None,
) -> pd.DataFrame:
    """One row per patrol hotspot: visits a week, minutes a visit, when, expected share.

    Parameters
    ----------
    hotspots
        The patrol hotspots (e.g. the patrol list joined to the hotspot table) with
        ``rank``; optional ``hotspot_id``, ``label``, ``beat``, ``npa``, ``incidents``,
        ``score`` (the ranking score; else ``incidents``), ``incident_share`` or
        ``share`` (share of the force's incidents), day/hour profiles (``d1``…``d7``,
        ``day_p``, ``h00``…``h23``, ``hour_p``: data with dates and times), month
        profiles (``m01``…``m12``, ``seasonal_p``, ``peak_month``: police.uk) and
        ``artefact_note``.
    dose
        Minutes a visit and how often (default :class:`PatrolDose`: Koper 1995).
    patrol_hours
        A weekly budget of hours on the spots (travel not included): the visits it pays
        for, ``floor(60 × patrol_hours / minutes_per_visit)``, are shared by score with
        :func:`allocate_visits` (at least one each while they last, at most one every
        ``visit_interval_h`` round the clock). None: every hotspot gets the default dose.
    total_incidents
        The force's incidents, for ``expected_share`` when the table has no share column.

    Returns
    -------
    DataFrame with :data:`PLAN_COLUMNS`, sorted by rank. ``expected_share`` is the share of
    the force's incidents (over the whole period) at the hotspots that are visited: the
    hotspot's share when it gets a visit, 0 when the budget leaves it out;
    ``cumulative_share`` adds them up in rank order. ``window_share`` is the share of a
    hotspot's timed incidents that fall in its ``peak_hours`` (data with times only).

    Examples
    --------
    >>> hot = pd.DataFrame({"rank": [1, 2], "hotspot_id": ["a", "b"], "incidents": [60, 40],
    ...                     "score": [60, 40], "peak_month": [7, 1]})
    >>> plan = patrol_plan(hot, total_incidents=1000)
    >>> plan[["visits_per_week", "minutes_per_visit", "expected_share"]].to_dict("list")
    {'visits_per_week': [14, 14], 'minutes_per_visit': [15.0, 15.0], 'expected_share': [0.06, 0.04]}
    >>> print(*plan["when"], sep="\\n")
    busiest Jul; any day and time (months only in the data)
    busiest Jan; any day and time (months only in the data)
    >>> patrol_plan(hot, patrol_hours=1.0, total_incidents=1000)["visits_per_week"].tolist()
    [2, 2]
    """
    dose = dose or PatrolDose()
    if not isinstance(hotspots, pd.DataFrame):
        raise InputError(f"hotspots must be a DataFrame, got {type(hotspots).__name__}")
    if "rank" not in hotspots.columns:
        raise InputError(f"hotspots lacks column 'rank'; it has {list(hotspots.columns)}")
    hot = pd.DataFrame(hotspots).sort_values("rank", kind="stable").reset_index(drop=True)
    n = len(hot)
    incidents = pd.to_numeric(hot.get("incidents", pd.Series(np.nan, hot.index)), errors="coerce")
    score_col = "score" if "score" in hot.columns else "incidents"
    scores = pd.to_numeric(hot.get(score_col, pd.Series(np.nan, hot.index)), errors="coerce")
    if patrol_hours is None:
        visits = np.full(n, dose.visits_per_week, dtype=int)
    else:
        hours = _above_zero(patrol_hours, "patrol_hours (--patrol-hours)", at_most=24 * 7 * 10_000)
        total = int(np.floor(60 * hours / dose.minutes_per_visit + 1e-9))
        visits = allocate_visits(
            scores.fillna(0).to_numpy(), total, max_visits=dose.max_visits_per_week
        )
    share = None
    for col in ("incident_share", "share"):
        if col in hot.columns:
            share = pd.to_numeric(hot[col], errors="coerce")
            break
    if share is None:
        if total_incidents is None or not total_incidents > 0:
            share = pd.Series(np.nan, hot.index)
        else:
            share = incidents / float(total_incidents)
    if "incidents" in hot.columns:  # a count blanked by disclosure control blanks its share
        share = share.where(incidents.notna())
    expected = np.where(visits > 0, share.to_numpy(float), 0.0)
    rows = []
    for i, (_, r) in enumerate(hot.iterrows()):
        when = _when_timed(r, dose) or _when_monthly(r)
        note = r.get("artefact_note") if "artefact_note" in hot.columns else ""
        if visits[i] == 0:
            note = "; ".join(
                t for t in (str(note or ""), "not visited: over the hours budget") if t
            )
        rows.append(
            {
                "rank": int(r["rank"]),
                "hotspot_id": r.get("hotspot_id", ""),
                "label": r.get("label", ""),
                "beat": r.get("beat", ""),
                "npa": r.get("npa", ""),
                "visits_per_week": int(visits[i]),
                "minutes_per_visit": float(dose.minutes_per_visit),
                "hours_per_week": round(visits[i] * dose.minutes_per_visit / 60, 2),
                "when": when["when"],
                "expected_share": expected[i],
                "incidents": incidents.iloc[i],
                "score": scores.iloc[i],
                "peak_days": when.get("peak_days", ""),
                "peak_hours": when.get("peak_hours", ""),
                "window_share": when.get("window_share", np.nan),
                "peak_months": when.get("peak_months", ""),
                "when_basis": when.get("when_basis", ""),
                "note": ""
                if note is None or (isinstance(note, float) and np.isnan(note))
                else str(note),
            }
        )
    plan = pd.DataFrame(rows, columns=[c for c in PLAN_COLUMNS if c != "cumulative_share"])
    exp = pd.to_numeric(plan["expected_share"], errors="coerce")
    plan["expected_share"] = exp.round(4)
    plan["cumulative_share"] = exp.cumsum().round(4)
    return plan[PLAN_COLUMNS]


def plan_summary(plan: pd.DataFrame, dose: PatrolDose, patrol_hours: float | None) -> dict:
    """Totals of a plan for run.json, the map's panel and the briefings.

    Examples
    --------
    >>> plan = patrol_plan(pd.DataFrame({"rank": [1], "incidents": [5]}), total_incidents=50)
    >>> plan_summary(plan, PatrolDose(), None)["hours_per_week"]
    3.5
    """
    exp = pd.to_numeric(plan["expected_share"], errors="coerce")
    timed = bool(
        (plan["peak_hours"].fillna("") != "").any() or (plan["peak_days"].fillna("") != "").any()
    )
    when = (
        "when: peak days and hours"
        if timed
        else "when: peak months (the data has months only, no days or times)"
    )
    return {
        "hotspots": int(len(plan)),
        "visited": int((plan["visits_per_week"] > 0).sum()),
        "visits_per_week": int(plan["visits_per_week"].sum()),
        "hours_per_week": round(float(plan["hours_per_week"].sum()), 2),
        "minutes_per_visit": float(dose.minutes_per_visit),
        "default_visits_per_week": dose.visits_per_week,
        "budget_hours": None if patrol_hours is None else float(patrol_hours),
        "expected_share": None if exp.isna().all() else round(float(exp.sum()), 4),
        "rule": (
            f"{dose.minutes_per_visit:g}-minute visits about every {dose.visit_interval_h:g} h in "
            f"a {dose.peak_window_h}-hour peak window, {dose.days_per_week} days a week "
            "(Koper 1995)"
            + (
                ""
                if patrol_hours is None
                else f"; {patrol_hours:g} h a week shared by score (at least 1 visit each)"
            )
            + f"; {when}"
        ),
    }
