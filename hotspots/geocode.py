"""Locating incidents in EPSG:27700: coordinates checked, repaired and projected, or
postcodes looked up. Assigning the located points to areas is :mod:`hotspots.assign`.

Coordinates
-----------
WGS84 longitude/latitude are projected with pyproj (vectorised). The pip wheel of PROJ
lacks the OSTN15 grid, so the Helmert fallback is used: about 2 m absolute error, far
below police.uk's snapping and fine for hotspot maps. Easting/northing are used as given.

Repairs (counted in ``notes``, never silent): latitude and longitude swapped; British
National Grid eastings/northings given in lon/lat columns (and the reverse). Rows that
cannot be repaired are rejected: ``bad_coordinates``, ``null_island`` (0, 0),
``outside_uk``.

Postcodes
---------
A full postcode (any spacing or case: ``le100aa``, ``LE10 0AA``) is looked up in a
centroid table; a postcode sector (``LE11 4``) takes the mean of its postcodes and a
precision radius (the RMS distance of those postcodes from it). A district alone
(``LE11``) is too coarse for hotspots and is rejected ``bad_postcode``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyproj import Transformer

from hotspots.schema import Reason

UK_LON = (-9.0, 2.5)
UK_LAT = (49.0, 61.5)
BNG_X = (0.0, 700_000.0)
BNG_Y = (0.0, 1_300_000.0)
#: Typical radius of a full postcode's delivery points around its centroid.
POSTCODE_PRECISION_M = 100.0

_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?)([0-9])([A-Z]{2})$")
_FULL_SPACED = r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}"
_SECTOR = r"[A-Z]{1,2}[0-9][0-9A-Z]? [0-9]"


def lonlat_to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 lon/lat (degrees) to British National Grid (metres).

    Examples
    --------
    >>> x, y = lonlat_to_bng(np.array([-1.1398]), np.array([52.6369]))
    >>> round(float(x[0]) / 100), round(float(y[0]) / 100)
    (4583, 3047)
    """
    tr = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = tr.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.asarray(x), np.asarray(y)


def normalise_postcode(values: pd.Series) -> pd.Series:
    """Upper-case and space postcodes as ``"LE10 0AA"``; sectors as ``"LE11 4"``.

    Examples
    --------
    >>> normalise_postcode(pd.Series(["le100aa", " LE1  1AA", "LE11 4", "LE11"])).tolist()
    ['LE10 0AA', 'LE1 1AA', 'LE11 4', 'LE11']
    """
    spaced = values.astype(str).str.upper().str.replace(r"[^A-Z0-9 ]", "", regex=True)
    spaced = spaced.str.replace(r"\s+", " ", regex=True).str.strip()
    s = spaced.str.replace(" ", "", regex=False)
    full = s.str.match(_POSTCODE.pattern)
    # "LE11 4" is a sector, but "LE114" could be either; only a written space says sector.
    sector = spaced.str.match(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9]$") & ~full
    out = s.copy()
    out[full] = s[full].str[:-3] + " " + s[full].str[-3:]
    out[sector] = spaced[sector]
    return out


@dataclass(frozen=True)
class PostcodeIndex:
    """Postcode and sector centroids in EPSG:27700, with the sector precision radius."""

    full: pd.DataFrame  # index postcode; columns x, y
    sectors: pd.DataFrame  # index sector; columns x, y, precision_m

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> PostcodeIndex:
        """Build from a frame with ``postcode`` and ``lat``/``lon`` or ``easting``/``northing``."""
        pcs = normalise_postcode(table["postcode"])
        # Only full postcodes key the table: a blank or a sector written in a postcode
        # column would otherwise become a bogus key and skew its sector's centroid.
        ok = pcs.str.fullmatch(_FULL_SPACED).to_numpy()
        if "lat" in table:
            x, y = lonlat_to_bng(table["lon"].to_numpy()[ok], table["lat"].to_numpy()[ok])
        else:
            x, y = table["easting"].to_numpy(float)[ok], table["northing"].to_numpy(float)[ok]
        full = pd.DataFrame({"x": x, "y": y}, index=pcs.to_numpy()[ok])
        full = full[~full.index.duplicated(keep="first")]
        sec = pd.Series(full.index.str[:-2], index=full.index)
        g = full.groupby(sec.to_numpy())
        centre = g[["x", "y"]].mean()
        d2 = (full["x"] - centre["x"].reindex(sec).to_numpy()) ** 2 + (
            full["y"] - centre["y"].reindex(sec).to_numpy()
        ) ** 2
        centre["precision_m"] = np.sqrt(d2.groupby(sec.to_numpy()).mean()) + POSTCODE_PRECISION_M
        return cls(full, centre)


