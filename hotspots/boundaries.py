"""Area layers (beats, NPAs, LSOAs, wards, districts) and the shipped registry.

An :class:`AreaLayer` is a set of polygons in EPSG:27700 with one name column. A file may
carry several layers' names: a beat file whose rows also carry their NPA gives both a
``beat`` and an ``npa`` layer (the NPA polygons are the beats dissolved by NPA).

The registry (``boundaries/registry.json``) names the shipped layers, e.g.
``"leicestershire/beats"``; ``list_boundaries()`` lists them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypedDict

import geopandas as gpd
import numpy as np
import shapely

from hotspots.io import (
    is_police_neighbourhoods,
    read_police_neighbourhoods,
    require_regular,
    shorten,
)
from hotspots.schema import CRS_METRIC, InputError, MissingFileError

log = logging.getLogger(__name__)

BOUNDARIES_DIR = Path(__file__).resolve().parent / "_data" / "boundaries"
#: shapely type ids: Polygon, MultiPolygon, GeometryCollection (checked for polygons).
_POLYGONAL = (3, 6, 7)
_COLLECTION = 7
POLICE_UK_ATTRIBUTION = "Neighbourhood boundaries: data.police.uk, Open Government Licence v3.0"


@dataclass(frozen=True)
class AreaLayer:
    """Polygons of one area layer, named by ``name``, in EPSG:27700.

    Attributes
    ----------
    layer
        Layer name used for output columns (``beat``, ``npa``, ``lsoa``…).
    polygons
        GeoDataFrame with columns ``name`` and ``geometry`` (one row per area).
    source
        The file or registry entry it came from, and the name field.
    repaired
        How many invalid geometries were repaired with ``shapely.make_valid`` at load.
    derived_from, parent_names
        For a parent layer named on each child (the NPA of each beat): the child layer and
        child name → parent name. Its rows are assigned from the child's.
    name_column
        For a layer named by the incidents themselves (police.uk ``LSOA code``): the
        incident column holding each row's area name. Rows are assigned by it, not by
        location; ``polygons`` only draw the areas.
    """

    layer: str
    polygons: gpd.GeoDataFrame = field(repr=False)
    source: str = ""
    repaired: int = 0
    attribution: str = ""
    derived_from: str | None = None
    parent_names: Mapping[str, str] = field(default_factory=dict, repr=False)
    name_column: str | None = None


class RegistryEntry(TypedDict):
    """One shipped layer in ``registry.json``."""

    file: str
    fields: dict[str, str]  # layer → name field; the first layer is the file's polygons
    description: str
    attribution: str
    vintage: str
    approximate: bool


@cache
def registry() -> dict[str, RegistryEntry]:
    """The shipped boundary registry: name → file, fields, description, attribution."""
    return json.loads((BOUNDARIES_DIR / "registry.json").read_text(encoding="utf-8"))


def list_boundaries() -> list[str]:
    """Names of the shipped layers, e.g. ``"leicestershire/beats"``.

    Examples
    --------
    >>> "leicestershire/beats" in list_boundaries()
    True
    """
    return sorted(registry())


def _require_file(path: Path, where: str) -> None:
    if not path.exists():
        hint = ""
        if not path.suffix and "/" in str(path):  # looks like a registry name, not a file
            hint = f"; shipped layers: {', '.join(list_boundaries())}"
        raise MissingFileError(f"{where}: no such boundary file or shipped layer{hint}")
    require_regular(path, "boundary file")  # /dev/zero, a FIFO: refused unopened


def _read_polygons(path: Path, where: str) -> gpd.GeoDataFrame:
    _require_file(path, where)
    target = f"/vsigzip/{path}" if path.suffix == ".gz" else path
    try:
        gdf = gpd.read_file(target)
    except Exception as exc:  # pyogrio raises several error types for unreadable files
        raise InputError(
            f"{where}: cannot read as a boundary layer ({shorten(exc, 200)})"
        ) from None
    try:  # GDAL reads a CSV or a plain table as a layer without geometry
        has_geometry = isinstance(gdf, gpd.GeoDataFrame) and gdf.geometry is not None
    except AttributeError:
        has_geometry = False
    if not has_geometry:
        raise InputError(
            f"{where}: has no geometry (a table, not a boundary layer); give polygons "
            "as a GeoPackage, GeoJSON or Shapefile"
        )
    if len(gdf) == 0:
        raise InputError(f"{where}: the boundary layer has no features")
    if gdf.crs is None:
        raise InputError(
            f"{where}: the boundary layer has no CRS (a shapefile without its .prj?); "
            f"save it with one{_crs_guess(gdf)}"
        )
    if gdf.crs.is_geographic:
        xmin, ymin, xmax, ymax = gdf.total_bounds
        if max(abs(xmin), abs(xmax)) > 180 or max(abs(ymin), abs(ymax)) > 90:
            # GeoJSON without a "crs" member is read as WGS84 whatever its numbers are.
            raise InputError(
                f"{where}: the layer says {gdf.crs.to_string()} (degrees) but its coordinates "
                f"reach {max(abs(xmin), abs(xmax)):.0f}, {max(abs(ymin), abs(ymax)):.0f}: "
                f"they are not degrees; save it with its real CRS{_crs_guess(gdf)}"
            )
    return gdf


def _crs_guess(gdf: gpd.GeoDataFrame) -> str:
    """A hint naming the likely CRS from the coordinates' range."""
    xmin, ymin, xmax, ymax = gdf.total_bounds
    if 0 <= xmin and xmax <= 700_000 and 0 <= ymin and ymax <= 1_300_000 and xmax > 180:
        return " (the coordinates look like British National Grid metres: EPSG:27700)"
    if -180 <= xmin and xmax <= 180 and -90 <= ymin and ymax <= 90:
        return " (the coordinates look like degrees: EPSG:4326)"
    return ""


