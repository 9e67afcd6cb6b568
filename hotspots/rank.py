"""Rank hotspots, cut a patrol list to an area budget, and find repeat locations.

Ranking scores (``score=``; higher ranks first)
-----------------------------------------------
``"incidents"`` (the default of this function)
    The number of incidents in the hotspot: the plainest measure, and the one analysts and
    partners can check by hand. Large hotspots rank high, so look at ``density_km2`` too.
``"concentration"`` (the default of a run, ``[hotspots] rank_by``)
    Prefers concentrated, persistent places over sheer size: the weighted mean of the
    percentile ranks (as for a dict of weights, below) of density (incidents per km²) 0.5,
    persistence (share of months with an incident, column ``persistence``) 0.25 and
    incidents 0.25; with a harm column, density 0.4, harm 0.2, persistence 0.2, incidents
    0.2 (:data:`CONCENTRATION_WEIGHTS`, :data:`CONCENTRATION_WEIGHTS_HARM`). Without a
    persistence column or argument its weight goes to density.
``"density"``
    Incidents per km² of hotspot area (``density_km2``): favours small, intense places.
``"gistar"``
    A Gi* z-score per hotspot supplied as ``gistar_z`` (for instance the largest cell z
    inside it).
``"harm"``
    A harm total per hotspot in the column ``harm_column`` (default ``"harm"``), e.g. summed
    Cambridge Crime Harm Index days.
``"persistence"``
    A persistence value per hotspot supplied as ``persistence`` (e.g. the share of months in
    which it was a hotspot).
a callable
    ``f(table) -> scores``, one number per row.
a dict of weights, e.g. ``{"incidents": 0.5, "persistence": 0.5}``
    Each named component is turned into its percentile rank among the hotspots (average
    rank / number of hotspots, so 0-1 and free of units) and the score is the weighted mean
    of those percentiles.

``exclude=`` (a boolean per row, or the name of a column such as ``"artefact"``, whose
non-empty values exclude) ranks those hotspots after all the others, whatever their score:
they stay in the table, flagged, but never head a patrol list.

Ranks are 1, 2, ... with no shared ranks: ties in score are broken by more incidents first,
then by the lower ``hotspot_id``. Each ranked row carries ``score_definition``, the
plain-language meaning of its score.

Repeat locations
----------------
A repeat location is one place (the same snapped point: x/y rounded to 1 m by default)
with at least ``min_incidents`` incidents in some window of ``window_months`` consecutive
months -- the anti-social behaviour case review threshold is three in six months. A window
runs from an incident's ``when`` to the same day ``window_months`` later (exclusive), so for
month-precision police.uk data it is exactly ``window_months`` calendar months, and for dated
incidents it is a rolling window (the busiest window always starts at an incident).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.clusters import HotspotSet
from hotspots.grid import points_xy
from hotspots.io import mode_per_group
from hotspots.schema import InputError

#: Area columns that :func:`repeat_locations` carries when ``area_columns`` is None.
COMMON_AREA_COLUMNS = ("beat", "npa", "lsoa", "msoa", "ward", "district")
_COMPONENTS = ("incidents", "density", "gistar", "harm", "persistence")
#: what a run can rank hotspots by ([hotspots] rank_by)
RANK_SCORES: tuple[str, ...] = (*_COMPONENTS, "concentration")
#: Weights of the ``"concentration"`` score, and with a harm column.
CONCENTRATION_WEIGHTS = {"density": 0.5, "persistence": 0.25, "incidents": 0.25}
CONCENTRATION_WEIGHTS_HARM = {"density": 0.4, "harm": 0.2, "persistence": 0.2, "incidents": 0.2}
_DEFINITIONS = {
    "incidents": "number of incidents in the hotspot",
    "density": "incidents per km2 of hotspot area",
    "gistar": "Gi* z-score of the hotspot (supplied)",
    "harm": "total harm in column {harm}",
    "persistence": "persistence of the hotspot (supplied)",
}
ScoreSpec = str | Callable[[pd.DataFrame], Any] | Mapping[str, float]


def rank_hotspots(
    hotspots: HotspotSet | gpd.GeoDataFrame,
    *,
    score: ScoreSpec = "incidents",
    gistar_z: Mapping[int, float] | pd.Series | np.ndarray | None = None,
    persistence: Mapping[int, float] | pd.Series | np.ndarray | None = None,
    harm_column: str | None = None,
    exclude: str | Sequence[bool] | np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Score and rank hotspots (1 = top); returns a copy sorted by rank.

    Parameters
    ----------
    hotspots
        A :class:`~hotspots.clusters.HotspotSet` or its ``polygons`` table (needs
        ``hotspot_id`` and ``incidents``).
    score
        ``"incidents"`` (default), ``"density"``, ``"gistar"``, ``"harm"``,
        ``"persistence"``, a callable or a dict of weights (module notes).
    gistar_z, persistence
        One value per hotspot: a mapping or Series keyed by ``hotspot_id``, or an array in
        row order.
    harm_column
        Column holding each hotspot's harm (default ``"harm"``).
    exclude
        Hotspots ranked after all others (module notes): a boolean per row or a column
        name (non-empty, non-false values exclude). The result has ``excluded``.

    Examples
    --------
    >>> t = pd.DataFrame({"hotspot_id": [1, 2, 3], "incidents": [10, 30, 30],
    ...                   "density_km2": [900.0, 100.0, 300.0]})
    >>> rank_hotspots(t)[["hotspot_id", "rank"]].to_numpy().tolist()
    [[2, 1], [3, 2], [1, 3]]
    >>> r = rank_hotspots(t, score={"incidents": 1, "density": 1})
    >>> r[["hotspot_id", "score"]].round(3).to_numpy().tolist()
    [[3.0, 0.75], [1.0, 0.667], [2.0, 0.583]]
    """
    table = hotspots.polygons if isinstance(hotspots, HotspotSet) else hotspots
    if not isinstance(table, pd.DataFrame):
        raise InputError(f"hotspots must be a HotspotSet or a table, got {type(table).__name__}")
    missing = [c for c in ("hotspot_id", "incidents") if c not in table.columns]
    if missing:
        raise InputError(
            f"hotspots table has no {missing} column(s); columns are {list(table.columns)}"
        )
    table = table.reset_index(drop=True)
    if persistence is None and "persistence" in table.columns:
        persistence = table["persistence"].fillna(0).to_numpy(float)
    supplied = {"gistar": gistar_z, "persistence": persistence}
    harm = harm_column or "harm"
    if score == "concentration":
        weights = dict(
            CONCENTRATION_WEIGHTS_HARM if harm in table.columns else CONCENTRATION_WEIGHTS
        )
        if persistence is None:
            weights["density"] += weights.pop("persistence")
        values, definition = _weighted(table, weights, supplied, harm)
        definition = "concentration: " + definition
    elif isinstance(score, Mapping):
        values, definition = _weighted(table, score, supplied, harm)
    elif callable(score):
        values = _numbers(np.asarray(score(table), dtype=float), table, "score()")
        definition = f"custom score {getattr(score, '__name__', repr(score))}"
    elif score in _COMPONENTS:
        values = _component(table, score, supplied, harm)
        definition = _DEFINITIONS[score].format(harm=repr(harm))
    else:
        raise InputError(
            f"score must be one of {', '.join(map(repr, RANK_SCORES))}, a "
            f"callable or a dict of weights, got {score!r}"
        )
    excluded = _excluded(table, exclude)
    out = table.assign(score=values)
    if exclude is not None:
        out["excluded"] = excluded
    order = np.lexsort(
        (out["hotspot_id"].to_numpy(), -out["incidents"].to_numpy(float), -values, excluded)
    )
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["score_definition"] = definition
    return out