@dataclass(frozen=True)
class Located:
    """Result of :func:`locate_incidents`."""

    incidents: pd.DataFrame
    rejects: pd.DataFrame
    notes: dict[str, int]


def _classify_lonlat(
    lon: np.ndarray, lat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return x, y, reason ('' = ok) and note for lon/lat pairs."""
    n = len(lon)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    reason = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    finite = np.isfinite(lon) & np.isfinite(lat)
    reason[~finite] = str(Reason.BAD_COORDINATES)
    null = finite & (lon == 0) & (lat == 0)
    reason[null] = str(Reason.NULL_ISLAND)
    rest = finite & ~null

    def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a >= UK_LON[0]) & (a <= UK_LON[1]) & (b >= UK_LAT[0]) & (b <= UK_LAT[1])

    ok = rest & inside(lon, lat)
    swapped = rest & ~ok & inside(lat, lon)
    bng = (
        rest
        & ~ok
        & ~swapped
        & (lon >= 1000)
        & (lon <= BNG_X[1])
        & (lat >= 1000)
        & (lat <= BNG_Y[1])
    )
    lo = np.where(swapped, lat, lon)
    la = np.where(swapped, lon, lat)
    good = ok | swapped
    if good.any():
        x[good], y[good] = lonlat_to_bng(lo[good], la[good])
    x[bng], y[bng] = lon[bng], lat[bng]
    note[swapped] = "lat/lon swapped, fixed"
    note[bng] = "easting/northing in lon/lat columns, fixed"
    outside = rest & ~good & ~bng
    reason[outside] = np.where(
        (np.abs(lon[outside]) > 180) | (np.abs(lat[outside]) > 90),
        str(Reason.BAD_COORDINATES),
        str(Reason.OUTSIDE_UK),
    )
    return x, y, reason, note


def _classify_bng(
    e: np.ndarray, n_: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = len(e)
    reason = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    x = e.astype(float).copy()
    y = n_.astype(float).copy()
    finite = np.isfinite(e) & np.isfinite(n_)
    reason[~finite] = str(Reason.BAD_COORDINATES)
    null = finite & (e == 0) & (n_ == 0)
    reason[null] = str(Reason.NULL_ISLAND)
    rest = finite & ~null

    def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a > BNG_X[0]) & (a <= BNG_X[1]) & (b > BNG_Y[0]) & (b <= BNG_Y[1])

    ok = rest & inside(e, n_)
    lonlat = (
        rest & ~ok & (e >= UK_LON[0]) & (e <= UK_LON[1]) & (n_ >= UK_LAT[0]) & (n_ <= UK_LAT[1])
    )
    if lonlat.any():
        x[lonlat], y[lonlat] = lonlat_to_bng(e[lonlat], n_[lonlat])
        note[lonlat] = "lon/lat in easting/northing columns, fixed"
    swapped = rest & ~ok & ~lonlat & inside(n_, e)
    x[swapped], y[swapped] = n_[swapped], e[swapped]
    note[swapped] = "easting/northing swapped, fixed"
    reason[rest & ~ok & ~lonlat & ~swapped] = str(Reason.OUTSIDE_UK)
    x[reason != ""] = np.nan
    y[reason != ""] = np.nan
    return x, y, reason, note


def locate_incidents(incidents: pd.DataFrame, *, postcodes: PostcodeIndex | None = None) -> Located:
    """Give every incident ``x``/``y`` in EPSG:27700 and ``loc_precision_m``, or reject it.

    Coordinates are used where present and valid; otherwise the postcode (when the input
    has one and a postcode table is given). Coordinates that come with a ``loc_precision_m``
    above 0 or a ``geocode_note`` (rows located before, read from an ingested dataset)
    keep them: a postcode sector's centroid stays as imprecise as when it was found.

    Examples
    --------
    >>> f = pd.DataFrame({"_row": [0], "easting": [458592.0], "northing": [304248.0],
    ...                   "loc_precision_m": [610.7], "geocode_note": ["located by postcode"]})
    >>> located = locate_incidents(f).incidents
    >>> located[["loc_precision_m", "geocode_note"]].values.tolist()
    [[610.7, 'located by postcode']]
    """
    n = len(incidents)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    prec = np.full(n, np.nan)
    reason = np.full(n, "", dtype=object)
    note = np.full(n, "", dtype=object)
    source = np.full(n, "", dtype=object)  # the columns each row's location came from
    has_any = np.zeros(n, dtype=bool)
    earlier_prec, earlier_note = _located_before(incidents)
    for a, b, fn in (("lon", "lat", _classify_lonlat), ("easting", "northing", _classify_bng)):
        if a not in incidents:
            continue
        va, vb = incidents[a].to_numpy(float), incidents[b].to_numpy(float)
        present = ~(np.isnan(va) & np.isnan(vb)) & ~has_any
        if not present.any():
            continue
        xi, yi, ri, ni = fn(va[present], vb[present])
        idx = np.flatnonzero(present)
        x[idx], y[idx], reason[idx] = xi, yi, ri
        note[idx] = np.where(ni == "", earlier_note[idx], ni)
        prec[idx] = earlier_prec[idx]
        source[idx] = a
        has_any |= present
    if "postcode" in incidents:
        # Only rows still without a location try their postcode (NaN: another input's row).
        candidates = np.flatnonzero(~has_any | (reason != ""))
        given = incidents["postcode"].iloc[candidates].fillna("").astype(str).str.strip()
        idx = candidates[(given != "").to_numpy()]
        if len(idx):
            codes = given[given != ""].reset_index(drop=True)
            px, py, pp, pr = _lookup_postcodes(codes, postcodes)
            x[idx], y[idx], prec[idx], reason[idx] = px, py, pp, pr
            source[idx] = "postcode"
            note[idx] = np.where(pr == "", "located by postcode", "")
            has_any[idx] = True
    reason[~has_any] = str(Reason.NO_LOCATION)
    out = incidents.copy(deep=False)  # copy-on-write: new columns only, no 5M-row copy
    out["x"], out["y"], out["loc_precision_m"] = x, y, prec
    out["geocode_note"] = note
    bad = reason != ""
    rejects = pd.DataFrame(
        {
            "_row": out.loc[bad, "_row"].to_numpy(),
            "reason": reason[bad],
            "detail": _location_detail(incidents, np.flatnonzero(bad), source[bad]),
        }
    )
    notes = pd.Series(note[~bad]).value_counts().to_dict()
    notes.pop("", None)
    return Located(
        out.loc[~bad].reset_index(drop=True), rejects, {k: int(v) for k, v in notes.items()}
    )


def _location_detail(incidents: pd.DataFrame, rows: np.ndarray, source: np.ndarray) -> np.ndarray:
    """What each rejected row gave as its location: the coordinate pair or the postcode.

    Built for the rejected rows only; formatting every row's pair would make millions of
    strings that are never written.
    """
    out = np.full(len(rows), "", dtype=object)
    for a, b in (("lon", "lat"), ("easting", "northing")):
        mine = source == a
        if mine.any():
            va = incidents[a].to_numpy(float)[rows[mine]]
            vb = incidents[b].to_numpy(float)[rows[mine]]
            out[mine] = [f"{_num(p)}, {_num(q)}" for p, q in zip(va, vb, strict=True)]
    postcode = source == "postcode"
    if postcode.any():
        given = incidents["postcode"].iloc[rows[postcode]]
        out[postcode] = given.astype(str).str.strip().to_numpy()
    return out


def _located_before(incidents: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Precision (0 where none) and note ("" where none) each row was located with before."""
    n = len(incidents)
    prec, note = np.zeros(n), np.full(n, "", dtype=object)
    if "loc_precision_m" in incidents:
        given = incidents["loc_precision_m"].to_numpy(float)
        prec = np.where(given > 0, given, 0.0)
    if "geocode_note" in incidents:
        # Through the distinct notes: a dataset's millions of rows hold a handful of them.
        given = incidents["geocode_note"].astype("category")
        text = np.append(given.cat.categories.to_numpy(object), "")  # code -1 (none) -> ""
        note = text[given.cat.codes.to_numpy()]
    return prec, note


def _num(value: float) -> str:
    return "missing" if np.isnan(value) else str(value)


def _lookup_postcodes(raw: pd.Series, index: PostcodeIndex | None) -> tuple[np.ndarray, ...]:
    norm = normalise_postcode(raw)
    n = len(norm)
    x, y, prec = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    reason = np.full(n, str(Reason.BAD_POSTCODE), dtype=object)
    full = norm.str.fullmatch(_FULL_SPACED).to_numpy()
    sector = norm.str.fullmatch(_SECTOR).to_numpy()
    if index is None:
        reason[full | sector] = str(Reason.UNKNOWN_POSTCODE)
        return x, y, prec, reason
    for mask, table, fixed in (
        (full, index.full, POSTCODE_PRECISION_M),
        (sector, index.sectors, None),
    ):
        if not mask.any():
            continue
        hit = table.reindex(norm[mask].to_numpy())
        found = hit["x"].notna().to_numpy()
        idx = np.flatnonzero(mask)
        x[idx], y[idx] = hit["x"].to_numpy(), hit["y"].to_numpy()
        prec[idx] = fixed if fixed is not None else hit["precision_m"].to_numpy()
        reason[idx] = np.where(found, "", str(Reason.UNKNOWN_POSTCODE))
    return x, y, prec, reason
