"""Reading postcode centroid tables (ONS NSPL/ONSPD style or any postcode → lat/long CSV)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from hotspots.io._text import decode_bytes, read_bytes, read_delimited
from hotspots.schema import InputError, MissingFileError

log = logging.getLogger("hotspots.io")

DEFAULT_POSTCODES = (
    Path(__file__).resolve().parents[1]
    / "_data"
    / "postcodes"
    / "LE_postcode_centroids_nspl_2025-05.csv.gz"
)
_PC = ("postcode", "pcd", "pcds", "pcd7", "pcd8", "pcd2")
_LAT = ("lat", "latitude")
_LON = ("long", "lon", "lng", "longitude")
_EAST = ("oseast1m", "easting", "east", "x")
_NORTH = ("osnrth1m", "northing", "north", "y")
_FULL_POSTCODE = r"[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}"


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    low = {c.lower().strip(): c for c in columns}
    return next((low[n] for n in names if n in low), None)


def read_postcode_table(path: str | Path | None = None) -> tuple[pd.DataFrame, int]:
    """Read a postcode centroid table.

    Returns a frame with ``postcode`` (as written) and either ``lat``/``lon`` or
    ``easting``/``northing`` floats, and how many rows were dropped for having no full
    postcode or no usable coordinates (blank, non-numeric, or NSPL's ``0``/``99.999999``
    for non-geographic postcodes).
    """
    p = Path(path) if path is not None else DEFAULT_POSTCODES
    if not p.exists():
        raise MissingFileError(f"{p}: no such postcode table")
    text, _ = decode_bytes(read_bytes(p), str(p))
    frame = read_delimited(text, str(p))
    cols = list(frame.columns)
    pc = _pick(cols, _PC)
    if pc is None:
        raise InputError(f"{p}: no postcode column (looked for {list(_PC)}); found {cols[:8]}")
    lat, lon, east, north = (_pick(cols, n) for n in (_LAT, _LON, _EAST, _NORTH))
    out = pd.DataFrame({"postcode": frame[pc]})
    if lat and lon:
        out["lat"] = pd.to_numeric(frame[lat], errors="coerce")
        out["lon"] = pd.to_numeric(frame[lon], errors="coerce")
        ok = out["lat"].between(49, 61.5) & out["lon"].between(-9, 2.5) & (out["lon"] != 0)
    elif east and north:
        out["easting"] = pd.to_numeric(frame[east], errors="coerce")
        out["northing"] = pd.to_numeric(frame[north], errors="coerce")
        ok = out["easting"].between(1, 700_000) & out["northing"].between(1, 1_300_000)
    else:
        raise InputError(
            f"{p}: no coordinate columns (lat/long or easting/northing); found {cols[:8]}"
        )
    # Blanks and sectors in the postcode column cannot be looked up as postcodes.
    spaced = frame[pc].str.replace(r"\s+", "", regex=True).str.upper()
    ok &= spaced.str.fullmatch(_FULL_POSTCODE).fillna(False)
    dropped = int((~ok).sum())
    if dropped:
        log.info(
            "%s: %d postcode rows without a full postcode or usable coordinates ignored",
            p.name,
            dropped,
        )
    return out.loc[ok].reset_index(drop=True), dropped