def patrol_list(
    ranked: pd.DataFrame,
    *,
    top_n: int | None = None,
    max_area_share: float | None = None,
    max_area_km2: float | None = None,
    study_area_m2: float | None = None,
) -> pd.DataFrame:
    """The hotspots to patrol: the top ``top_n``, and/or those that fit an area budget.

    With a budget (``max_area_share`` of ``study_area_m2``, e.g. 0.05 for 5 %, and/or
    ``max_area_km2``), hotspots are taken in rank order and each one that still fits is
    kept; one that would overflow the budget is skipped and smaller ones after it may still
    fit. ``top_n`` then keeps the first N. ``cumulative_area_share`` needs
    ``study_area_m2`` (else it is NaN); ``cumulative_incident_share`` adds up ``share``
    (the share of all incidents).

    Examples
    --------
    >>> r = pd.DataFrame({"rank": [1, 2, 3], "hotspot_id": [4, 5, 6], "label": list("abc"),
    ...                   "incidents": [50, 30, 20], "share": [0.5, 0.3, 0.2],
    ...                   "area_m2": [6e5, 5e5, 3e5]})
    >>> p = patrol_list(r, max_area_km2=1.0, study_area_m2=1e7)
    >>> p[["hotspot_id", "cumulative_area_share", "cumulative_incident_share"]].to_numpy().tolist()
    [[4.0, 0.06, 0.5], [6.0, 0.09, 0.7]]
    """
    need = [c for c in ("rank", "incidents", "area_m2") if c not in ranked.columns]
    if need:
        raise InputError(f"patrol_list needs a ranked table (rank_hotspots); missing {need}")
    table = ranked.sort_values("rank", kind="stable").reset_index(drop=True)
    area = table["area_m2"].to_numpy(float)
    budget = np.inf
    if max_area_share is not None:
        if not (isinstance(max_area_share, int | float) and 0 < max_area_share <= 1):
            raise InputError(
                "max_area_share must be a fraction between 0 and 1 (0.05 for 5%), "
                f"got {max_area_share!r}"
            )
        budget = max_area_share * _study_area(study_area_m2, "max_area_share")
    if max_area_km2 is not None:
        if not (isinstance(max_area_km2, int | float) and max_area_km2 > 0):
            raise InputError(f"max_area_km2 must be a positive number, got {max_area_km2!r}")
        budget = min(budget, max_area_km2 * 1e6)
    keep = np.zeros(len(table), dtype=bool)
    used = 0.0
    for i, a in enumerate(area):
        if used + a <= budget * (1 + 1e-12):
            keep[i], used = True, used + a
    table = table[keep]
    if top_n is not None:
        if isinstance(top_n, bool) or not isinstance(top_n, int | np.integer) or top_n < 1:
            raise InputError(f"top_n must be a whole number of at least 1, got {top_n!r}")
        table = table.head(int(top_n))
    study = np.nan if study_area_m2 is None else _study_area(study_area_m2, "study_area_m2")
    share = table["share"] if "share" in table.columns else pd.Series(np.nan, table.index)
    areas = [c for c in table.columns if f"{c}_all" in table.columns]
    cols = [
        c
        for c in ("rank", "hotspot_id", "label", *areas, "incidents", "area_m2", "score")
        if c in table.columns
    ]
    out = table[cols].assign(
        cumulative_area_share=table["area_m2"].cumsum() / study,
        cumulative_incident_share=share.cumsum(),
    )
    return pd.DataFrame(out).reset_index(drop=True)


