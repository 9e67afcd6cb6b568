"""Linking records from different sources that are the same incident.

Candidate pairs are merged greedily in the order :data:`PAIR_ORDER`. Two pairs whose scores
are equal (to :data:`SCORE_DECIMALS` decimal places, so that scores equal but for
floating-point rounding count as equal) are taken in the order of their rows: the pair with
the smaller ``_row`` first, then the one whose other ``_row`` is smaller. The result is
therefore the same whatever the input row order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hotspots._validation import category_key
from hotspots.geocode import PostcodeIndex
from hotspots.linkage._candidates import candidate_pairs
from hotspots.linkage._evidence import (
    POSTCODE_RULE,
    PROBABILITY_RULE,
    pair_probabilities,
    postcode_precision,
)
from hotspots.schema import InputError

log = logging.getLogger(__name__)

#: Harmonised category (any case or spacing) -> family; records link only within a family.
#: Categories not listed are a family of their own.
DEFAULT_FAMILIES: Mapping[str, str] = {
    # ASB and its Home Office sub-types (personal, nuisance, environmental).
    "anti-social behaviour": "Anti-social behaviour",
    "personal": "Anti-social behaviour",
    "nuisance": "Anti-social behaviour",
    "environmental": "Anti-social behaviour",
    "criminal damage and arson": "Criminal damage and arson",
    # A robbery is theft by force: victims and partners often call it an assault.
    "violence and sexual offences": "Violence and sexual offences",
    "robbery": "Violence and sexual offences",
    # Thefts other than burglary and vehicle crime are worded differently by each agency.
    "other theft": "Theft",
    "theft from the person": "Theft",
    "bicycle theft": "Theft",
    "shoplifting": "Theft",
}

LINK_COLUMNS: tuple[str, ...] = ("group", "source", "id", "kept", "distance_m", "days_apart")
KEEP_RULE = (
    "smallest loc_precision_m, then most precise time (minute, day, month), "
    "then source_priority order, then smallest _row"
)
DISTANCE_RULE = "max({min} m, loc_precision_m of both records + {allow} m)"
SCALE_RULE = (
    "distances are judged in units of max({min} m, spread of both records + {allow} m), "
    "at most the limit; a record's spread is its loc_precision_m, or on a postcode "
    "centroid the spacing of the centroids around it"
)
#: Decimal places the pair score is rounded to before ordering: finer differences (below a
#: micrometre on a 50 m limit) are floating-point rounding, e.g. 160 x 320 m over 400 m and
#: 200 x 400 m over 500 m are both sqrt(0.8) but differ in the last bit.
SCORE_DECIMALS = 9
PAIR_ORDER = (
    "pairs of sources with a learnt probability first; then the score distance / limit + "
    "|days - median delay| / window_days (1 for a month pair), smallest first, rounded to "
    f"{SCORE_DECIMALS} decimal places; equal scores by the smaller _row of the pair, then "
    "the larger _row"
)
_TIME_RANK = {"minute": 0, "day": 1, "month": 2}
_REQUIRED = (
    "_row",
    "incident_id",
    "when",
    "precision",
    "category",
    "source",
    "x",
    "y",
    "loc_precision_m",
)


@dataclass(frozen=True)
class LinkResult:
    """Result of :func:`link_duplicates`.

    Attributes
    ----------
    kept
        The incidents without the merged records (original index and columns): one record
        per linked group, for counts, density and ranking.
    merged
        ``_row`` of every dropped record, ascending.
    links
        One row per record in a linked group, columns exactly :data:`LINK_COLUMNS`:
        ``group`` (1, 2, ...), ``source``, ``id`` (``incident_id``), ``kept`` (bool),
        ``distance_m`` (to the kept record, 0.1 m) and ``days_apart`` (whole days after the
        kept record, negative if before; blank where either is known only to the month).
        Sorted by group, kept record first, then source and id.
    groups
        One row per group: ``group``, ``records``, ``sources``, ``kept_row``, ``time_basis``
        (``"day"`` or ``"month"``: whether a month-precision record is in it),
        ``distance_limit_m``, ``probability`` (the learnt probability that the records are
        one incident, the lowest over the group's pairs; blank where too few pairs were
        found to learn it) and ``competitors`` (other records that were candidates for a
        member: 0 means the match was unambiguous).
    params
        The rules and values used, including which were automatic and what was learnt.
    """

    kept: pd.DataFrame
    merged: np.ndarray
    links: pd.DataFrame
    groups: pd.DataFrame
    params: dict[str, Any]


def link_duplicates(
    incidents: pd.DataFrame,
    *,
    distance_m: float | None = None,
    window_days: float = 7,
    category_families: Mapping[str, str] | None = DEFAULT_FAMILIES,
    source_priority: Sequence[str] | None = None,
    link_month_precision: bool = True,
    min_distance_m: float = 50.0,
    allowance_m: float = 50.0,
    postcode_points: PostcodeIndex | np.ndarray | None = None,
    min_probability: float = 0.5,
) -> LinkResult:
    """Link records from different sources that are the same incident; keep one per group.

    Two records are candidates when they come from different ``source`` labels (never
    within one: identical police.uk rows are separate incidents), their harmonised
    categories are in the same family (:data:`DEFAULT_FAMILIES`), they are within the
    distance limit, and their times agree: two dated records within ``window_days`` days
    (either order), or, where either is known only to the month, the dated record falls
    in that month (two month records: the same month).

    For each pair of sources the delay and distance distributions of duplicates are
    learnt from the data (:data:`~hotspots.linkage._evidence.PROBABILITY_RULE`), which
    gives every candidate pair a probability of being one incident rather than a
    coincidence; only pairs with at least ``min_probability`` may link. Where too little is
    found to learn from (fewer than 20 duplicates, or fewer than 20 coincidences in the
    chance band, for a pair of sources), every candidate may link. Candidates are merged
    nearest first, by ``distance / limit + |days - median delay| / window_days``, into
    groups that hold at most one record per source and in which every pair is a
    candidate; with two sources this is one-to-one matching. Equal scores are taken in
    ``_row`` order (:data:`PAIR_ORDER`). The kept record of a group is chosen by
    :data:`KEEP_RULE`.

    Parameters
    ----------
    incidents
        Located canonical incidents (:mod:`hotspots.schema`) with a unique ``_row``.
    distance_m
        Fixed distance limit in metres. None (default): per pair, from how precisely both
        records are located -- ``max(min_distance_m, loc_precision_m_a + loc_precision_m_b
        + allowance_m)``: 50 m for two coordinate records, 150 m for coordinates against a
        full postcode centroid located to 100 m. A fixed limit is also the unit in which
        distances are weighed (otherwise the pair's scale, see ``postcode_points``).
    window_days
        Largest gap in days between two dated records of one incident.
    category_families
        Harmonised category -> family (compared ignoring case and spacing); categories
        not in it are their own family. None: only identical categories link.
    source_priority
        Source labels in order of preference for the kept record, after location and time
        precision; unlisted sources follow in alphabetical order.
    link_month_precision
        Whether month-precision records (police.uk) may be linked at all.
    min_distance_m, allowance_m
        Terms of the automatic distance rule (``allowance_m`` covers snapping to map
        points and a caller's position in a postcode).
    postcode_points
        The postcode centroids the records were located with (a
        :class:`~hotspots.geocode.PostcodeIndex` or an (n, 2) array of x, y in EPSG:27700).
        A record sitting on one then gets its spread from the spacing of the centroids
        around it (:data:`POSTCODE_RULE`): tens of metres in a city, hundreds in the
        country. The spread widens its precision (and so the distance limit) where
        postcodes are large, never narrows it, and is the unit in which distances are
        learnt (``SCALE_RULE``): a pair twice as far apart as its postcodes are wide
        counts the same in a city and in the country.
    min_probability
        Least learnt probability of being one incident for a pair to link. 0.5: a pair
        links when it is more likely a duplicate than a coincidence.

    Examples
    --------
    >>> inc = pd.DataFrame({
    ...     "_row": [0, 1, 2, 3],
    ...     "incident_id": ["PC1", "PC2", "ASB-1", "ASB-2"],
    ...     "when": pd.to_datetime(["2025-06-03", "2025-06-03", "2025-06-05", "2025-06-05"]),
    ...     "precision": "day",
    ...     "category": ["Anti-social behaviour", "Anti-social behaviour",
    ...                  "Anti-social behaviour", "Criminal damage and arson"],
    ...     "source": ["police", "police", "council", "council"],
    ...     "x": [1000.0, 5000.0, 1080.0, 5010.0], "y": [2000.0, 2000.0, 2000.0, 2000.0],
    ...     "loc_precision_m": [0.0, 0.0, 100.0, 100.0]})
    >>> r = link_duplicates(inc)
    >>> print(r.links.to_string(index=False))
     group  source    id  kept  distance_m  days_apart
         1  police   PC1  True         0.0         0.0
         1 council ASB-1 False        80.0         2.0
    >>> r.merged.tolist(), len(r.kept), r.params["groups_by_distance_limit_m"]
    ([2], 3, {'150': 1})
    """
    frame = _check(incidents, distance_m, window_days, min_distance_m, allowance_m, min_probability)
    points = _points(postcode_points)
    rec = _records(frame, category_families, source_priority, link_month_precision, points)
    window = int(np.floor(window_days))
    pairs = candidate_pairs(rec, distance_m, window, min_distance_m, allowance_m)
    prob, learnt, delays = pair_probabilities(pairs, rec, window)
    ranked = _rank(pairs, prob, rec, delays, window_days, min_probability)
    member = _greedy_groups(ranked, rec["source"], len(frame))
    links, groups, merged_pos = _tables(frame, rec, member, ranked)
    merged = np.sort(rec["row"][merged_pos])
    kept = incidents.loc[~incidents["_row"].isin(merged)]
    params = _params(
        distance_m,
        window_days,
        category_families,
        rec,
        link_month_precision,
        min_distance_m,
        allowance_m,
        min_probability,
        learnt,
        ranked,
        groups,
        merged,
    )
    return LinkResult(kept, merged, links, groups, params)


# --- steps ------------------------------------------------------------------------------


def _check(
    incidents: pd.DataFrame,
    distance_m: float | None,
    window_days: float,
    min_distance_m: float,
    allowance_m: float,
    min_probability: float,
) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in incidents.columns]
    if missing:
        raise InputError(
            f"incidents lack column(s) {missing}; locate them first "
            "(hotspots.geocode.locate_incidents)"
        )
    checks = [
        ("window_days", window_days),
        ("min_distance_m", min_distance_m),
        ("allowance_m", allowance_m),
        ("min_probability", min_probability),
    ]
    for name, value in checks + ([("distance_m", distance_m)] if distance_m is not None else []):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (np.isfinite(value) and value >= 0)
        ):
            raise InputError(f"{name} must be a number of at least 0, got {value!r}")
    if distance_m is not None and distance_m <= 0:
        raise InputError(f"distance_m must be above 0 metres, got {distance_m!r}")
    if min_probability > 1:
        raise InputError(f"min_probability must be at most 1, got {min_probability!r}")
    if incidents["_row"].duplicated().any():
        dup = incidents.loc[incidents["_row"].duplicated(), "_row"].iloc[0]
        raise InputError(f"incidents: _row must be unique; {dup} appears more than once")
    bad_prec = sorted(set(map(str, incidents["precision"].unique())) - set(_TIME_RANK))
    if bad_prec:
        raise InputError(f"incidents: precision {bad_prec} not one of {sorted(_TIME_RANK)}")
    for col in ("x", "y", "loc_precision_m"):
        v = incidents[col].to_numpy(float)
        if not np.isfinite(v).all():
            raise InputError(
                f"incidents: column {col!r} has blank or infinite values; "
                "link located incidents only"
            )
    if incidents["when"].isna().any():
        raise InputError("incidents: column 'when' has blank dates")
    return incidents.sort_values("_row", kind="stable").reset_index(drop=True)


def _points(postcode_points: PostcodeIndex | np.ndarray | None) -> np.ndarray | None:
    if postcode_points is None:
        return None
    if isinstance(postcode_points, PostcodeIndex):
        return postcode_points.full[["x", "y"]].to_numpy(float)
    pts = np.asarray(postcode_points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
        raise InputError(
            "postcode_points must be a PostcodeIndex or an (n, 2) array of finite x, y in "
            f"EPSG:27700; got an array of shape {pts.shape}"
        )
    return pts


def _records(
    frame: pd.DataFrame,
    families: Mapping[str, str] | None,
    source_priority: Sequence[str] | None,
    link_month: bool,
    points: np.ndarray | None,
) -> dict[str, Any]:
    fam_map = {category_key(k): v for k, v in (families or {}).items()}
    codes, uniques = pd.factorize(frame["category"], use_na_sentinel=False)
    labels = [category_key(str(c)) for c in uniques]
    family = np.array([fam_map.get(c, c) for c in labels], dtype=object)[codes]
    src_codes, src_names = pd.factorize(frame["source"], sort=True, use_na_sentinel=False)
    sources = [str(x) for x in src_names]
    order = [s for s in (source_priority or []) if s in sources]
    order += [s for s in sources if s not in order]
    p_codes, p_names = pd.factorize(frame["precision"], use_na_sentinel=False)
    precision = np.array([str(x) for x in p_names], dtype=object)[p_codes]
    day = frame["when"].to_numpy().astype("datetime64[D]")
    month = precision == "month"
    start = day.astype(np.int64)
    end = np.where(
        month, (day.astype("datetime64[M]") + 1).astype("datetime64[D]").astype(np.int64) - 1, start
    )
    xy = frame[["x", "y"]].to_numpy(float)
    loc = spread = frame["loc_precision_m"].to_numpy(float)
    on_postcode = np.zeros(len(frame), dtype=bool)
    if points is not None:
        loc, spread, on_postcode = postcode_precision(xy, loc, points)
    source = src_codes
    return {
        "row": frame["_row"].to_numpy(np.int64),
        "source": source,
        "family": pd.factorize(family, sort=True)[0],
        "xy": xy,
        "loc": loc,
        "spread": spread,
        "on_postcode": on_postcode,
        "month": month,
        "start": start,
        "end": end,
        "month_index": day.astype("datetime64[M]").astype(np.int64),
        "time_rank": np.select([precision == k for k in _TIME_RANK], list(_TIME_RANK.values())),
        "source_rank": np.array([order.index(s) for s in sources])[source],
        "linkable": ~month | link_month,
        "sources": sources,
        "priority": order,
    }


def _rank(
    pairs: pd.DataFrame,
    prob: np.ndarray,
    rec: dict[str, Any],
    delays: dict[tuple[int, int], int],
    window_days: float,
    min_probability: float,
) -> pd.DataFrame:
    """Linkable pairs (learnt probability at least ``min_probability``, or not learnt), best
    first by :data:`PAIR_ORDER`: pairs of learnt sources, then ``distance / limit + |days -
    median delay| / window`` (1 for a month pair, so dated evidence wins), then rows."""
    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    month = pairs["month"].to_numpy()
    delay = np.zeros(len(pairs))
    for (sa, sb), median in delays.items():
        delay[(rec["source"][a] == sa) & (rec["source"][b] == sb) & ~month] = median
    time_term = np.where(
        month,
        1.0,
        np.abs(pairs["days"].to_numpy() - delay) / window_days if window_days > 0 else 0.0,
    )
    ok = pairs["in_time"].to_numpy() & (np.isnan(prob) | (prob >= min_probability))
    ranked = pairs.assign(
        probability=prob,
        order=np.isnan(prob),
        # Rounded so that ties are decided by the rows, not by floating-point rounding.
        score=np.round(pairs["distance"] / pairs["limit"] + time_term, SCORE_DECIMALS),
        lo=rec["row"][np.minimum(a, b)],
        hi=rec["row"][np.maximum(a, b)],
    )[ok]
    return ranked.sort_values(["order", "score", "lo", "hi"], kind="stable").reset_index(drop=True)


def _greedy_groups(pairs: pd.DataFrame, source: np.ndarray, n: int) -> np.ndarray:
    """Group label per record (-1: not linked), merging candidates best first."""
    parent = np.arange(n)
    mask: dict[int, int] = {}  # root -> bitmask of its sources
    members: dict[int, list[int]] = {}
    pair_set = None

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in zip(pairs["a"].to_numpy(), pairs["b"].to_numpy(), strict=True):
        ra, rb = root(int(a)), root(int(b))
        if ra == rb:
            continue
        ma = mask.get(ra, 1 << int(source[ra]))
        mb = mask.get(rb, 1 << int(source[rb]))
        if ma & mb:
            continue
        ga, gb = members.get(ra, [ra]), members.get(rb, [rb])
        if len(ga) > 1 or len(gb) > 1:
            # Complete linkage: every pair of the merged group must itself be a candidate.
            if pair_set is None:
                pair_set = set(
                    zip(pairs["a"].to_numpy().tolist(), pairs["b"].to_numpy().tolist(), strict=True)
                )
            if not all((i, j) in pair_set or (j, i) in pair_set for i in ga for j in gb):
                continue
        parent[rb] = ra
        mask[ra] = ma | mb
        members[ra] = ga + gb
        members.pop(rb, None)
    label = np.full(n, -1)
    for r, ms in members.items():
        label[ms] = r
    return label


def _tables(
    frame: pd.DataFrame, rec: dict[str, Any], member: np.ndarray, pairs: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The links and groups tables, and the positions of the merged records."""
    pos = np.flatnonzero(member >= 0)
    g = pd.DataFrame(
        {
            "pos": pos,
            "root": member[pos],
            "loc": rec["loc"][pos],
            "time_rank": rec["time_rank"][pos],
            "source_rank": rec["source_rank"][pos],
            "row": rec["row"][pos],
        }
    )
    g = g.sort_values(["root", "loc", "time_rank", "source_rank", "row"], kind="stable")
    by_root = g.groupby("root", sort=True)
    kept_pos = by_root["pos"].first()
    # Groups are numbered in the order of their kept record's _row.
    kept_row = pd.Series(rec["row"][kept_pos.to_numpy()], index=kept_pos.index).sort_values()
    number = pd.Series(np.arange(1, len(kept_row) + 1), index=kept_row.index)
    p = g["pos"].to_numpy()
    k = kept_pos.reindex(g["root"]).to_numpy()
    either_month = (rec["month"][p] | rec["month"][k]) & (p != k)
    links = (
        pd.DataFrame(
            {
                "group": number.reindex(g["root"]).to_numpy(),
                "source": np.asarray(rec["sources"], dtype=object)[rec["source"][p]],
                "id": frame["incident_id"].to_numpy()[p].astype(str),
                "kept": p == k,
                "distance_m": np.round(np.hypot(*(rec["xy"][p] - rec["xy"][k]).T), 1),
                "days_apart": np.where(
                    either_month, np.nan, (rec["start"][p] - rec["start"][k]).astype(float)
                ),
            }
        )
        .sort_values(
            ["group", "kept", "source", "id"], ascending=[True, False, True, True], kind="stable"
        )
        .reset_index(drop=True)
    )

    a, b = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    inside = (member[a] == member[b]) & (member[a] >= 0)
    by_group = pairs[inside].groupby(member[a[inside]])
    # Competitors: records outside the group that were candidates for one of its members.
    comp = pd.DataFrame(
        {
            "root": np.concatenate([member[a], member[b]]),
            "other": np.concatenate([b, a]),
            "inside": np.concatenate([inside, inside]),
        }
    )
    comp = comp[(comp["root"] >= 0) & ~comp["inside"]]
    roots = number.index
    month = pd.Series(rec["month"][p], index=g["root"].to_numpy()).groupby(level=0).any()
    # The sources of a group as a bit mask, named once per distinct mask.
    bits = np.left_shift(1, rec["source"][p].astype(np.int64))
    mask = pd.Series(bits).groupby(g["root"].to_numpy()).sum()
    names = {m: "+".join(s for i, s in enumerate(rec["sources"]) if m >> i & 1) for m in set(mask)}
    groups = pd.DataFrame(
        {
            "group": number.to_numpy(),
            "records": by_root.size().reindex(roots).to_numpy(),
            "sources": mask.reindex(roots).map(names).to_numpy(),
            "kept_row": kept_row.to_numpy(),
            "time_basis": np.where(month.reindex(roots).to_numpy(dtype=bool), "month", "day"),
            "distance_limit_m": by_group["limit"].max().reindex(roots).to_numpy(),
            "probability": by_group["probability"].min().reindex(roots).round(3).to_numpy(),
            "competitors": comp.groupby("root")["other"]
            .nunique()
            .reindex(roots)
            .fillna(0)
            .to_numpy(np.int64),
        }
    )
    return links, groups, p[p != k]


def _params(
    distance_m: float | None,
    window_days: float,
    families: Mapping[str, str] | None,
    rec: dict[str, Any],
    link_month: bool,
    min_distance_m: float,
    allowance_m: float,
    min_probability: float,
    learnt: dict[str, dict[str, Any]],
    pairs: pd.DataFrame,
    groups: pd.DataFrame,
    merged: np.ndarray,
) -> dict[str, Any]:
    rule = DISTANCE_RULE.format(min=f"{min_distance_m:g}", allow=f"{allowance_m:g}")
    scale_rule = SCALE_RULE.format(min=f"{min_distance_m:g}", allow=f"{allowance_m:g}")
    on_pc = rec["on_postcode"]
    if on_pc.any():
        log.info(
            "Location precision of %d records at postcode centroids set automatically "
            "(rule: %s): median %.0f metres, spread median %.0f metres",
            int(on_pc.sum()),
            POSTCODE_RULE,
            float(np.median(rec["loc"][on_pc])),
            float(np.median(rec["spread"][on_pc])),
        )
    for key, info in learnt.items():
        log.info(
            "Duplicate evidence %s learnt automatically (rule: %s): %d duplicates over "
            "%.1f coincidences expected in the window; median delay %d %s",
            key,
            PROBABILITY_RULE,
            info["duplicates"],
            info["coincidences_in_window"],
            info["median"],
            "months" if key.endswith("(month)") else "days",
        )
    if distance_m is None and len(groups):
        q = groups["distance_limit_m"].quantile([0.1, 0.5, 0.9]).to_numpy()
        log.info(
            "Duplicate distance limit set per pair automatically (rule: %s): median %.0f "
            "metres over %d groups (10%%-90%%: %.0f-%.0f metres)",
            rule,
            q[1],
            len(groups),
            q[0],
            q[2],
        )
    log.info(
        "Linked %d records into %d groups; %d records merged as duplicates",
        int(groups["records"].sum()),
        len(groups),
        len(merged),
    )
    limits = groups["distance_limit_m"]
    return {
        "distance_m": distance_m,
        "distance_automatic": distance_m is None,
        "distance_rule": rule if distance_m is None else "fixed",
        "distance_scale_rule": scale_rule if distance_m is None else "fixed",
        "min_distance_m": min_distance_m,
        "allowance_m": allowance_m,
        "postcode_precision_rule": POSTCODE_RULE if on_pc.any() else None,
        "records_with_postcode_precision": int(on_pc.sum()),
        "window_days": window_days,
        "time_rule": f"dated records within {window_days:g} days (either order); a "
        "month-precision record matches records in the same calendar month",
        "probability_rule": PROBABILITY_RULE,
        "min_probability": min_probability,
        "learnt": learnt,
        "link_month_precision": link_month,
        "category_families": dict(families or {}),
        "keep_rule": KEEP_RULE,
        "source_priority": rec["priority"],
        "grouping": "greedy in pair_order; at most one record per source per group; every "
        "pair in a group passes the rules",
        "pair_order": PAIR_ORDER,
        "candidate_pairs": len(pairs),
        "groups": len(groups),
        "groups_by_time_basis": {
            k: int(v) for k, v in groups["time_basis"].value_counts().sort_index().items()
        },
        "groups_by_distance_limit_m": {
            f"{k:g}": int(v) for k, v in limits.round(-1).value_counts().sort_index().items()
        },
        "rows_merged": len(merged),
    }
