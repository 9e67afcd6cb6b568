"""police.uk neighbourhood boundaries, in the forms forces get them.

Two forms are read:

* **KML**, as data.police.uk's neighbourhood boundary download has it: a zip (or the folder
  it unzips to) with a folder per force and one ``<neighbourhood id>.kml`` per
  neighbourhood, each a Placemark holding a Polygon of ``lon,lat[,alt]`` coordinates;
* **API boundary JSON**, as ``GET /api/<force>/<id>/boundary`` returns it: a list of
  ``{"latitude": "52.63", "longitude": "-1.14"}`` strings, one file per neighbourhood
  (named by its id, e.g. ``NC04.json`` or ``police_leicestershire_NC04_boundary.json``).

In the same folder or zip there may also be

* the API's neighbourhood list (``GET /api/<force>/neighbourhoods``: a list of
  ``{"id": "NC04", "name": "City Centre"}``), which names each neighbourhood by its id;
  without it a neighbourhood is named by its KML ``<name>``, else by its id;
* a grouping table: a CSV with columns ``neighbourhood`` (id or name) and ``npa``, giving
  each neighbourhood's Neighbourhood Policing Area.

A zip holding several forces' folders is narrowed to one by naming it after the zip:
``boundaries.zip/leicestershire``.

Every file is untrusted. What is read is bounded: at most :data:`MAX_FILES` files, each
at most :data:`MAX_FILE_BYTES` (zip members are read only that far, whatever their header
says) and :data:`MAX_TOTAL_BYTES` in all. KML is parsed with the standard library's expat
with DOCTYPE and entity declarations refused, so entity expansion ("billion laughs") and
external entities cannot happen. Polygons are returned as served (the API's rings may
self-intersect): :mod:`hotspots.boundaries` repairs and counts them.
"""

from __future__ import annotations

import html
import json
import logging
import math
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.parsers import expat

import geopandas as gpd
import shapely

from hotspots.io._text import decode_bytes, read_delimited
from hotspots.schema import CRS_WGS84, InputError, MissingFileError

log = logging.getLogger("hotspots.io")

#: Files looked at in a folder or zip (police.uk has a few thousand neighbourhoods in all).
MAX_FILES = 10_000
#: Bytes read from any one file (a neighbourhood's KML is typically 5-50 KB).
MAX_FILE_BYTES = 16 * 2**20
#: Bytes read from all the files of one source together.
MAX_TOTAL_BYTES = 256 * 2**20

_SUFFIXES = (".kml", ".json", ".csv")
#: A trailing word that API boundary files are often saved with (``NC04_boundary.json``).
_BOUNDARY_WORD = "boundary"


@dataclass(frozen=True)
class _File:
    """One file of a source: its name for messages, its path inside the source, its bytes."""

    where: str
    rel: PurePosixPath
    data: bytes


