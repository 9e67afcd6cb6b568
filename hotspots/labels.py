"""Names people recognise, and recording artefacts: pure functions over location texts.

police.uk moves every incident to the nearest of ~750k anonymous "map points" and publishes
its ``Location`` as ``"On or near <name>"``, where the name is a street ("Granby Street") or a
*snap-point type* ("Supermarket", "Parking Area", ...: :data:`SNAP_TYPES`) for points at a
public place. Hotspots are named by their streets; types are only qualifiers.

Label rule (:func:`place_labels`)
---------------------------------
1. Each member incident's text loses ``"On or near "``; blank and ``"No Location"`` are
   dropped. What remains is a street, or a snap-point type (:data:`SNAP_TYPES`, case and
   spacing ignored).
2. **Streets**: the street with most member incidents, then the second if it holds at least
   :data:`SECOND_STREET_SHARE` (25 %) of the first's count; ties broken by name
   (alphabetical), never by row order, so a longer or shorter run of months names the same
   place the same way unless the counts themselves change order. ``"A / B"``.
3. **Qualifier**: the commonest snap-point type (ties by name) when types hold at least
   :data:`QUALIFIER_SHARE` (25 %) of the named incidents: ``"A / B (Supermarket)"``.
4. **No street inside** (every text a type): the streets of the incidents within
   :data:`NEARBY_RADIUS_M` (150 m) of the hotspot's centre, by the same rule:
   ``"Supermarket near A / B"``; with none there, the type alone.
5. **Area**: ``", <beat>"`` -- the area most member incidents are in, from the ``beat`` layer
   (else the first area layer given).
6. No text at all: ``"near <easting>, <northing>"``.

Artefact rule (:func:`artefact_flags`)
--------------------------------------
``artefact`` is, in this order of precedence:

``"police_station_or_custody"``
    at least :data:`ARTEFACT_TEXT_SHARE` (25 %) of the hotspot's incidents have a text
    naming a police station, custody suite or prison (:data:`CUSTODY_PATTERN`): crimes
    recorded where the offender was brought, not where they happened.
``"hospital"``
    the same share name a hospital or infirmary (:data:`HOSPITAL_PATTERN`): assaults
    reported at A&E are often recorded there.
``"one_point"``
    at least :data:`ONE_POINT_SHARE` (50 %) of the hotspot's incidents sit at one x/y
    (rounded to the metre) *and* that point holds at least
    :data:`ONE_POINT_MIN_PER_MONTH` (4) incidents per month of data -- about one a week,
    which an ordinary street's map point seldom records all year: possibly a recording
    address (a custody suite on an ordinary
    street, a shop reporting all its thefts) rather than a place to patrol.
``""``
    none of these.

``artefact_note`` is the sentence the popup shows. Flags never hide a hotspot; the run can
leave flagged hotspots out of the patrol ranking (``[hotspots] exclude_artefacts``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: police.uk snap-point types (the names of map points at public places), casefolded.
SNAP_TYPES = frozenset(
    t.casefold()
    for t in (
        "Airport/Airfield",
        "Bus/Coach Station",
        "Conference/Exhibition Centre",
        "Further/Higher Educational Building",
        "Hospital",
        "Motorway Service Area",
        "Nightclub",
        "Park/Open Space",
        "Parking Area",
        "Pedestrian Subway",
        "Petrol Station",
        "Police Station",
        "Prison",
        "Shopping Area",
        "Sports/Recreation Area",
        "Supermarket",
        "Theatre/Concert Hall",
        "Theme/Adventure Park",
        "Train Station",
    )
)
#: The second street is named when it holds this share of the first street's incidents.
SECOND_STREET_SHARE = 0.25
#: A snap-point type qualifies the label when types hold this share of named incidents.
QUALIFIER_SHARE = 0.25
#: Radius around a hotspot without street names in which its streets are looked for.
NEARBY_RADIUS_M = 150.0
#: Share of a hotspot's incidents at one x/y that flags it ``"one_point"``.
ONE_POINT_SHARE = 0.5
#: Incidents per month of data that the busiest point must hold for ``"one_point"``.
ONE_POINT_MIN_PER_MONTH = 4.0
#: Share of a hotspot's incidents with a custody or hospital text that flags it.
ARTEFACT_TEXT_SHARE = 0.25
CUSTODY_PATTERN = r"\bpolice station\b|\bcustody\b|\bprison\b|\bpolice headquarters\b"
HOSPITAL_PATTERN = r"\bhospital\b|\binfirm"
ARTEFACT_NOTES = {
    "police_station_or_custody": (
        "many incidents are recorded at a police station, custody suite or prison; they "
        "may have happened elsewhere"
    ),
    "hospital": (
        "many incidents are recorded at a hospital; assaults reported at A&E are often "
        "recorded there, not where they happened"
    ),
    "one_point": (
        "most incidents are recorded at one point; check whether it is a recording address"
    ),
    "": "",
}
_PREFIX = re.compile(r"^\s*on or near\s+", re.IGNORECASE)
_NO_LOCATION = {"", "no location"}


def place_name(text: object) -> str | None:
    """The place in a police.uk location text: no "On or near ", None when there is none.

    Examples
    --------
    >>> place_name("On or near Granby Street"), place_name(" No Location "), place_name(None)
    ('Granby Street', None, None)
    """
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NA:
        return None
    name = " ".join(_PREFIX.sub("", str(text)).split())
    return None if name.casefold() in _NO_LOCATION else name


def is_snap_type(name: str) -> bool:
    """True for a police.uk snap-point type such as "Supermarket" (case ignored).

    Examples
    --------
    >>> is_snap_type("Parking Area"), is_snap_type("parking  area"), is_snap_type("Mill Lane")
    (True, True, False)
    """
    return " ".join(str(name).split()).casefold() in SNAP_TYPES


def street_part(counts: Mapping[str, int]) -> str:
    """``"A / B"`` from street counts by the rule of the module notes ("" for none).

    Examples
    --------
    >>> street_part({"Mill Lane": 3, "High Street": 4, "Belvoir Street": 1})
    'High Street / Mill Lane'
    >>> street_part({"B Road": 2, "A Road": 2, "C Road": 2})
    'A Road / B Road'
    >>> street_part({"High Street": 9, "Mill Lane": 2})
    'High Street'
    """
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if not ranked:
        return ""
    names = [ranked[0][0]]
    if len(ranked) > 1 and ranked[1][1] >= SECOND_STREET_SHARE * ranked[0][1]:
        names.append(ranked[1][0])
    return " / ".join(names)


def label_parts(names: Sequence[str | None]) -> tuple[str, str]:
    """(streets, qualifier) of one hotspot from its incidents' place names.

    Examples
    --------
    >>> label_parts(["Granby Street"] * 5 + ["Belvoir Street"] * 2 + ["Supermarket"] * 3)
    ('Granby Street / Belvoir Street', 'Supermarket')
    >>> label_parts(["Parking Area", "Parking Area", "Supermarket", None])
    ('', 'Parking Area')
    """
    streets: dict[str, int] = {}
    types: dict[str, int] = {}
    for n in names:
        if n is None:
            continue
        bucket = types if is_snap_type(n) else streets
        bucket[n] = bucket.get(n, 0) + 1
    return _parts(streets, types)


def _parts(streets: Mapping[str, int], types: Mapping[str, int]) -> tuple[str, str]:
    """(streets, qualifier) from the counts of street names and of snap-point types."""
    n_types, n_named = sum(types.values()), sum(types.values()) + sum(streets.values())
    qualifier = ""
    if types and (not streets or n_types >= QUALIFIER_SHARE * n_named):
        qualifier = min(types.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return street_part(streets), qualifier


def compose_label(
    streets: str, qualifier: str, nearby: str = "", area: object = None, fallback: str = ""
) -> str:
    """One label from its parts (module notes, steps 2-6).

    Examples
    --------
    >>> compose_label("Granby Street / Belvoir Street", "", area="Castle")
    'Granby Street / Belvoir Street, Castle'
    >>> compose_label("High Street", "Supermarket", area="Wigston")
    'High Street (Supermarket), Wigston'
    >>> compose_label("", "Parking Area", nearby="Belgrave Gate", area="Belgrave")
    'Parking Area near Belgrave Gate, Belgrave'
    >>> compose_label("", "", fallback="near 458000, 304000")
    'near 458000, 304000'
    """
    if streets:
        text = f"{streets} ({qualifier})" if qualifier else streets
    elif qualifier:
        text = f"{qualifier} near {nearby}" if nearby else qualifier
    else:
        return fallback
    if (
        area is not None
        and not (isinstance(area, float) and np.isnan(area))
        and area is not pd.NA
        and str(area)
    ):
        text = f"{text}, {area}"
    return text


def place_labels(
    ids: np.ndarray,
    hotspot_ids: Sequence[int] | np.ndarray,
    locations: pd.Series | None,
    *,
    x: np.ndarray | None = None,
    y: np.ndarray | None = None,
    centres: np.ndarray | None = None,
    areas: Sequence[object] | None = None,
    fallback: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Label every hotspot by its streets (module notes).

    Parameters
    ----------
    ids
        Hotspot id of each incident (0: none), in the order of ``locations``.
    hotspot_ids
        The hotspots to label, in output order.
    locations
        Each incident's police.uk location text; None labels every hotspot by ``fallback``.
    x, y, centres
        Incident coordinates and the ``(n, 2)`` hotspot centres (metres), used to find the
        streets near a hotspot without street names; None skips that step.
    areas
        Each hotspot's area name for the suffix (e.g. its majority beat), or None.
    fallback
        Label of a hotspot with no text (default ``""``).

    Returns
    -------
    pandas.DataFrame
        ``hotspot_id``, ``label``, ``streets``, ``qualifier``, one row per hotspot.

    Examples
    --------
    >>> loc = pd.Series(["On or near Supermarket"] * 2 + ["On or near Mill Lane"] * 2)
    >>> place_labels(np.array([1, 1, 0, 0]), [1], loc, x=np.array([0.0, 0, 50, 500]),
    ...              y=np.zeros(4), centres=np.array([[0.0, 0.0]]), areas=["Castle"]
    ...              )["label"].tolist()
    ['Supermarket near Mill Lane, Castle']
    """
    hotspot_ids = [int(h) for h in hotspot_ids]
    n = len(hotspot_ids)
    fallback = list(fallback) if fallback is not None else [""] * n
    areas = list(areas) if areas is not None else [None] * n
    streets, quals, nearby = [""] * n, [""] * n, [""] * n
    if locations is not None and n:
        ids = np.asarray(ids)
        codes, distinct = _name_codes(locations)
        snap = np.array([is_snap_type(d) for d in distinct], dtype=bool)
        # Counts per (hotspot, distinct name), not per incident: a few thousand pairs.
        members = (ids > 0) & (codes >= 0)
        pairs = pd.DataFrame({"id": ids[members], "code": codes[members]}).value_counts()
        counts: dict[int, tuple[dict[str, int], dict[str, int]]] = {}
        for (h, c), k in pairs.items():
            bucket = counts.setdefault(int(h), ({}, {}))[1 if snap[c] else 0]
            bucket[distinct[c]] = int(k)
        pos = {h: i for i, h in enumerate(hotspot_ids)}
        for h, (street_counts, type_counts) in counts.items():
            if h in pos:
                streets[pos[h]], quals[pos[h]] = _parts(street_counts, type_counts)
        need = [i for i in range(n) if not streets[i] and quals[i]]
        if need and x is not None and y is not None and centres is not None:
            found = _nearby_streets(np.asarray(centres)[need], x, y, codes, distinct, snap)
            for i, text in zip(need, found, strict=True):
                nearby[i] = text
    labels = [
        compose_label(s, q, nb, a, fb)
        for s, q, nb, a, fb in zip(streets, quals, nearby, areas, fallback, strict=True)
    ]
    return pd.DataFrame(
        {"hotspot_id": hotspot_ids, "label": labels, "streets": streets, "qualifier": quals}
    )


