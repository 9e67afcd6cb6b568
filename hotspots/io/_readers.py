"""Readers: data.police.uk street-level CSVs and mapped partner exports → raw tables.

A reader returns every input row as text (so rejects keep their original values) plus
``_file`` and ``_line``. :func:`hotspots.io.load_incidents` turns raw rows into the
canonical table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.io._frames import CompactFiles
from hotspots.io._progress import progress
from hotspots.io._sources import SourceFile, expand_paths
from hotspots.io._text import (
    ReadBudget,
    check_header,
    decode_bytes,
    describe_columns,
    read_delimited,
    shorten,
)
from hotspots.schema import CRS_METRIC, CRS_WGS84, InputError

POLICE_UK_COLUMNS: tuple[str, ...] = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
_POLICE_UK_REQUIRED = ("Month", "Longitude", "Latitude", "Crime type")
_GEO_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb")


@dataclass(frozen=True)
class ColumnMapping:
    """Which input columns hold the canonical fields of a partner export.

    Give ``id``, ``category``, one of ``date`` / ``datetime`` / ``month``, and one location:
    ``lon`` + ``lat``, ``easting`` + ``northing``, or ``postcode`` (coordinates win where a
    row has both, the postcode is the fallback). GeoPackage/GeoJSON inputs take their
    location from the geometry.
    """

    id: str | None = None
    date: str | None = None
    datetime: str | None = None
    month: str | None = None
    category: str | None = None
    lon: str | None = None
    lat: str | None = None
    easting: str | None = None
    northing: str | None = None
    postcode: str | None = None
    location: str | None = None
    dayfirst: bool = True
    sheet: str | int | None = None
    delimiter: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, object], where: str = "columns") -> ColumnMapping:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        return cls(**data)  # type: ignore[arg-type]

    def check(self, where: str, *, geometry: bool = False) -> None:
        """Raise :class:`InputError` unless the mapping names a date, category and location.

        ``geometry``: the file's geometry gives the location, so no location column is needed.
        """
        if not (self.date or self.datetime or self.month):
            raise InputError(f"{where}: the column mapping needs 'date', 'datetime' or 'month'")
        if not self.category:
            raise InputError(f"{where}: the column mapping needs 'category'")
        if bool(self.lon) != bool(self.lat) or bool(self.easting) != bool(self.northing):
            raise InputError(f"{where}: give both 'lon' and 'lat' (or 'easting' and 'northing')")
        if not (geometry or self.lon or self.easting or self.postcode):
            raise InputError(
                f"{where}: the column mapping needs a location: 'lon' and 'lat', "
                "'easting' and 'northing', or 'postcode'"
            )

    def columns_used(self) -> list[str]:
        """The input columns this mapping reads, in a fixed order."""
        names = (
            self.id,
            self.date,
            self.datetime,
            self.month,
            self.category,
            self.lon,
            self.lat,
            self.easting,
            self.northing,
            self.postcode,
            self.location,
        )
        return [c for c in names if c]


@dataclass(frozen=True)
class RawTable:
    """Input rows as text, with where each came from."""

    frame: pd.DataFrame
    files: list[dict[str, object]]
    skipped_files: list[str] = field(default_factory=list)


def _file_record(f: SourceFile, raw: bytes, rows: int, encoding: str) -> dict[str, object]:
    return {
        "file": f.name,
        "rows": rows,
        "encoding": encoding,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }


def read_police_uk(
    paths: str | Path | Iterable[str | Path],
    *,
    months: tuple[str, str] | None = None,
    allow_empty: bool = False,
    budget: ReadBudget | None = None,
) -> RawTable:
    """Read data.police.uk street-level CSVs: a file, list, folder or zip archive.

    Parameters
    ----------
    paths
        Files, folders (searched recursively for ``*-street.csv[.gz]``) or archives.
    months
        Optional ``("YYYY-MM", "YYYY-MM")``: files whose name gives a month outside this
        inclusive range are skipped unread (and listed in ``skipped_files``).
    allow_empty
        Return no rows, instead of raising :class:`InputError`, when every file is
        outside ``months`` (one of several inputs may hold only older months).
    budget
        Decompression limits shared by every file of the load
        (:class:`~hotspots.io._text.ReadBudget`); a new one from the environment if ``None``.
    """
    budget = budget or ReadBudget()
    files = expand_paths(paths, pattern="")
    street = [f for f in files if "-street" in Path(f.member or f.path.name).name]
    files = street or files
    frames, records, skipped = CompactFiles(), [], []
    for f in progress(files, desc="reading police.uk files", unit="file"):
        if months and f.month and not (months[0] <= f.month <= months[1]):
            skipped.append(f.name)
            continue
        raw = f.read(budget)
        text, enc = decode_bytes(raw, f.name)
        frame = _police_uk_names(read_delimited(text, f.name), f.name)
        missing = [c for c in _POLICE_UK_REQUIRED if c not in frame.columns]
        if missing:
            raise InputError(
                f"{f.name}: not a police.uk street-level file: missing column(s) {missing}; "
                f"found {describe_columns(list(frame.columns))}; for another export map its "
                "columns in a config file ([[inputs]] with columns = {...}, see docs/data.md)"
            )
        frames.add(frame)  # as text, 12 months of a force take GBs
        records.append(_file_record(f, raw, len(frame), enc))
    if not records and allow_empty and skipped:
        empty = pd.DataFrame({c: pd.Series(dtype="str") for c in POLICE_UK_COLUMNS})
        frames.add(empty.assign(_line=pd.Series(dtype="int64")))
    if not frames.rows:
        raise InputError(
            f"{list(map(str, paths)) if not isinstance(paths, str | Path) else paths}: "
            "no police.uk files left to read (check the period)"
        )
    return RawTable(_concat_files(frames, records), records, skipped)


def _concat_files(frames: CompactFiles, records: list[dict[str, object]]) -> pd.DataFrame:
    """One table of every file's rows, with ``_file`` as a categorical of the file names.

    The files' repetitive text becomes categorical as they are added, a run of files at a
    time, so that millions of rows are never all held as text at once (the file name
    alone would be ~60 bytes a row).
    """
    table = frames.table()
    names = [str(r["file"]) for r in records]
    unique = list(dict.fromkeys(names))
    codes = np.repeat([unique.index(n) for n in names], frames.rows)
    table.insert(0, "_file", pd.Categorical.from_codes(codes, unique))
    return table


def _police_uk_names(frame: pd.DataFrame, name: str = "") -> pd.DataFrame:
    """Match police.uk headers ignoring case and spacing (``crime  type`` → ``Crime type``).

    Two headers that match the same column (``Month`` and ``month``) are refused, naming
    both, rather than one of them being read unseen.
    """
    canon = {" ".join(c.lower().split()): c for c in POLICE_UK_COLUMNS}
    renames = {c: canon[k] for c in frame.columns if (k := " ".join(c.lower().split())) in canon}
    targets: dict[str, str] = {}
    for col in frame.columns:
        target = renames.get(col, col)
        if target in targets:
            raise InputError(
                f"{name}: columns {shorten(targets[target])!r} and {shorten(col)!r} both "
                f"name the police.uk column {target!r}; rename or remove one"
            )
        targets[target] = col
    return frame.rename(columns=renames)


def read_mapped(
    path: str | Path, mapping: ColumnMapping, *, budget: ReadBudget | None = None
) -> RawTable:
    """Read a partner export (CSV, Excel, GeoPackage or GeoJSON) as text rows.

    ``path`` may also be a folder or zip archive of CSVs with the same columns. Geometry
    files get their point locations (polygon interior points for areas) as
    ``_geom_lon``/``_geom_lat`` (geographic CRS, reprojected to EPSG:4326) or
    ``_geom_x``/``_geom_y`` (projected CRS, reprojected to EPSG:27700).
    """
    budget = budget or ReadBudget()
    frames, records = CompactFiles(), []
    for f in expand_paths(path):
        frame, raw, enc = _read_one_mapped(f, mapping, budget)
        frames.add(frame)
        records.append(_file_record(f, raw, len(frame), enc))
    return RawTable(_concat_files(frames, records), records)


def _read_one_mapped(
    f: SourceFile, mapping: ColumnMapping, budget: ReadBudget
) -> tuple[pd.DataFrame, bytes, str]:
    suffix = "".join(Path(f.member or f.path.name).suffixes[-2:]).lower()
    geo = suffix.endswith(_GEO_SUFFIXES)
    mapping.check(f.name, geometry=geo)
    if suffix.endswith((".xlsx", ".xlsm", ".xls")):
        frame, raw, enc = _read_excel(f, mapping, budget)
    elif geo:
        frame, raw, enc = _read_geo(f, budget)
    else:
        raw = f.read(budget)
        text, enc = decode_bytes(raw, f.name)
        frame = read_delimited(text, f.name, delimiter=mapping.delimiter)
    missing = [c for c in mapping.columns_used() if c not in frame.columns]
    if missing:
        hint = ""
        if len(frame.columns) <= 2 and any(d in frame.columns[0] for d in ";\t|,"):
            hint = " (the file may use another delimiter; set 'delimiter')"
        raise InputError(
            f"{f.name}: column(s) {missing} not found; the file has "
            f"{describe_columns(list(frame.columns))}{hint}"
        )
    return frame, raw, enc


def _read_excel(
    f: SourceFile, mapping: ColumnMapping, budget: ReadBudget
) -> tuple[pd.DataFrame, bytes, str]:
    import io

    raw = f.read(budget)
    try:
        frame = pd.read_excel(io.BytesIO(raw), sheet_name=mapping.sheet or 0, dtype=object)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        reason = shorten(exc, 200)
        raise InputError(f"{f.name}: cannot read as an Excel workbook ({reason})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    check_header(list(frame.columns), f.name)
    for col in frame.columns:
        frame[col] = frame[col].map(_excel_cell_text)
    frame["_line"] = range(2, len(frame) + 2)
    return frame, raw, "xlsx"


def _excel_cell_text(value: object) -> str:
    """Excel cells as text; date cells at midnight keep day precision."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        ts = pd.Timestamp(value)
        return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _has_geometry(gdf: object) -> bool:
    """Whether GDAL gave a layer with geometry (a CSV or a plain table has none)."""
    import geopandas as gpd

    try:
        return isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry is not None
    except AttributeError:  # a GeoDataFrame without an active geometry column
        return False