def repeat_locations(
    incidents: pd.DataFrame,
    *,
    min_incidents: int = 3,
    window_months: int = 6,
    by: Sequence[str] = ("x", "y"),
    area_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Locations with at least ``min_incidents`` incidents in any ``window_months`` window.

    Parameters
    ----------
    incidents
        Canonical incidents (``when``, ``x``/``y`` or point geometry in metres).
    min_incidents, window_months
        The threshold: this many incidents within this many consecutive months.
    by
        Columns that identify a location; ``x``/``y`` are rounded to the metre first.
    area_columns
        Area columns to carry (the value most of the location's incidents have); None
        takes those of :data:`COMMON_AREA_COLUMNS` that are present.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``location`` (most frequent text), ``incidents_total``,
        ``max_in_window``, ``window_start``/``window_end`` (``when`` of the first and last
        incident of the earliest busiest window), ``first``, ``last``, ``categories``
        (``"Burglary (2); Drugs (1)"``) and the area columns; busiest first.

    Examples
    --------
    >>> inc = pd.DataFrame({"x": [10.2] * 4, "y": [20.0] * 4, "when": pd.to_datetime(
    ...     ["2024-01-01", "2024-06-01", "2024-06-01", "2024-12-01"])})
    >>> r = repeat_locations(inc)
    >>> r[["x", "incidents_total", "max_in_window"]].to_numpy().tolist()
    [[10.0, 4.0, 3.0]]
    >>> str(r["window_start"][0].date()), str(r["window_end"][0].date())
    ('2024-01-01', '2024-06-01')
    >>> len(repeat_locations(inc, window_months=5))
    0
    """
    for name, value in (("min_incidents", min_incidents), ("window_months", window_months)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
    frame = _location_frame(incidents, by)
    if area_columns is None:
        area_columns = [c for c in COMMON_AREA_COLUMNS if c in frame.columns]
    missing = [c for c in area_columns if c not in frame.columns]
    if missing:
        raise InputError(f"area_columns {missing} are not columns of the incidents")
    code = frame.groupby(list(by), sort=True, dropna=True).ngroup().to_numpy()
    keep = code >= 0
    keep[keep] = np.bincount(code[keep])[code[keep]] >= min_incidents
    frame = frame[keep].assign(_loc=code[keep])
    when = frame["when"]
    start = when.to_numpy().astype("datetime64[s]").astype(np.int64)
    end = (
        (pd.DatetimeIndex(when) + pd.DateOffset(months=window_months))
        .to_numpy()
        .astype("datetime64[s]")
        .astype(np.int64)
    )
    loc = frame["_loc"].to_numpy()
    order = np.lexsort((start, loc))
    frame, start, end, loc = frame.iloc[order], start[order], end[order], loc[order]
    # One sorted key (location, time) lets a single searchsorted count every window.
    t0 = start.min() if len(start) else 0
    span = (end.max() - t0 + 1) if len(end) else 1
    key = loc * span + (start - t0)
    in_window = np.searchsorted(key, loc * span + (end - t0), side="left") - np.arange(len(key))
    frame = frame.assign(_n=in_window, _pos=np.arange(len(key)))
    g = frame.groupby("_loc", sort=True)
    best = frame.loc[g["_n"].idxmax()]
    last_pos = best["_pos"].to_numpy() + best["_n"].to_numpy() - 1
    out = pd.DataFrame(
        {
            "x": g["x"].median().to_numpy(),
            "y": g["y"].median().to_numpy(),
            "location": _mode_by(frame, "location").to_numpy(),
            "incidents_total": g.size().to_numpy(),
            "max_in_window": best["_n"].to_numpy(),
            "window_start": best["when"].to_numpy(),
            "window_end": frame["when"].to_numpy()[last_pos],
            "first": g["when"].min().to_numpy(),
            "last": g["when"].max().to_numpy(),
            "categories": _category_text(frame).to_numpy(),
        }
    )
    for col in area_columns:
        out[col] = _mode_by(frame, col).to_numpy()
    out = out[out["max_in_window"] >= min_incidents]
    return out.sort_values(
        ["max_in_window", "incidents_total", "x", "y"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)


# --- helpers ----------------------------------------------------------------------------


def _excluded(table: pd.DataFrame, exclude: Any) -> np.ndarray:
    if exclude is None:
        return np.zeros(len(table), dtype=bool)
    if isinstance(exclude, str):
        if exclude not in table.columns:
            raise InputError(
                f"exclude={exclude!r} is not a column of the hotspots table; "
                f"columns are {list(table.columns)}"
            )
        col = table[exclude]
        return (col.notna() & ~col.astype(object).isin(["", False, 0])).to_numpy(bool)
    mask = np.asarray(exclude, dtype=bool)
    if mask.shape != (len(table),):
        raise InputError(f"exclude has {mask.size} values for {len(table)} hotspots")
    return mask


def _component(table: pd.DataFrame, name: str, supplied: dict[str, Any], harm: str) -> np.ndarray:
    if name == "incidents":
        return _numbers(table["incidents"].to_numpy(float), table, "incidents")
    if name == "density":
        if "density_km2" not in table.columns:
            raise InputError("score 'density' needs a density_km2 column")
        return _numbers(table["density_km2"].to_numpy(float), table, "density_km2")
    if name == "harm":
        if harm not in table.columns:
            raise InputError(
                f"score 'harm' needs a column {harm!r} in the hotspots table "
                f"(set harm_column=); columns are {list(table.columns)}"
            )
        return _numbers(pd.to_numeric(table[harm], errors="coerce").to_numpy(float), table, harm)
    value = supplied[name]
    arg = "gistar_z" if name == "gistar" else name
    if value is None:
        raise InputError(f"score {name!r} needs {arg}= (one value per hotspot)")
    if isinstance(value, Mapping | pd.Series):
        value = pd.Series(value)
        ids = table["hotspot_id"]
        absent = ids[~ids.isin(value.index)].tolist()
        if absent:
            raise InputError(f"{arg} has no value for hotspot_id {absent[:10]}")
        return _numbers(value.reindex(ids).to_numpy(float), table, arg)
    array = np.asarray(value, dtype=float)
    if array.shape != (len(table),):
        raise InputError(f"{arg} has {array.size} values for {len(table)} hotspots")
    return _numbers(array, table, arg)


def _weighted(
    table: pd.DataFrame, weights: Mapping[str, float], supplied: dict[str, Any], harm: str
) -> tuple[np.ndarray, str]:
    unknown = [k for k in weights if k not in _COMPONENTS]
    bad = [k for k, w in weights.items() if not (isinstance(w, int | float) and w >= 0)]
    if unknown or bad or not weights or sum(weights.values()) <= 0:
        raise InputError(
            f"score weights must map {', '.join(_COMPONENTS)} to non-negative "
            f"numbers with a positive total, got {dict(weights)!r}"
        )
    total = float(sum(weights.values()))
    score = np.zeros(len(table))
    for name, w in weights.items():
        score += (
            w
            / total
            * pd.Series(_component(table, name, supplied, harm))
            .rank(pct=True, method="average")
            .to_numpy()
        )
    terms = " + ".join(f"{w / total:.3g} x {name}" for name, w in weights.items())
    return score, f"weighted mean of percentile ranks among hotspots (0-1): {terms}"


def _numbers(values: np.ndarray, table: pd.DataFrame, what: str) -> np.ndarray:
    if values.shape != (len(table),):
        raise InputError(f"{what} gave {values.size} scores for {len(table)} hotspots")
    bad = ~np.isfinite(values)
    if bad.any():
        raise InputError(
            f"{what} is missing or not a number for hotspot_id "
            f"{table['hotspot_id'][bad].tolist()[:10]}"
        )
    return values


def _study_area(value: object, why: str) -> float:
    if value is None:
        raise InputError(f"{why} needs study_area_m2 (the study area in square metres)")
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InputError(f"study_area_m2 must be a positive number of m2, got {value!r}")
    return float(value)


def _location_frame(incidents: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    if "when" not in incidents.columns:
        raise InputError("incidents have no 'when' column")
    xy, _ = points_xy(incidents)
    frame = (
        pd.DataFrame(incidents.drop(columns="geometry", errors="ignore"))
        .assign(x=np.round(xy[:, 0]), y=np.round(xy[:, 1]), when=pd.to_datetime(incidents["when"]))
        .reset_index(drop=True)
    )
    missing = [c for c in by if c not in frame.columns]
    if missing or not len(by):
        raise InputError(f"by must name columns of the incidents, got {list(by)!r}")
    if frame["when"].isna().any():
        raise InputError(f"{int(frame['when'].isna().sum())} incidents have no 'when' date")
    return frame


def _mode_by(frame: pd.DataFrame, column: str) -> pd.Series:
    """Most frequent non-missing value of ``column`` per location (ties: lowest value)."""
    index = pd.Index(np.unique(frame["_loc"]))
    if column not in frame.columns:
        return pd.Series("", index=index)
    return mode_per_group(frame["_loc"], frame[column]).reindex(index)


def _category_text(frame: pd.DataFrame) -> pd.Series:
    index = pd.Index(np.unique(frame["_loc"]))
    if "category" not in frame.columns:
        return pd.Series("", index=index)
    c = frame.groupby(["_loc", "category"], sort=False).size().reset_index(name="n")
    c = c.sort_values(["_loc", "n", "category"], ascending=[True, False, True], kind="stable")
    text = (c["category"].astype(str) + " (" + c["n"].astype(str) + ")").tolist()
    loc = c["_loc"].to_numpy()
    # Rows are sorted by location: join each run of equal locations (a groupby join calls
    # Python once per location through pandas, several times slower).
    starts = np.flatnonzero(np.r_[True, loc[1:] != loc[:-1]]) if len(loc) else loc
    ends = np.r_[starts[1:], len(loc)][: len(starts)]
    joined = ["; ".join(text[a:b]) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    return pd.Series(joined, index=loc[starts], dtype=str).reindex(index, fill_value="")