def artefact_kind(name: str | None) -> str:
    """``"police_station_or_custody"``, ``"hospital"`` or ``""`` for one place name.

    Examples
    --------
    >>> [artefact_kind(n) for n in ("Police Station", "Leicester Royal Infirmiry", "Mill Lane")]
    ['police_station_or_custody', 'hospital', '']
    """
    if not name:
        return ""
    if re.search(CUSTODY_PATTERN, name, re.IGNORECASE):
        return "police_station_or_custody"
    if re.search(HOSPITAL_PATTERN, name, re.IGNORECASE):
        return "hospital"
    return ""


def artefact_flags(
    ids: np.ndarray,
    hotspot_ids: Sequence[int],
    x: np.ndarray,
    y: np.ndarray,
    locations: pd.Series | None = None,
    *,
    min_point_incidents: float = 0.0,
) -> pd.DataFrame:
    """Flag hotspots whose incidents sit mostly at one point or at custody / a hospital.

    ``min_point_incidents``: the busiest point's fewest incidents for ``"one_point"``
    (callers pass :data:`ONE_POINT_MIN_PER_MONTH` x months of data).

    Returns ``hotspot_id``, ``top_point_share`` (share of the hotspot's incidents at its
    busiest x/y, rounded to the metre), ``artefact`` and ``artefact_note`` (module notes).

    Examples
    --------
    >>> ids = np.array([1, 1, 1, 2, 2, 2, 2])
    >>> x = np.array([0.0, 0.0, 9.0, 5.0, 6.0, 7.0, 8.0])
    >>> loc = pd.Series(["On or near A Road"] * 3 + ["On or near Police Station"] * 2
    ...                 + ["On or near B Road"] * 2)
    >>> artefact_flags(ids, [1, 2], x, np.zeros(7), loc)[["artefact", "top_point_share"]
    ...     ].values.tolist()
    [['one_point', 0.6667], ['police_station_or_custody', 0.25]]
    """
    hotspot_ids = [int(h) for h in hotspot_ids]
    ids = np.asarray(ids)
    members = ids > 0
    frame = pd.DataFrame(
        {
            "id": ids[members],
            "x": np.round(np.asarray(x)[members]),
            "y": np.round(np.asarray(y)[members]),
        }
    )
    total = frame.groupby("id").size()
    top = frame.groupby(["id", "x", "y"]).size().groupby(level="id").max()
    share = (top / total).reindex(hotspot_ids).fillna(0.0)
    at_top = top.reindex(hotspot_ids).fillna(0)
    kind_share = {}
    if locations is not None:
        codes, distinct = _name_codes(pd.Series(locations).iloc[np.flatnonzero(members)])
        # One regex test per distinct name; the last entry is "no name" (code -1).
        kind_of = np.array([artefact_kind(d) for d in distinct] + [""], dtype=object)
        kinds = kind_of[codes]
        for kind in ("police_station_or_custody", "hospital"):
            hit = frame.loc[kinds == kind].groupby("id").size()
            kind_share[kind] = (hit / total).reindex(hotspot_ids).fillna(0.0)
    flags = []
    for h in hotspot_ids:
        flag = ""
        for kind in ("police_station_or_custody", "hospital"):
            if kind in kind_share and kind_share[kind][h] >= ARTEFACT_TEXT_SHARE:
                flag = kind
                break
        if not flag and share[h] >= ONE_POINT_SHARE and at_top[h] >= min_point_incidents:
            flag = "one_point"
        flags.append(flag)
    return pd.DataFrame(
        {
            "hotspot_id": hotspot_ids,
            "top_point_share": np.round(share.to_numpy(float), 4),
            "artefact": flags,
            "artefact_note": [ARTEFACT_NOTES[f] for f in flags],
        }
    )