def _read_geo(f: SourceFile, budget: ReadBudget) -> tuple[pd.DataFrame, bytes, str]:
    import geopandas as gpd

    raw = f.read(budget)
    try:
        gdf = gpd.read_file(f.path)
    except Exception as exc:  # pyogrio raises DataSourceError and others
        reason = shorten(exc, 200)
        raise InputError(f"{f.name}: cannot read as a GeoPackage/GeoJSON ({reason})") from None
    if not _has_geometry(gdf):
        raise InputError(f"{f.name}: has no geometry; map its columns as a CSV instead")
    check_header([str(c) for c in gdf.columns if c != gdf.geometry.name], f.name)
    if gdf.crs is None:
        raise InputError(
            f"{f.name}: the layer has no CRS (a shapefile without its .prj?); "
            "save it with one, e.g. EPSG:27700 or EPSG:4326"
        )
    # Reproject once, here: a projected layer may be in any metric CRS (Web Mercator,
    # UTM), and only EPSG:27700 values can be read as eastings and northings later.
    geographic = gdf.crs.is_geographic
    gdf = gdf.to_crs(CRS_WGS84 if geographic else CRS_METRIC)
    geom = gdf.geometry
    usable = geom.notna() & ~geom.is_empty
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    x = np.where(usable, pts.x, np.nan)
    y = np.where(usable, pts.y, np.nan)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    # Nulls as blank text, like an empty CSV cell (pandas keeps NaN through astype(str)).
    frame = frame.astype(object).where(frame.notna(), "").astype(str)
    frame = frame.replace({"None": "", "nan": "", "NaT": "", "<NA>": ""})
    cols = ("_geom_lon", "_geom_lat") if geographic else ("_geom_x", "_geom_y")
    frame[cols[0]], frame[cols[1]] = x, y
    frame["_line"] = range(1, len(frame) + 1)
    return frame, raw, "geo"