def is_police_neighbourhoods(source: str | Path) -> bool:
    """Whether ``source`` is police.uk neighbourhood boundaries rather than a GDAL layer.

    True for a folder or ``.zip`` holding ``.kml`` or ``.json`` files, a ``.json`` file
    whose content is a list (GeoJSON is an object), and ``ARCHIVE.zip/FOLDER``.

    Examples
    --------
    >>> is_police_neighbourhoods("beats.gpkg")
    False
    """
    path = Path(source)
    if _zip_and_prefix(path) is not None:
        return True
    if path.is_dir():
        return any(_wanted(PurePosixPath(f.name), (".kml", ".json")) for f in _walk(path))
    if not path.is_file():
        return False
    suffix = path.suffix.lower()
    if suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                return any(_wanted(PurePosixPath(m), (".kml", ".json")) for m in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return False  # GDAL's reader says what is wrong with it
    if suffix == ".json":
        with open(path, "rb") as fh:
            return fh.read(4096).lstrip().startswith(b"[")
    return False


def read_police_neighbourhoods(
    source: str | Path,
    *,
    names: str | Path | Mapping[str, str] | None = None,
    groups: str | Path | Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read police.uk neighbourhood boundaries (KML or API JSON) as one polygon each.

    Parameters
    ----------
    source
        A folder or zip of ``.kml`` / API boundary ``.json`` files (one force's; narrow a
        zip of several with ``ARCHIVE.zip/FORCE``), or one API boundary ``.json`` file.
    names
        Neighbourhood id → name, or the API's neighbourhood list file. Default: the list
        found in the folder or zip, if any.
    groups
        Neighbourhood (id or name) → NPA, or a grouping CSV (``neighbourhood,npa``).
        Default: the grouping CSV found in the folder or zip, if any.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per neighbourhood, sorted by id, in EPSG:4326: ``neighbourhood`` (the id),
        ``name`` (names that repeat are qualified by the id: ``"Town (AB12)"``), ``npa``
        when a grouping is given, and the polygons as served (not repaired).

    Raises
    ------
    InputError
        A file that is not what it should be, naming the file and the value; a source
        over the size bounds; neighbourhoods of several forces; a grouping that leaves a
        neighbourhood out.
    """
    where, files = _read_source(Path(source))
    areas: dict[str, tuple[str, list[shapely.Polygon], str]] = {}  # id → (name, parts, file)
    boundary_files: list[tuple[_File, list[tuple[float, float]]]] = []
    name_lists: list[tuple[_File, dict[str, str]]] = []
    grouping: list[_File] = []
    for f in files:
        suffix = f.rel.suffix.lower()
        if suffix == ".kml":
            kml_name, parts = _parse_kml(f.data, f.where)
            _add(areas, f.rel.stem, (kml_name, parts, f.where))
        elif suffix == ".csv":
            grouping.append(f)
        else:
            value = _load_json(f.data, f.where)
            if _is_name_list(value):
                name_lists.append((f, _name_list(value, f.where)))
            else:
                boundary_files.append((f, _boundary_points(value, f.where)))
    _one_force(where, files)
    names_map = _chosen_names(names, name_lists, where)
    for f, points in boundary_files:
        _add(areas, _boundary_id(f.rel.stem, names_map), ("", [shapely.Polygon(points)], f.where))
    if not areas:
        raise InputError(
            f"{where}: holds no police.uk neighbourhood boundaries (.kml files or API "
            "boundary .json files)"
        )
    ids = sorted(areas)
    unnamed = [i for i in ids if names_map and i not in names_map]
    if unnamed:
        log.warning(
            "%s: %d neighbourhood(s) not in the neighbourhood list, named by file: %s",
            where,
            len(unnamed),
            ", ".join(unnamed[:5]),
        )
    labels = [names_map.get(i) or areas[i][0] or i for i in ids]
    # Two neighbourhoods of one name would be dissolved into one area: tell them apart.
    counts = Counter(labels)
    labels = [f"{n} ({i})" if counts[n] > 1 else n for n, i in zip(labels, ids, strict=True)]
    frame = {"neighbourhood": ids, "name": labels}
    table = _chosen_groups(groups, grouping, where)
    if table is not None:
        frame["npa"] = _npa_of(ids, labels, *table)
    # Parts stay parts: a union of rings as served (self-intersecting) could fail.
    geometry = [
        shapely.MultiPolygon(areas[i][1]) if len(areas[i][1]) > 1 else areas[i][1][0] for i in ids
    ]
    log.info("%s: %d police.uk neighbourhoods", where, len(ids))
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=CRS_WGS84)


# --- finding and reading the files, bounded ------------------------------------------------


def _wanted(rel: PurePosixPath, suffixes: tuple[str, ...] = _SUFFIXES) -> bool:
    """A data file, not a hidden file or a macOS zip's ``__MACOSX`` resource fork."""
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in rel.parts)
    return not hidden and rel.suffix.lower() in suffixes


def _walk(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, refusing to look at more than :data:`MAX_FILES`."""
    for n, f in enumerate(p for p in folder.rglob("*") if p.is_file()):
        if n >= MAX_FILES:
            raise InputError(f"{folder}: holds more than {MAX_FILES:,} files; give one force's")
        yield f


def _zip_and_prefix(path: Path) -> tuple[Path, str] | None:
    """``(archive, "force")`` for a path ``archive.zip/force`` that names a zip's folder."""
    if path.exists():
        return None
    for parent in path.parents:
        if parent.exists():
            if parent.is_file() and parent.suffix.lower() == ".zip":
                return parent, path.relative_to(parent).as_posix()
            return None
    return None


def _read_source(path: Path) -> tuple[str, list[_File]]:
    inside = _zip_and_prefix(path)
    if inside is not None:
        return str(path), _read_zip(inside[0], inside[1])
    if not path.exists():
        raise MissingFileError(f"{path}: no such file or folder")
    if path.is_dir():
        budget = _Budget(str(path))
        rels = {f: PurePosixPath(f.relative_to(path).as_posix()) for f in sorted(_walk(path))}
        return str(path), [
            _File(str(f), rel, budget.read_file(f)) for f, rel in rels.items() if _wanted(rel)
        ]
    if path.suffix.lower() == ".zip":
        return str(path), _read_zip(path, "")
    data = _Budget(str(path)).read_file(path)
    return str(path), [_File(str(path), PurePosixPath(path.name), data)]


class _Budget:
    """Reads files while keeping to the per-file and per-source byte bounds."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.total = 0

    def _take(self, data: bytes, name: str) -> bytes:
        if len(data) > MAX_FILE_BYTES:
            raise InputError(
                f"{name}: larger than {MAX_FILE_BYTES:,} bytes; a neighbourhood "
                "boundary file is far smaller: is it the right file?"
            )
        self.total += len(data)
        if self.total > MAX_TOTAL_BYTES:
            raise InputError(
                f"{self.where}: more than {MAX_TOTAL_BYTES:,} bytes of boundary files; "
                "give one force's neighbourhoods"
            )
        return data

    def read_file(self, path: Path) -> bytes:
        with open(path, "rb") as fh:
            return self._take(fh.read(MAX_FILE_BYTES + 1), str(path))

    def read_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
        try:
            with zf.open(info) as fh:
                data = fh.read(MAX_FILE_BYTES + 1)  # never trust the member's stated size
        except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as exc:
            raise InputError(f"{name}: damaged zip member ({exc})") from None
        return self._take(data, name)


def _read_zip(archive: Path, prefix: str) -> list[_File]:
    where = f"{archive}/{prefix}" if prefix else str(archive)
    budget = _Budget(where)
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            if len(infos) > MAX_FILES:
                raise InputError(f"{archive}: holds more than {MAX_FILES:,} files")
            start = PurePosixPath(prefix) if prefix else None
            chosen = []
            for info in sorted(infos, key=lambda i: i.filename):
                rel = PurePosixPath(info.filename)
                if start is not None:
                    if rel.parts[: len(start.parts)] != start.parts:
                        continue
                    rel = PurePosixPath(*rel.parts[len(start.parts) :])
                if _wanted(rel):
                    name = f"{archive}!{info.filename}"
                    chosen.append(_File(name, rel, budget.read_member(zf, info, name)))
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"{archive}: not a valid zip archive ({exc}); was the download cut short?"
        ) from None
    if start is not None and not chosen:
        folders = sorted({PurePosixPath(i.filename).parts[0] for i in infos})
        raise InputError(
            f"{where}: the zip has no folder {prefix!r}; it holds {', '.join(folders[:8])}"
        )
    return chosen


def _one_force(where: str, files: list[_File]) -> None:
    """Refuse boundary files spread over several folders (several forces' ids clash)."""
    folders = sorted({str(f.rel.parent) for f in files if f.rel.suffix.lower() == ".kml"})
    if len(folders) > 1:
        shown = ", ".join(folders[:5]) + (", …" if len(folders) > 5 else "")
        raise InputError(
            f"{where}: holds neighbourhoods in {len(folders)} folders ({shown}), one per "
            f"force; give one force's folder, e.g. {where}/{folders[-1]}"
        )


# --- KML ------------------------------------------------------------------------------------


class _KmlHandler:
    """Collects each Placemark's name and its Polygons (outer and inner rings)."""

    def __init__(self, where: str, parser: expat.XMLParserType) -> None:
        self.where = where
        self.parser = parser
        self.stack: list[str] = []
        self.text: list[str] = []
        self.name = ""
        self.polygons: list[shapely.Polygon] = []
        self.outer: list[tuple[float, float]] | None = None
        self.inner: list[list[tuple[float, float]]] = []

    def start(self, tag: str, _attrs: dict[str, str]) -> None:
        local = tag.rsplit(" ", 1)[-1]  # namespace-qualified names end " <local name>"
        self.stack.append(local)
        if local in ("name", "coordinates"):
            self.text = []
        elif local == "Polygon":
            self.outer, self.inner = None, []

    def chars(self, data: str) -> None:
        if self.stack and self.stack[-1] in ("name", "coordinates"):
            self.text.append(data)

    def end(self, _tag: str) -> None:
        local = self.stack.pop()
        parent = self.stack[-1] if self.stack else ""
        if local == "name" and parent == "Placemark" and not self.name:
            self.name = "".join(self.text).strip()
        elif local == "coordinates" and parent == "LinearRing" and len(self.stack) >= 2:
            ring = self._ring("".join(self.text))
            if self.stack[-2] == "outerBoundaryIs":
                self.outer = ring
            elif self.stack[-2] == "innerBoundaryIs":
                self.inner.append(ring)
        elif local == "Polygon":
            if self.outer is None:
                raise InputError(f"{self._at()}: a Polygon without an outerBoundaryIs ring")
            self.polygons.append(shapely.Polygon(self.outer, self.inner))

    def _ring(self, text: str) -> list[tuple[float, float]]:
        ring = []
        for token in text.split():
            parts = token.split(",")
            try:
                lon, lat = float(parts[0]), float(parts[1])
            except (IndexError, ValueError):
                raise InputError(
                    f"{self._at()}: coordinate {token[:40]!r} is not lon,lat[,alt]"
                ) from None
            _check_lon_lat(lon, lat, f"{self._at()}: coordinate {token[:40]!r}")
            ring.append((lon, lat))
        if len(ring) < 3:
            raise InputError(f"{self._at()}: a ring of {len(ring)} point(s); a polygon needs 3")
        return ring

    def _at(self) -> str:
        return f"{self.where}: line {self.parser.CurrentLineNumber}"


def _refuse_declaration(where: str, what: str) -> Callable[..., None]:
    def handler(*_args: object) -> None:
        raise InputError(
            f"{where}: refusing a KML file with a {what} (KML needs none; entity "
            "declarations can expand without bound)"
        )

    return handler


def _parse_kml(data: bytes, where: str) -> tuple[str, list[shapely.Polygon]]:
    """The first Placemark's name and every Polygon in one KML file."""
    parser = expat.ParserCreate(namespace_separator=" ")
    handler = _KmlHandler(where, parser)
    parser.StartDoctypeDeclHandler = _refuse_declaration(where, "DOCTYPE")
    parser.EntityDeclHandler = _refuse_declaration(where, "ENTITY declaration")
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise InputError(f"{where}: not a valid KML (XML) file: {exc}") from None
    if not handler.polygons:
        raise InputError(f"{where}: the KML file holds no Polygon")
    return handler.name, handler.polygons


# --- API JSON ---------------------------------------------------------------------------------


def _load_json(data: bytes, where: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        reason = str(exc).split("\n")[0][:120]
        raise InputError(f"{where}: not valid JSON ({reason})") from None


def _is_name_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and isinstance(value[0], dict)
        and ("id" in value[0])
    )


def _name_list(value: object, where: str) -> dict[str, str]:
    """``{id: name}`` from the API's neighbourhood list (``[{"id", "name"}, ...]``)."""
    out: dict[str, str] = {}
    for k, item in enumerate(value if isinstance(value, list) else []):
        ident = item.get("id") if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(ident, str) or not isinstance(name, str) or not ident.strip():
            raise InputError(
                f"{where}: item {k + 1} of the neighbourhood list is {str(item)[:80]!r}, "
                'not {"id": "...", "name": "..."}'
            )
        if ident.strip() in out:
            raise InputError(f"{where}: neighbourhood id {ident.strip()!r} is listed twice")
        # The API has served names with HTML entities ("Castle &amp; Abbey").
        out[ident.strip()] = html.unescape(name).strip()
    return out


def _boundary_points(value: object, where: str) -> list[tuple[float, float]]:
    """``(lon, lat)`` points of an API boundary (``[{"latitude", "longitude"}, ...]``)."""
    if not isinstance(value, list) or not value:
        raise InputError(
            f"{where}: not a police.uk boundary (a list of latitude/longitude points) or "
            "neighbourhood list (a list of id/name)"
        )
    points = []
    for k, item in enumerate(value):
        if not isinstance(item, dict) or "latitude" not in item or "longitude" not in item:
            raise InputError(
                f"{where}: point {k + 1} is {str(item)[:80]!r}, not "
                '{"latitude": "...", "longitude": "..."}'
            )
        try:
            lat, lon = float(item["latitude"]), float(item["longitude"])
        except (TypeError, ValueError):
            raise InputError(
                f"{where}: point {k + 1}: latitude {item['latitude']!r} / longitude "
                f"{item['longitude']!r} are not numbers"
            ) from None
        _check_lon_lat(lon, lat, f"{where}: point {k + 1}")
        points.append((lon, lat))
    return points


def _boundary_id(stem: str, names: Mapping[str, str]) -> str:
    """The neighbourhood id of an API boundary file, from its name.

    The name without a trailing ``boundary`` word; when that is not an id of the
    neighbourhood list, the longest listed id it ends with after ``_`` or ``-``
    (``police_leicestershire_NC04_boundary`` → ``NC04``).

    Examples
    --------
    >>> _boundary_id("police_leicestershire_NC04_boundary", {"NC04": "City Centre"})
    'NC04'
    >>> _boundary_id("NC04", {})
    'NC04'
    """
    base = stem
    for sep in ("_", "-", " ", ""):
        if base.lower().endswith(sep + _BOUNDARY_WORD) and len(base) > len(sep + _BOUNDARY_WORD):
            base = base[: -len(sep + _BOUNDARY_WORD)]
            break
    if base in names:
        return base
    ends = [i for i in names if any(base.endswith(sep + i) for sep in ("_", "-"))]
    return max(ends, key=len) if ends else base


def _check_lon_lat(lon: float, lat: float, what: str) -> None:
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise InputError(f"{what}: longitude {lon} / latitude {lat} are not degrees")


# --- names and NPA grouping ------------------------------------------------------------------


def _add(
    areas: dict[str, tuple[str, list[shapely.Polygon], str]],
    ident: str,
    value: tuple[str, list[shapely.Polygon], str],
) -> None:
    if ident in areas:
        raise InputError(
            f"{value[2]}: neighbourhood {ident!r} is given twice (also by {areas[ident][2]})"
        )
    areas[ident] = value


def _chosen_names(
    names: str | Path | Mapping[str, str] | None,
    found: list[tuple[_File, dict[str, str]]],
    where: str,
) -> dict[str, str]:
    if isinstance(names, Mapping):
        return {str(k): str(v) for k, v in names.items()}
    if names is not None:
        path = Path(names)
        if not path.is_file():
            raise MissingFileError(f"{path}: no such neighbourhood list")
        data = _Budget(str(path)).read_file(path)
        return _name_list(_load_json(data, str(path)), str(path))
    if len(found) > 1:
        raise InputError(
            f"{where}: holds {len(found)} neighbourhood lists "
            f"({', '.join(f.where for f, _ in found[:3])}); keep one"
        )
    return found[0][1] if found else {}


def _chosen_groups(
    groups: str | Path | Mapping[str, str] | None, found: list[_File], where: str
) -> tuple[dict[str, str], str] | None:
    """Neighbourhood (id or name) → NPA, and where the table came from (for messages)."""
    if isinstance(groups, Mapping):
        return {str(k).strip(): str(v).strip() for k, v in groups.items()}, "the grouping"
    if groups is not None:
        path = Path(groups)
        if not path.is_file():
            raise MissingFileError(f"{path}: no such grouping table")
        return _grouping_csv(_Budget(str(path)).read_file(path), str(path)), str(path)
    if len(found) > 1:
        raise InputError(
            f"{where}: holds {len(found)} CSV files ({', '.join(f.where for f in found[:3])}); "
            "keep one grouping table (neighbourhood,npa)"
        )
    return (_grouping_csv(found[0].data, found[0].where), found[0].where) if found else None


def _grouping_csv(data: bytes, where: str) -> dict[str, str]:
    text, _ = decode_bytes(data, where)
    frame = read_delimited(text, where)
    columns = {c.strip().lower(): c for c in frame.columns if c != "_line"}
    if not {"neighbourhood", "npa"} <= set(columns):
        raise InputError(
            f"{where}: a grouping table needs columns neighbourhood,npa; it has "
            f"{[c for c in frame.columns if c != '_line']}"
        )
    table: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for key, npa, line in zip(
        frame[columns["neighbourhood"]].str.strip(),
        frame[columns["npa"]].str.strip(),
        frame["_line"],
        strict=True,
    ):
        if not key or not npa:
            raise InputError(f"{where}: line {line}: neighbourhood {key!r} / npa {npa!r} is blank")
        if table.get(key, npa) != npa:
            raise InputError(
                f"{where}: line {line}: neighbourhood {key!r} is in NPA {npa!r} here but in "
                f"{table[key]!r} on line {first_line[key]}"
            )
        table[key] = npa
        first_line.setdefault(key, int(line))
    return table


def _npa_of(ids: list[str], labels: list[str], table: dict[str, str], where: str) -> list[str]:
    """Each neighbourhood's NPA, looked up by its id, else by its name."""
    out = [table.get(i) or table.get(n) or "" for i, n in zip(ids, labels, strict=True)]
    missing = [i for i, npa in zip(ids, out, strict=True) if not npa]
    if missing:
        raise InputError(
            f"{where}: no NPA for {len(missing)} neighbourhood(s) ({', '.join(missing[:5])}); "
            "add a row neighbourhood,npa for each (by id or name)"
        )
    unknown = sorted(set(table) - set(ids) - set(labels))
    if unknown:
        log.warning(
            "%s: %d row(s) name no neighbourhood of the boundaries: %s",
            where,
            len(unknown),
            ", ".join(unknown[:5]),
        )
    return out