def _repair(gdf: gpd.GeoDataFrame, where: str) -> tuple[gpd.GeoDataFrame, int]:
    gdf = _drop_empty(gdf, where, "without geometry")
    geoms = gdf.geometry.values
    kind = shapely.get_type_id(geoms)
    wrong = ~np.isin(kind, _POLYGONAL)
    if wrong.any():
        raise InputError(
            f"{where}: boundary layers must be polygons; found "
            f"{sorted(set(gdf.geom_type[wrong]))} (feature {int(np.flatnonzero(wrong)[0]) + 1})"
        )
    # Collections (from other tools' repairs) keep only their polygonal parts.
    invalid = ~shapely.is_valid(geoms)
    fix = invalid | (kind == _COLLECTION)
    n = int(invalid.sum())
    if fix.any():
        fixed = shapely.make_valid(geoms[fix])
        # make_valid may return collections holding lines; keep only the polygonal parts.
        fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        gdf = gdf.copy()
        gdf.loc[fix, gdf.geometry.name] = fixed
        if n:
            log.info("%s: repaired %d invalid geometries with make_valid", where, n)
        gdf = _drop_empty(gdf, where, "with no area left after repair")
    return gdf, n


def _drop_empty(gdf: gpd.GeoDataFrame, where: str, why: str) -> gpd.GeoDataFrame:
    geoms = gdf.geometry.values
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.all():
        raise InputError(f"{where}: no feature of the boundary layer has a usable polygon")
    if empty.any():
        log.warning("%s: %d features %s dropped", where, int(empty.sum()), why)
        gdf = gdf.loc[~empty]
    return gdf


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.unary_union(parts) if parts else shapely.Polygon()


def _police_fields(gdf: gpd.GeoDataFrame) -> dict[str, str]:
    """Default layers of police.uk neighbourhoods: beats by name, NPAs when grouped."""
    return {"beat": "name", "npa": "npa"} if "npa" in gdf.columns else {"beat": "name"}


