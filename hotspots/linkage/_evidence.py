"""How likely a candidate pair is one incident, learnt from the records themselves.

A council report and the police record of the same incident lie close together and a few
days apart. An unrelated pair that passes the same rules is a coincidence, and a
coincidence is as likely four weeks apart as one day apart. So the candidate pairs found
beyond the time window (8 to 28 days apart with the default 7-day window) measure how
many coincidences to expect at each time offset and distance; the pairs inside the window
in excess of that are duplicates. Their offsets give the delay distribution between the
two sources, and their distances (as a share of the pair's limit) the distance
distribution. A pair with offset ``o`` and distance share ``u`` is then one incident with
probability

    p = T / (T + C),   T = n_dup * f_delay(o) * f_dist(u),   C = chance(o) * g(u)

(naive Bayes, as in Fellegi and Sunter's record linkage, with the chance distribution
measured on far-apart pairs instead of guessed). Month-precision pairs are treated the
same way with months as the unit: the same month against two to four months apart."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial import cKDTree

#: Fewest duplicates (pairs in excess of chance) from which a source pair's evidence is learnt.
MIN_LEARN_PAIRS = 20
#: Coincidences are counted on pairs up to this many days beyond the window, or this many
#: months apart (month-precision pairs).
CHANCE_BAND_DAYS = 21
CHANCE_BAND_MONTHS = (2, 4)
#: Distance as a share of the pair's limit is binned this finely.
DISTANCE_BINS = 10
#: A record sitting on a postcode centroid is located to the distance to the k-th nearest
#: other centroid where postcodes are large (sparse centroids), but never more precisely
#: than its stated ``loc_precision_m`` (100 m for a full postcode), nor than the floor.
POSTCODE_NEIGHBOUR = 3
POSTCODE_FLOOR_M = 25.0
PROBABILITY_RULE = (
    "learnt per pair of sources: candidate pairs more than the window apart (up to "
    f"{CHANCE_BAND_DAYS} days beyond it; month records: {CHANCE_BAND_MONTHS[0]} to "
    f"{CHANCE_BAND_MONTHS[1]} months apart) give the coincidences expected at each time "
    "offset and distance; the pairs inside the window in excess of them are duplicates; "
    "p = duplicates / (duplicates + coincidences) at the pair's offset and distance share"
)
POSTCODE_RULE = (
    f"records at a postcode centroid: the larger of their loc_precision_m and the distance "
    f"to the {POSTCODE_NEIGHBOUR}rd-nearest other centroid (at least {POSTCODE_FLOOR_M:g} m)"
)


def postcode_precision(
    xy: np.ndarray, loc_precision_m: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Location precision per record from the spacing of postcode centroids.

    A record whose point is a centroid (within 0.5 m) and whose ``loc_precision_m`` is above
    0 was located by that postcode. Where centroids are sparse (rural postcodes), its
    delivery points spread about as far as the :data:`POSTCODE_NEIGHBOUR`-th nearest other
    centroid, which may be hundreds of metres, and the precision is widened to that. Where
    centroids are dense it is **not** narrowed below the stated ``loc_precision_m``: the
    caller's postcode need not be the centroid nearest the incident (the nearest is a
    median 27 m from a police.uk map point, but a map point has a median of 7 centroids
    within 150 m), so dense centroids do not make a postcode-located record more precise.
    Returns the new precisions and which records sit on a centroid.

    Examples
    --------
    >>> pts = np.array([[0.0, 0], [30, 0], [0, 40], [50, 50], [400, 0], [400, 300]])
    >>> xy = np.array([[0.0, 0], [400, 0], [7, 7]])
    >>> prec, on = postcode_precision(xy, np.array([100.0, 100, 100]), pts)
    >>> prec.round(1).tolist(), on.tolist()
    ([100.0, 370.0, 100.0], [True, True, False])
    """
    k = min(POSTCODE_NEIGHBOUR, len(points) - 1)
    if k < 1 or len(xy) == 0:
        return loc_precision_m.copy(), np.zeros(len(xy), dtype=bool)
    dist, _ = cKDTree(points).query(xy, k=k + 1)
    on = (dist[:, 0] <= 0.5) & (loc_precision_m > 0)
    spread = np.maximum(dist[:, k], np.maximum(loc_precision_m, POSTCODE_FLOOR_M))
    return np.where(on, spread, loc_precision_m), on


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
    share: np.ndarray,
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
    share
        Distance as a share of the pair's limit, in [0, 1].
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
    >>> share = np.r_[np.full(40, 0.15), np.full(57, 0.85)]
    >>> t = np.arange(len(off)) % 60
    >>> p, info = learn_probability(off, share, t, t + off, window=7, band=(8, 28))
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
    bins = np.minimum((share * DISTANCE_BINS).astype(np.int64), DISTANCE_BINS - 1)
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
