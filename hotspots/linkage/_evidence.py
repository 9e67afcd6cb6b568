"""How likely a candidate pair is one incident, learnt from the records themselves.

A council report and the police record of the same incident lie close together and a few
days apart. An unrelated pair that passes the same rules is a coincidence, and a
coincidence is as likely four weeks apart as one day apart. So the candidate pairs found
beyond the time window (8 to 28 days apart with the default 7-day window) measure how
many coincidences to expect at each time offset and distance; the pairs inside the window
in excess of that are duplicates. Their offsets give the delay distribution between the
two sources, and their distances (in units of the pair's scale: how far apart the two
records are expected to be from the spread of their locations, see
:mod:`hotspots.linkage._candidates`) the distance distribution. A pair with offset ``o``
and distance ``u`` (in scale units) is then one incident with probability

    p = T / (T + C),   T = n_dup * f_delay(o) * f_dist(u),   C = chance(o) * g(u)

(naive Bayes, as in Fellegi and Sunter's record linkage, with the chance distribution
measured on far-apart pairs instead of guessed). Month-precision pairs are treated the
same way with months as the unit: the same month against two to four months apart."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

#: Fewest duplicates (pairs in excess of chance) from which a source pair's evidence is learnt.
MIN_LEARN_PAIRS = 20
#: Coincidences are counted on pairs up to this many days beyond the window, or this many
#: months apart (month-precision pairs).
CHANCE_BAND_DAYS = 21
CHANCE_BAND_MONTHS = (2, 4)
#: Distance in units of the pair's scale is binned this finely (bins per unit), and into
#: this many bins: the last holds every pair three or more units apart.
DISTANCE_BINS_PER_UNIT = 10
DISTANCE_BINS = 30
#: A record sitting on a postcode centroid spreads as far as the k-th nearest other
#: centroid (at least the floor): the postcode's own size. Its precision, which sets the
#: distance limit, is that where postcodes are large (sparse centroids), but never finer
#: than its stated ``loc_precision_m`` (100 m for a full postcode).
POSTCODE_NEIGHBOUR = 3
POSTCODE_FLOOR_M = 25.0
PROBABILITY_RULE = (
    "learnt per pair of sources: candidate pairs more than the window apart (up to "
    f"{CHANCE_BAND_DAYS} days beyond it; month records: {CHANCE_BAND_MONTHS[0]} to "
    f"{CHANCE_BAND_MONTHS[1]} months apart) give the coincidences expected at each time "
    "offset and distance; the pairs inside the window in excess of them are duplicates; "
    "p = duplicates / (duplicates + coincidences) at the pair's offset and distance, the "
    "distance in units of the pair's scale (max(min_distance_m, spread_a + spread_b + "
    "allowance_m))"
)
POSTCODE_RULE = (
    f"records at a postcode centroid: spread = the distance to the {POSTCODE_NEIGHBOUR}rd-"
    f"nearest other centroid (at least {POSTCODE_FLOOR_M:g} m); precision = the larger of "
    "their loc_precision_m and the spread"
)


def postcode_precision(
    xy: np.ndarray, loc_precision_m: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Location precision and spread per record from the spacing of postcode centroids.

    A record whose point is a centroid (within 0.5 m) and whose ``loc_precision_m`` is above
    0 was located by that postcode. Its delivery points spread about as far as the
    :data:`POSTCODE_NEIGHBOUR`-th nearest other centroid: tens of metres in a city,
    hundreds in the country. That **spread** is the unit in which distances to it are
    judged. Its **precision** (which sets the distance limit) is widened to the spread
    where centroids are sparse but **not** narrowed below the stated ``loc_precision_m``
    where they are dense: the caller's postcode need not be the centroid nearest the
    incident (the nearest is a median 27 m from a police.uk map point, but a map point has
    a median of 7 centroids within 150 m). Other records keep their ``loc_precision_m`` as
    both. Returns the precisions, the spreads and which records sit on a centroid.

    Examples
    --------
    >>> pts = np.array([[0.0, 0], [30, 0], [0, 40], [50, 50], [400, 0], [400, 300]])
    >>> xy = np.array([[0.0, 0], [400, 0], [7, 7]])
    >>> prec, spread, on = postcode_precision(xy, np.array([100.0, 100, 100]), pts)
    >>> prec.round(1).tolist(), spread.round(1).tolist(), on.tolist()
    ([100.0, 370.0, 100.0], [70.7, 370.0, 100.0], [True, True, False])
    """
    k = min(POSTCODE_NEIGHBOUR, len(points) - 1)
    if k < 1 or len(xy) == 0:
        return loc_precision_m.copy(), loc_precision_m.copy(), np.zeros(len(xy), dtype=bool)
    dist, _ = cKDTree(points).query(xy, k=k + 1)
    on = (dist[:, 0] <= 0.5) & (loc_precision_m > 0)
    spread = np.where(on, np.maximum(dist[:, k], POSTCODE_FLOOR_M), loc_precision_m)
    return np.maximum(loc_precision_m, spread), spread, on


