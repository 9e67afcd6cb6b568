"""Candidate pairs: cross-source records of one category family within the distance limit.

Two distances are attached to every pair. The **limit** is how far apart the two records
may be and still be one incident: ``max(min_distance_m, precision_a + precision_b +
allowance_m)``, from each record's location precision (never narrower than its stated
``loc_precision_m``). The **scale** is how far apart they are expected to be, from how
widely each record's own location spreads (for a record on a postcode centroid: how far
the neighbouring centroids are): ``max(min_distance_m, spread_a + spread_b +
allowance_m)``, at most the limit. The limit decides which pairs are candidates; the
scale is the unit in which the distance evidence is learnt (``distance / scale``), so
that "twice as far as its postcode is wide" means the same in a city and in the country
while the search reaches as far as the stated precision allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from hotspots.linkage._evidence import CHANCE_BAND_DAYS, CHANCE_BAND_MONTHS


def precision_bucket(loc: np.ndarray) -> np.ndarray:
    """Upper bound of each precision's bucket: 0, 100, 200, 400 ... metres.

    Examples
    --------
    >>> precision_bucket(np.array([0.0, 25, 100, 101, 370])).tolist()
    [0.0, 100.0, 100.0, 200.0, 400.0]
    """
    steps = np.ceil(np.log2(np.maximum(loc, 100.0) / 100.0))
    return np.where(loc <= 0, 0.0, 100.0 * 2.0**steps)


def candidate_pairs(
    rec: dict[str, Any],
    distance_m: float | None,
    window: int,
    min_distance_m: float,
    allowance_m: float,
) -> pd.DataFrame:
    """Cross-source pairs that pass the family and distance rules, near enough in time to
    learn from; ``in_time`` marks those that also pass the time rule.

    ``rec`` holds per record ``source``, ``family``, ``xy``, ``loc`` (precision, metres),
    ``spread`` (metres), ``linkable``, ``month``, ``start`` (day number) and
    ``month_index``. Returns columns ``a``, ``b`` (record positions, ``source[a] <
    source[b]``), ``distance``, ``limit``, ``scale``, ``month`` (either record known only
    to the month), ``days``, ``months`` (``b`` minus ``a``) and ``in_time``.
    """
    bucket = np.zeros(len(rec["loc"])) if distance_m is not None else precision_bucket(rec["loc"])
    ok = rec["linkable"]
    keys = [
        (int(s), float(b))
        for s in np.unique(rec["source"][ok])
        for b in np.unique(bucket[ok & (rec["source"] == s)])
    ]
    members = {k: np.flatnonzero(ok & (rec["source"] == k[0]) & (bucket == k[1])) for k in keys}

    def radius(ka: tuple[int, float], kb: tuple[int, float]) -> float:
        if distance_m is not None:
            return float(distance_m)
        return max(min_distance_m, ka[1] + kb[1] + allowance_m)

    # Each category family gets its own strip of one k-d tree, further apart than any
    # search radius, so that one search never crosses families.
    xy = rec["xy"].copy()
    span = float(np.ptp(xy[:, 0])) if len(xy) else 0.0
    widest = max((radius(ka, kb) for ka in keys for kb in keys), default=0.0)
    xy[:, 0] += rec["family"] * 2.0 * (span + widest + 1.0)
    trees = {k: cKDTree(xy[idx]) for k, idx in members.items()}
    found = []
    for ka in keys:
        for kb in keys:
            if kb[0] > ka[0]:
                sdm = trees[ka].sparse_distance_matrix(
                    trees[kb], radius(ka, kb), output_type="ndarray"
                )
                found.append((members[ka][sdm["i"]], members[kb][sdm["j"]], sdm["v"]))
    if found:
        a, b, d = (np.concatenate(parts) for parts in zip(*found, strict=True))
    else:
        a, b, d = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    if distance_m is not None:
        limit = scale = np.full(len(a), float(distance_m))
    else:
        limit = np.maximum(min_distance_m, rec["loc"][a] + rec["loc"][b] + allowance_m)
        spread = rec["spread"][a] + rec["spread"][b] + allowance_m
        scale = np.minimum(np.maximum(min_distance_m, spread), limit)
    within = d <= limit
    a, b, d, limit, scale = a[within], b[within], d[within], limit[within], scale[within]
    days = rec["start"][b] - rec["start"][a]
    months = rec["month_index"][b] - rec["month_index"][a]
    any_month = rec["month"][a] | rec["month"][b]
    keep = np.where(
        any_month,
        np.abs(months) <= CHANCE_BAND_MONTHS[1],
        np.abs(days) <= window + CHANCE_BAND_DAYS,
    )
    return pd.DataFrame(
        {
            "a": a[keep],
            "b": b[keep],
            "distance": d[keep],
            "limit": limit[keep],
            "scale": scale[keep],
            "month": any_month[keep],
            "days": days[keep],
            "months": months[keep],
            # A month record matches a dated one in its month, a dated one within the window.
            "in_time": np.where(any_month, months == 0, np.abs(days) <= window)[keep],
        }
    )