def _name_codes(locations: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code into the distinct place names (-1: none), and those names.

    Place names are computed once per distinct text (a categorical's categories, else
    ``pd.factorize``); texts that differ only in prefix or spacing share one code.
    """
    values = pd.Series(locations)
    if isinstance(values.dtype, pd.CategoricalDtype):
        # Only the categories some row uses (a subset keeps every category of the whole).
        used, text_codes = np.unique(values.cat.codes.to_numpy(), return_inverse=True)
        text_codes = text_codes.reshape(-1)
        if len(used) and used[0] < 0:
            used, text_codes = used[1:], text_codes - 1
        texts = values.cat.categories.to_numpy(dtype=object)[used]
    else:
        text_codes, texts = pd.factorize(values.astype(object), use_na_sentinel=True)
    names = pd.Series([place_name(t) for t in texts], dtype=object)
    name_codes, distinct = pd.factorize(names, use_na_sentinel=True)
    codes = np.append(name_codes, -1)[text_codes]
    return codes, np.asarray(distinct, dtype=object)


def _nearby_streets(
    centres: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    distinct: np.ndarray,
    snap: np.ndarray,
) -> list[str]:
    from scipy.spatial import cKDTree

    street = codes >= 0
    street[street] = ~snap[codes[street]]
    if not street.any() or not len(centres):
        return [""] * len(centres)
    pts = np.column_stack([np.asarray(x)[street], np.asarray(y)[street]])
    found = cKDTree(pts).query_ball_point(centres, r=NEARBY_RADIUS_M)
    named = codes[street]
    out = []
    for rows in found:
        near, counts = np.unique(named[rows], return_counts=True)
        out.append(street_part(dict(zip(distinct[near], counts.tolist(), strict=True))))
    return out