def load_areas(
    source: str | Path,
    fields: Mapping[str, str] | None = None,
) -> list[AreaLayer]:
    """Load one boundary file or registry entry as one or more area layers.

    Parameters
    ----------
    source
        A registry name (``"leicestershire/beats"``), a path to any vector file GDAL
        reads (GeoPackage, GeoJSON, Shapefile; ``.gz`` allowed), or police.uk
        neighbourhood boundaries: a folder or zip of KML or API boundary JSON files
        (see :func:`hotspots.io.read_police_neighbourhoods`).
    fields
        Layer name → name field, e.g. ``{"beat": "beat_name", "npa": "npa_name"}``.
        Registry entries bring their own; police.uk neighbourhoods default to
        ``{"beat": "name"}``, with ``"npa": "npa"`` when a grouping table is given; for
        other files it is required.

    Returns
    -------
    list of AreaLayer
        The first field's layer has the file's polygons; further fields (a parent such as
        the NPA of each beat) are dissolved from them.
    """
    entry = registry().get(str(source))
    attribution = ""
    gdf: gpd.GeoDataFrame | None = None
    if entry is not None:
        path = BOUNDARIES_DIR / entry["file"]
        fields = dict(fields or entry["fields"])
        attribution = entry["attribution"]
        where = f"{source} ({path.name})"
    elif is_police_neighbourhoods(source):
        where = str(source)
        gdf = read_police_neighbourhoods(source)
        fields = dict(fields or _police_fields(gdf))
        attribution = POLICE_UK_ATTRIBUTION
    else:
        path = Path(source)
        where = str(path)
        _require_file(path, where)
        if not fields:
            raise InputError(
                f"{where}: say which field names the areas, e.g. --area-field beat=BEAT_NAME"
            )
    if gdf is None:
        gdf = _read_polygons(path, where)
    missing = [f for f in fields.values() if f not in gdf.columns]
    if missing:
        raise InputError(
            f"{where}: name field(s) {missing} not found; the layer has "
            f"{[c for c in gdf.columns if c != gdf.geometry.name]}"
        )
    gdf, repaired = _repair(gdf, where)
    gdf = gdf.to_crs(CRS_METRIC)
    if not np.isfinite(gdf.total_bounds).all():
        raise InputError(f"{where}: the polygons cannot be projected to {CRS_METRIC}")
    layers: list[AreaLayer] = []
    for i, (layer, name_field) in enumerate(fields.items()):
        names = gdf[name_field].fillna("").astype(str).str.strip()
        blank = names.isin(["", "nan", "None", "<NA>"]).to_numpy()
        if blank.any():
            first = ", ".join(str(k + 1) for k in np.flatnonzero(blank)[:5])
            raise InputError(
                f"{where}: field {name_field!r} is blank for {int(blank.sum())} "
                f"feature(s) ({first}, counting from 1); name every area or "
                "choose another field"
            )
        polys = gpd.GeoDataFrame(
            {"name": names.to_numpy()}, geometry=gdf.geometry.values, crs=CRS_METRIC
        )
        if i > 0 or names.duplicated().any():
            polys = polys.dissolve("name", as_index=False)
        polys = polys.sort_values("name").reset_index(drop=True)
        if i == 0:
            layers.append(AreaLayer(layer, polys, f"{where}:{name_field}", repaired, attribution))
            continue
        # A parent named on each child row: the child's parent comes from its attributes.
        first = list(fields.values())[0]
        pairs = gdf[[first, name_field]].fillna("").astype(str).apply(lambda c: c.str.strip())
        conflicts = pairs.drop_duplicates().groupby(first)[name_field].nunique()
        if (conflicts > 1).any():
            raise InputError(
                f"{where}: {layer} ({name_field}) differs between features of the "
                f"same {layers[0].layer} {conflicts[conflicts > 1].index[0]!r}"
            )
        mapping = dict(zip(pairs[first], pairs[name_field], strict=True))
        layers.append(
            AreaLayer(
                layer,
                polys,
                f"{where}:{name_field}",
                0,
                attribution,
                derived_from=layers[0].layer,
                parent_names=mapping,
            )
        )
    return layers


