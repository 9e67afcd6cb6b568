"""Rates per 1,000 residents with exact Poisson intervals, and population apportioning.

Areas are compared per resident, not by raw count: a beat with a town centre and few
residents can look extreme either way, so each rate carries an exact (Garwood) Poisson 95%
interval and a test against the overall (force) rate, the same test a funnel plot shows.

Population for areas that are not census areas (beats, NPAs) is apportioned from LSOAs by
the share of each LSOA's area that falls in the area (areal weighting). That assumes people
are spread evenly within an LSOA: an approximation, good where beats follow LSOA or ward
edges, rough for large rural LSOAs split between beats.

A rate is given only where the population covers the area: at least
:data:`COVERAGE_MIN` of its area lies in LSOAs with known residents
(:func:`apply_coverage`). Otherwise the rate is blank and the reason is said, never a
count set against a sliver of the area's people. 2021 LSOAs are expressed as shares of
2011 LSOAs (:func:`lsoa_weights`) so that Census 2011 residents can be used for them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats

from hotspots._validation import check_same_crs, check_scalar, require_metric_crs

#: Funnel-plot control limits: 95% ("warning") and 99.8% ("alarm"), two-sided.
FUNNEL_LEVELS = (0.95, 0.998)
#: An area gets a rate only when this share of its area lies in LSOAs with known residents.
COVERAGE_MIN = 0.95


def poisson_interval(counts: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) two-sided Poisson interval for observed ``counts``.

    Examples
    --------
    >>> lo, hi = poisson_interval(np.array([0, 10]))
    >>> np.round(lo, 3).tolist(), np.round(hi, 3).tolist()
    ([0.0, 4.795], [3.689, 18.39])
    """
    a = 1.0 - _check_level(level)
    k = np.asarray(counts, dtype=float)
    lower = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
    upper = stats.chi2.ppf(1 - a / 2, 2 * (k + 1)) / 2
    return lower, upper


def _check_level(level: float) -> float:
    """A two-sided confidence level: a number strictly between 0 and 1 (0.95, not 95)."""
    return check_scalar(level, "level", float, min_val=0, max_val=1, include_boundaries="neither")


