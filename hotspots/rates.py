"""Rates per 1,000 residents with exact Poisson intervals, and population apportioning.

Areas are compared per resident, not by raw count: a beat with a town centre and few
residents can look extreme either way, so each rate carries an exact (Garwood) Poisson 95%
interval and a test against the overall (force) rate, the same test a funnel plot shows.

Population for areas that are not census areas (beats, NPAs) is apportioned from LSOAs by
the share of each LSOA's area that falls in the area (areal weighting). That assumes people
are spread evenly within an LSOA: an approximation, good where beats follow LSOA or ward
edges, rough for large rural LSOAs split between beats.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy import stats

from hotspots.schema import InputError, require_metric_crs

#: Funnel-plot control limits: 95% ("warning") and 99.8% ("alarm"), two-sided.
FUNNEL_LEVELS = (0.95, 0.998)


def poisson_interval(counts: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) two-sided Poisson interval for observed ``counts``.

    Examples
    --------
    >>> lo, hi = poisson_interval(np.array([0, 10]))
    >>> np.round(lo, 3).tolist(), np.round(hi, 3).tolist()
    ([0.0, 4.795], [3.689, 18.39])
    """
    k = np.asarray(counts, dtype=float)
    a = 1.0 - level
    lower = np.where(k > 0, stats.chi2.ppf(a / 2, 2 * k) / 2, 0.0)
    upper = stats.chi2.ppf(1 - a / 2, 2 * (k + 1)) / 2
    return lower, upper


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
    mu = np.asarray(residents, dtype=float) * overall_rate
    a = 1.0 - level
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
    each the share of its residents equal to the share of its area.
    """
    require_metric_crs(source.crs, "source")
    require_metric_crs(target.crs, "target")
    if source.crs != target.crs:
        raise InputError(f"source is in {source.crs} but target in {target.crs}; use to_crs")
    src = source[[residents, source.geometry.name]].copy()
    src["_area"] = src.area
    src["_sid"] = np.arange(len(src))
    tgt = target[[target_name, target.geometry.name]].rename(columns={target_name: "_target"})
    pieces = gpd.overlay(src, tgt, how="intersection", keep_geom_type=True)
    share = pieces.area / pieces["_area"]
    pieces["_people"] = pieces[residents] * share
    out = pieces.groupby("_target")["_people"].sum()
    return out.reindex(target[target_name].to_numpy()).fillna(0.0).rename("residents")


def lsoa2021_population(pop2011: pd.Series, changes: pd.DataFrame) -> pd.Series:
    """Residents per 2021 LSOA from 2011 LSOA residents and the 2011→2021 change table.

    Unchanged LSOAs keep their code and residents; split LSOAs share residents by
    ``share_of_2011_area``; merged ones add up. ``changes`` has ``LSOA11CD``, ``LSOA21CD``
    and ``share_of_2011_area``.
    """
    changed = set(changes["LSOA11CD"])
    same = pop2011[~pop2011.index.isin(changed)]
    shares = changes.groupby("LSOA11CD")["share_of_2011_area"].transform(lambda s: s / s.sum())
    moved = pop2011.reindex(changes["LSOA11CD"]).to_numpy() * shares.to_numpy()
    split = pd.Series(moved, index=changes["LSOA21CD"].to_numpy()).groupby(level=0).sum()
    return pd.concat([same, split]).groupby(level=0).sum().rename("residents")