def combine_layers(groups: list[list[AreaLayer]]) -> list[AreaLayer]:
    """The layers of several boundary sources, one per layer name, in the order given.

    A layer that a source gives from its own polygons replaces one that another source
    only derived (a beat file's NPA column dissolved, when the NPA file is given too): the
    drawn boundaries are the better ones. Two sources that each draw a layer of the same
    name are an :class:`InputError` naming both.

    Examples
    --------
    >>> sq = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=27700)
    >>> beats = [AreaLayer("beat", sq, "b.gpkg:beat"),
    ...          AreaLayer("npa", sq, "b.gpkg:npa", derived_from="beat")]
    >>> [(x.layer, x.source) for x in combine_layers([beats, [AreaLayer("npa", sq, "n.gpkg:n")]])]
    [('beat', 'b.gpkg:beat'), ('npa', 'n.gpkg:n')]
    """
    chosen: dict[str, AreaLayer] = {}
    for layer in (x for group in groups for x in group):
        have = chosen.get(layer.layer)
        if have is None or (have.derived_from is not None and layer.derived_from is None):
            chosen[layer.layer] = layer  # a replaced layer keeps its place in the order
        elif have.derived_from is None and layer.derived_from is None:
            raise InputError(
                f"area layer {layer.layer!r} is given twice, by {have.source} and by "
                f"{layer.source}; give it once, or name one differently with --area-field"
            )
    return list(chosen.values())


def study_area(layers: list[AreaLayer]) -> shapely.Geometry | None:
    """The union of the first layer's polygons (the study area), or None without layers."""
    if not layers:
        return None
    return shapely.union_all(layers[0].polygons.geometry.values)


def split_area_fields(
    sources: list[str], fields: Mapping[str, str]
) -> list[tuple[str, dict[str, str]]]:
    """Give each boundary source the ``--area-field`` entries whose columns it has.

    Registry names keep their own fields. Each file takes the layer → field pairs whose
    field is one of its columns (read from the file's schema only), in the order given;
    a field found in no file, or a file with none of the fields, is an error. police.uk
    neighbourhoods take the pairs naming their columns (``neighbourhood``, ``name``,
    ``npa``), or keep their defaults when none does.
    """
    import pyogrio

    out: list[tuple[str, dict[str, str]]] = []
    used: set[str] = set()
    for src in sources:
        if str(src) in registry():
            out.append((str(src), {}))
            continue
        if is_police_neighbourhoods(src):
            columns = set(read_police_neighbourhoods(src).columns)
            mine = {layer: f for layer, f in fields.items() if f in columns}
            used |= set(mine)
            out.append((str(src), mine))  # none: load_areas applies the defaults
            continue
        path = Path(src)
        _require_file(path, str(path))
        target = f"/vsigzip/{path}" if path.suffix == ".gz" else str(path)
        try:
            columns = set(pyogrio.read_info(target)["fields"])
        except Exception as exc:  # pyogrio raises several error types for unreadable files
            reason = " ".join(str(exc).split())
            raise InputError(f"{path}: cannot read as a boundary layer ({reason})") from None
        mine = {layer: f for layer, f in fields.items() if f in columns}
        if not mine:
            raise InputError(
                f"{path}: none of the --area-field fields "
                f"{sorted(fields.values())} is a column; it has {sorted(columns)}"
            )
        used |= set(mine)
        out.append((str(path), mine))
    missing = [f"{layer}={f}" for layer, f in fields.items() if layer not in used]
    if missing:  # registry layers keep their own fields
        raise InputError(f"--area-field {', '.join(missing)}: no --areas file has that column")
    return out