def poisson_test_p(counts: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Two-sided exact Poisson p-value of ``counts`` given ``expected`` (doubling rule)."""
    k = np.asarray(counts, dtype=float)
    mu = np.asarray(expected, dtype=float)
    lower = stats.poisson.cdf(k, mu)
    upper = stats.poisson.sf(k - 1, mu)
    return np.minimum(1.0, 2 * np.minimum(lower, upper))


def area_rates(
    incidents: pd.Series,
    residents: pd.Series,
    *,
    per: float = 1000.0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rate per ``per`` residents, exact interval and significance against the overall rate.

    Parameters
    ----------
    incidents, residents
        Aligned by index (area name). Areas without residents get NaN rates.

    Returns
    -------
    DataFrame with ``residents``, ``rate_per_1000``, ``rate_low``, ``rate_high``, ``p_vs_overall``
    and ``significance`` (``"above"``, ``"below"`` or ``"as expected"`` at ``level``).

    Examples
    --------
    >>> t = area_rates(pd.Series({"A": 50, "B": 5}), pd.Series({"A": 1000, "B": 1000}))
    >>> t["rate_per_1000"].tolist(), t["significance"].tolist()
    ([50.0, 5.0], ['above', 'below'])
    """
    _check_level(level)
    check_scalar(per, "per", float, min_val=0, include_boundaries="neither")
    n = incidents.astype(float)
    pop = residents.reindex(n.index).astype(float)
    has = pop > 0
    overall = n[has].sum() / pop[has].sum() if has.any() else np.nan
    lo, hi = poisson_interval(n.to_numpy(), level)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(has, per / pop, np.nan)
    p = poisson_test_p(n.to_numpy(), np.where(has, pop * overall, np.nan))
    rate = n.to_numpy() * scale
    sig = np.where(
        ~has.to_numpy() | ~np.isfinite(p) | (p >= 1 - level),
        "as expected",
        np.where(rate > overall * per, "above", "below"),
    )
    return pd.DataFrame(
        {
            "residents": np.round(pop.to_numpy(), 0),
            "rate_per_1000": rate,
            "rate_low": lo * scale,
            "rate_high": hi * scale,
            "p_vs_overall": p,
            "significance": sig,
        },
        index=n.index,
    )


def funnel_limits(
    residents: np.ndarray, overall_rate: float, level: float, per: float = 1000.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson control limits (rate per ``per``) around ``overall_rate`` (per resident)."""
    a = 1.0 - _check_level(level)
    mu = np.asarray(residents, dtype=float) * overall_rate
    lo = stats.poisson.ppf(a / 2, mu)
    hi = stats.poisson.ppf(1 - a / 2, mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        return lo * per / residents, hi * per / residents


def apportion_population(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    residents: str = "residents",
    target_name: str = "name",
) -> pd.Series:
    """Residents of each ``target`` area, by area-weighting ``source`` (e.g. LSOA) counts.

    Both layers must be in the same metric CRS. A source area split between targets gives
    each the share of its residents equal to the share of its area. This sums whatever
    overlaps: use :func:`apportion_with_coverage` to know how much of each target the
    source covers (a target mostly outside the source gets a sliver's residents here).
    """
    return apportion_with_coverage(source, target, residents=residents, target_name=target_name)[
        "residents"
    ]


def apportion_with_coverage(
    source: gpd.GeoDataFrame,
    target: gpd.GeoDataFrame,
    *,
    residents: str = "residents",
    target_name: str = "name",
) -> pd.DataFrame:
    """Area-weighted residents of each ``target`` area and the share of it ``source`` covers.

    Parameters
    ----------
    source
        Areas with known ``residents`` (NaN: unknown, so not covering), e.g. LSOAs.
    target
        Areas named by ``target_name``, in the same metric CRS.

    Returns
    -------
    DataFrame indexed by target name: ``residents`` (sum of each source's residents times
    the share of its area inside the target) and ``coverage`` (share of the target's area
    inside sources with known residents, 0–1).

    Examples
    --------
    A 1 km² LSOA of 1,000 residents; target A holds half of it and nothing else, target B
    a quarter of it and as much again outside it:

    >>> from shapely import box
    >>> src = gpd.GeoDataFrame({"residents": [1000.0]}, geometry=[box(0, 0, 1000, 1000)],
    ...                        crs=27700)
    >>> tgt = gpd.GeoDataFrame({"name": ["A", "B"]}, crs=27700,
    ...     geometry=[box(0, 0, 500, 1000), box(500, 0, 1000, 500).union(box(1000, 0, 1500, 500))])
    >>> apportion_with_coverage(src, tgt).round(3).to_dict("index")
    {'A': {'residents': 500.0, 'coverage': 1.0}, 'B': {'residents': 250.0, 'coverage': 0.5}}
    """
    require_metric_crs(source.crs, "source")
    require_metric_crs(target.crs, "target")
    check_same_crs(source.crs, target.crs, "the source areas", "the target layer")
    names = target[target_name].to_numpy()
    src = source.loc[source[residents].notna(), [residents, source.geometry.name]].copy()
    empty = pd.DataFrame({"residents": 0.0, "coverage": 0.0}, index=pd.Index(names))
    if src.empty or target.empty:
        return empty
    # Only sources near the targets take part in the overlay (a national layer is large).
    near = src.sindex.query(target.geometry.values, predicate="intersects")[1]
    src = src.iloc[np.unique(near)]
    if src.empty:
        return empty
    src["_area"] = src.area
    tgt = target[[target_name, target.geometry.name]].rename(columns={target_name: "_target"})
    pieces = gpd.overlay(src, tgt, how="intersection", keep_geom_type=True)
    piece_area = pieces.area
    people = (pieces[residents] * piece_area / pieces["_area"]).groupby(pieces["_target"]).sum()
    covered = piece_area.groupby(pieces["_target"]).sum()
    area = pd.Series(target.area.to_numpy(), index=names)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (covered.reindex(names).fillna(0.0) / area).clip(upper=1.0).fillna(0.0)
    return pd.DataFrame(
        {"residents": people.reindex(names).fillna(0.0).to_numpy(), "coverage": share.to_numpy()},
        index=pd.Index(names),
    )


def lsoa_weights(
    codes: pd.Index | list[str], pop2011: pd.Series, changes: pd.DataFrame
) -> pd.DataFrame:
    """Each LSOA code as shares of 2011 LSOAs: ``code``, ``lsoa11``, ``weight``.

    A 2011 code, or a 2021 code that kept its 2011 code, is all of that 2011 LSOA (weight
    1). A 2021 code in ``changes`` (split or merged) is ``share_of_2011_area`` of each 2011
    parent, shares normalised to sum to 1 over each parent's successors. Any other code has
    no row: its residents are unknown.

    Examples
    --------
    >>> pop = pd.Series({"E1": 1000.0, "E2": 600.0})
    >>> ch = pd.DataFrame({"LSOA11CD": ["E2", "E2"], "LSOA21CD": ["N1", "N2"],
    ...                    "share_of_2011_area": [0.7, 0.2]})
    >>> lsoa_weights(["E1", "N1", "N9"], pop, ch).round(4).values.tolist()
    [['E1', 'E1', 1.0], ['N1', 'E2', 0.7778]]
    """
    codes = pd.Index(pd.unique(pd.Index(codes).astype(str)))
    direct = codes[codes.isin(pop2011.index)]
    ch = changes[
        changes["LSOA21CD"].isin(codes)
        & ~changes["LSOA21CD"].isin(direct)
        & changes["LSOA11CD"].isin(pop2011.index)
    ]
    total = changes.groupby("LSOA11CD")["share_of_2011_area"].sum()
    moved = pd.DataFrame(
        {
            "code": ch["LSOA21CD"].to_numpy(object),
            "lsoa11": ch["LSOA11CD"].to_numpy(object),
            "weight": (ch["share_of_2011_area"] / ch["LSOA11CD"].map(total)).to_numpy(float),
        }
    )
    same = pd.DataFrame(
        {"code": direct.to_numpy(object), "lsoa11": direct.to_numpy(object), "weight": 1.0}
    )
    order = {c: i for i, c in enumerate(codes)}
    out = pd.concat([same, moved], ignore_index=True)
    out = out.assign(_o=out["code"].map(order)).sort_values(["_o", "lsoa11"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)


def weighted_residents(
    weights: pd.DataFrame, pop2011: pd.Series, groups: pd.Series | None = None
) -> pd.Series:
    """Residents per code (or per group of codes) from :func:`lsoa_weights`.

    With ``groups`` (code → group name) the shares of each 2011 LSOA held by a group's codes
    are added and capped at 1 before multiplying by its residents, so a group holding a
    2011 LSOA *and* its 2021 successors (a run mixing years) counts its people once.

    Examples
    --------
    >>> pop = pd.Series({"E1": 1000.0, "E2": 600.0})
    >>> w = pd.DataFrame({"code": ["E1", "E2", "N1", "N2"], "lsoa11": ["E1", "E2", "E2", "E2"],
    ...                   "weight": [1.0, 1.0, 0.75, 0.25]})
    >>> weighted_residents(w, pop).to_dict()
    {'E1': 1000.0, 'E2': 600.0, 'N1': 450.0, 'N2': 150.0}
    >>> weighted_residents(w, pop, pd.Series({"E1": "D", "E2": "D", "N1": "D", "N2": "D"}))
    D    1600.0
    Name: residents, dtype: float64
    """
    key = weights["code"] if groups is None else weights["code"].map(groups)
    held = (
        pd.DataFrame(
            {
                "key": key.to_numpy(object),
                "lsoa11": weights["lsoa11"].to_numpy(),
                "w": weights["weight"].to_numpy(float),
            }
        )
        .dropna(subset=["key"])
        .groupby(["key", "lsoa11"], sort=False)["w"]
        .sum()
    )
    if groups is not None:
        held = held.clip(upper=1.0)
    people = held * pop2011.reindex(held.index.get_level_values("lsoa11")).to_numpy(float)
    return people.groupby(level="key", sort=False).sum().rename("residents").rename_axis(None)


def apply_coverage(
    residents: pd.Series,
    coverage: pd.Series,
    *,
    coverage_min: float = COVERAGE_MIN,
    reason_uncovered: str = "outside_lsoa_polygons",
) -> pd.DataFrame:
    """Keep residents only where the population covers the area; say why where not.

    An area whose ``coverage`` (share of it lying in LSOAs with known residents) is below
    ``coverage_min`` gets no residents, so no rate: its count would be set against a
    sliver of its people. Reasons: ``reason_uncovered`` (nothing covered),
    ``partial_coverage`` (below ``coverage_min``), ``no_residents`` (covered, 0 people).

    Examples
    --------
    >>> t = apply_coverage(pd.Series({"A": 2000.0, "B": 13.0, "C": 0.0, "D": 0.0}),
    ...                    pd.Series({"A": 0.97, "B": 0.004, "C": 0.0, "D": 1.0}))
    >>> t["residents"].tolist(), t["rate_blank_reason"].tolist()
    ([2000.0, nan, nan, nan], ['', 'partial_coverage', 'outside_lsoa_polygons', 'no_residents'])
    """
    coverage_min = check_scalar(
        coverage_min, "coverage_min", float, min_val=0, max_val=1, include_boundaries="right"
    )
    cov = coverage.reindex(residents.index).fillna(0.0).astype(float)
    pop = residents.astype(float)
    reason = np.select(
        [cov <= 0, cov < coverage_min, ~(pop > 0)],
        [reason_uncovered, "partial_coverage", "no_residents"],
        "",
    )
    return pd.DataFrame(
        {
            "residents": pop.where(reason == ""),
            "residents_coverage": cov.round(4),
            "rate_blank_reason": reason,
        },
        index=residents.index,
    )