def _chance_shape(t_a: np.ndarray, t_b: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Pairs expected at each offset ``t_b - t_a`` if times were unrelated to places.

    The cross-correlation of the two sides' counts per time unit: flat for a long extract,
    falling towards the ends of a short one.
    """
    lo = min(t_a.min(), t_b.min())
    size = max(t_a.max(), t_b.max()) - lo + 1
    ca = np.bincount(t_a - lo, minlength=size).astype(float)
    cb = np.bincount(t_b - lo, minlength=size).astype(float)
    out = np.zeros(len(offsets))
    for i, o in enumerate(offsets):
        if abs(o) < size:
            out[i] = ca[max(0, -o) : size - max(0, o)] @ cb[max(0, o) : size - max(0, -o)]
    return out


def learn_probability(
    offset: np.ndarray,
    distance_units: np.ndarray,
    t_a: np.ndarray,
    t_b: np.ndarray,
    *,
    window: int,
    band: tuple[int, int],
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Probability that each pair is one incident (NaN outside the window; None: too few).

    Parameters
    ----------
    offset
        Time offset of every candidate pair with ``|offset| <= band[1]`` (days or months).
    distance_units
        Distance in units of the pair's scale (0 and above; 1 where the pair is as far apart
        as the spread of the two records' locations suggests).
    t_a, t_b
        Times of the two records of every pair (same unit), for the shape of chance.
    window
        Largest ``|offset|`` of a duplicate (0 for months: the same month).
    band
        Offsets ``band[0] <= |offset| <= band[1]`` hold only coincidences.

    Examples
    --------
    Forty close pairs one day apart, over one coincidence a day at any offset (far):

    >>> off = np.r_[np.ones(40, int), np.arange(-28, 29)]
    >>> units = np.r_[np.full(40, 0.15), np.full(57, 0.85)]
    >>> t = np.arange(len(off)) % 60
    >>> p, info = learn_probability(off, units, t, t + off, window=7, band=(8, 28))
    >>> info["duplicates"], info["median"], info["shares"]
    (40, 1, {1: 1.0})
    >>> p[0], p[off == 3], p[off == 20]  # a duplicate; a coincidence; outside the window
    (np.float64(1.0), array([0.]), array([nan]))
    """
    if len(offset) == 0:
        return None
    inside = np.abs(offset) <= window
    outside = (np.abs(offset) >= band[0]) & (np.abs(offset) <= band[1])
    lags = np.arange(-window, window + 1)
    far = np.r_[np.arange(-band[1], -band[0] + 1), np.arange(band[0], band[1] + 1)]
    shape = _chance_shape(t_a, t_b, np.r_[lags, far])
    scale = outside.sum() / shape[len(lags) :].sum() if shape[len(lags) :].sum() > 0 else 0.0
    chance = scale * shape[: len(lags)]
    seen = np.bincount(offset[inside] + window, minlength=len(lags))
    excess = np.maximum(seen - chance, 0.0)
    n_dup = excess.sum()
    if n_dup < MIN_LEARN_PAIRS or 0 < outside.sum() < MIN_LEARN_PAIRS:
        return None
    bins = np.minimum((distance_units * DISTANCE_BINS_PER_UNIT).astype(np.int64), DISTANCE_BINS - 1)
    g = np.bincount(bins[outside], minlength=DISTANCE_BINS) / max(outside.sum(), 1)
    dup_dist = np.maximum(
        np.bincount(bins[inside], minlength=DISTANCE_BINS) - g * chance.sum(), 0.0
    )
    f_dist = dup_dist / max(dup_dist.sum(), 1e-12)
    f_delay = excess / n_dup
    o, b = np.clip(offset + window, 0, 2 * window), bins
    dup = excess[o] * f_dist[b]  # n_dup * f_delay(o) * f_dist(u)
    total = dup + chance[o] * g[b]
    prob = np.divide(dup, total, out=np.zeros(len(total)), where=total > 0)
    prob[~inside] = np.nan
    median = int(lags[np.searchsorted(np.cumsum(f_delay), 0.5)])
    info = {
        "duplicates": round(float(n_dup)),
        "coincidences_in_window": round(float(chance.sum()), 1),
        "median": median,
        "shares": {int(k): round(float(v), 3) for k, v in zip(lags, f_delay, strict=True) if v},
    }
    return prob, info


def pair_probabilities(
    pairs: pd.DataFrame, rec: dict[str, Any], window: int
) -> tuple[np.ndarray, dict[str, dict[str, Any]], dict[tuple[int, int], int]]:
    """Learnt probability per candidate pair (NaN where not learnt or out of time), what
    was learnt per pair of sources (keyed ``"earlier -> later"``, `` (month)`` for month
    pairs) and the median day offset ``b - a`` per learnt pair of source codes.

    ``pairs`` are :func:`hotspots.linkage._candidates.candidate_pairs`; ``rec`` holds per
    record ``source`` (codes), ``sources`` (their names), ``start`` and ``month_index``.
    Day pairs and month pairs of each pair of sources are learnt apart.
    """
    prob = np.full(len(pairs), np.nan)
    learnt: dict[str, dict[str, Any]] = {}
    delays: dict[tuple[int, int], int] = {}
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    units = (pairs["distance"] / pairs["scale"]).to_numpy()
    strata = pd.DataFrame({"sa": rec["source"][a], "sb": rec["source"][b], "m": pairs["month"]})
    for (sa, sb, month), idx in strata.groupby(["sa", "sb", "m"]).indices.items():
        t = rec["month_index"] if month else rec["start"]
        res = learn_probability(
            pairs["months" if month else "days"].to_numpy()[idx],
            units[idx],
            t[a[idx]],
            t[b[idx]],
            window=0 if month else window,
            band=CHANCE_BAND_MONTHS if month else (window + 1, window + CHANCE_BAND_DAYS),
        )
        if res is None:
            continue
        prob[idx] = res[0]
        info = res[1]
        first, second = rec["sources"][sa], rec["sources"][sb]
        if not month:
            delays[(int(sa), int(sb))] = info["median"]
        if info["median"] < 0:  # said as "earlier source -> later source"
            first, second = second, first
            info = {
                **info,
                "median": -info["median"],
                "shares": {-k: v for k, v in sorted(info["shares"].items(), reverse=True)},
            }
        learnt[f"{first} -> {second}" + (" (month)" if month else "")] = info
    return prob, learnt, delays
