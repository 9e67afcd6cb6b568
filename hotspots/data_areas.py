"""Area layers from the rows themselves, for police.uk data run without ``--areas``.

Every police.uk row carries its LSOA (``LSOA code``, ``LSOA name``) and its force
(``Falls within``); the LSOA name starts with its district ("Lincoln 012C"). That is
enough for LSOA, district and force tables anywhere in England and Wales, whatever
boundaries the package ships. The rule (docs/your-force.md, "Areas from the data"):

1. **Strays.** A force's file also holds the few incidents it recorded elsewhere. A
   district holding less than :data:`STRAY_DISTRICT_SHARE` of the located rows is a
   stray: its rows are outside the study area. (Measured: a force's own districts hold
   1.8% of its rows or more — Rutland in Leicestershire — and strays 0.1% or less.)
2. **LSOAs**, named by the rows' codes, are drawn with the shipped ONS polygon where the
   package has the code, and otherwise with the :data:`CELL_SIZE_M` cells their
   incidents fall in (each cell to the LSOA with most of its incidents).
3. **Districts** and the **force** are the LSOAs dissolved by the district in the LSOA
   name and by the force most of the LSOA's rows fall within.

The study area is the union of the LSOA polygons. The choice is reported with its counts
(:class:`DataAreas`) in the log and ``run.json``.

Rows that name no LSOA (a partner export) get no area layers; their study area is the
populated :data:`STUDY_CELL_M` cells with a one-cell buffer, less the groups of cells
that hold under :data:`STRAY_DISTRICT_SHARE` of the rows (:func:`study_area_from_cells`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots._validation import check_scalar
from hotspots.boundaries import AreaLayer
from hotspots.io import mode_per_group
from hotspots.schema import CRS_METRIC, InputError

#: Districts with a smaller share of the located rows are strays (see the module notes).
STRAY_DISTRICT_SHARE = 0.005
#: Cell size of the LSOA outlines drawn from incidents where no polygon is shipped.
CELL_SIZE_M = 250.0
#: Cell size of the study area of rows that name no LSOA (one cell of buffer around them).
STUDY_CELL_M = 1000.0
#: The LSOA name's last word: three digits and a letter ("Leicester 001A").
_LSOA_SUFFIX = re.compile(r"\s+\d{3}[A-Z]$")
COLUMNS = ("lsoa_code", "lsoa_name", "force")


@dataclass(frozen=True)
class DataAreas:
    """Area layers from the rows, and the counts behind the rule that made them.

    Attributes
    ----------
    layers
        ``lsoa`` (assigned by each row's code), then ``district`` and ``force`` derived
        from it.
    shipped_polygons, cell_polygons
        LSOAs drawn with a shipped ONS polygon, and with incident cells.
    stray_districts
        Stray district → its located rows (outside the study area).
    """

    layers: list[AreaLayer]
    shipped_polygons: int
    cell_polygons: int
    stray_districts: dict[str, int] = field(default_factory=dict)
    stray_district_share: float = STRAY_DISTRICT_SHARE
    cell_size_m: float = CELL_SIZE_M

    @property
    def rule(self) -> str:
        """The study area rule as one sentence (log and run.json)."""
        strays = (
            f"; {len(self.stray_districts)} stray district(s) under "
            f"{self.stray_district_share:.1%} of rows left out "
            f"({sum(self.stray_districts.values()):,} rows)"
            if self.stray_districts
            else ""
        )
        return (
            f"areas from the data: {self.shipped_polygons + self.cell_polygons:,} LSOAs named "
            f"by the rows ({self.shipped_polygons:,} drawn with shipped ONS polygons, "
            f"{self.cell_polygons:,} with the {self.cell_size_m:g} m cells of their "
            f"incidents), their districts and force{strays}"
        )

    def metadata(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "layers": [lyr.layer for lyr in self.layers],
            "lsoas_with_shipped_polygons": self.shipped_polygons,
            "lsoas_drawn_from_cells": self.cell_polygons,
            "cell_size_m": self.cell_size_m,
            "stray_district_share": self.stray_district_share,
            "stray_districts": dict(self.stray_districts),
        }


def district_of(lsoa_names: pd.Series) -> pd.Series:
    """The district in each LSOA name: the name without its ``NNNL`` suffix.

    Examples
    --------
    >>> district_of(pd.Series(["Leicester 001A", "King's Lynn and West Norfolk 014C", "X"]))
    0                       Leicester
    1    King's Lynn and West Norfolk
    2                               X
    dtype: object
    """
    names = lsoa_names.astype("string").fillna("").str.strip()
    return names.str.replace(_LSOA_SUFFIX, "", regex=True).astype(object)


def areas_from_rows(
    incidents: pd.DataFrame,
    shipped_lsoas: gpd.GeoDataFrame | None = None,
    *,
    stray_district_share: float = STRAY_DISTRICT_SHARE,
    cell_size_m: float = CELL_SIZE_M,
    attribution: str = "",
) -> DataAreas:
    """LSOA, district and force layers named by the rows (see the module notes).

    Parameters
    ----------
    incidents
        Located rows: ``x``/``y`` (EPSG:27700), ``lsoa_code``, ``lsoa_name``, ``force``.
    shipped_lsoas
        ONS LSOA polygons (``name`` = code, EPSG:27700) to draw the LSOAs they have.
    stray_district_share
        Districts with a smaller share of the rows are strays.
    cell_size_m
        Cell size of LSOA outlines drawn from incidents.
    attribution
        Credit for the shipped polygons, when any is used.

    Returns
    -------
    DataAreas

    Examples
    --------
    >>> rows = pd.DataFrame({"x": [100.0, 120.0, 900.0, 5e5], "y": [100.0, 130.0, 900.0, 5e5],
    ...     "lsoa_code": ["E1", "E1", "E2", "E9"], "force": "Test Police",
    ...     "lsoa_name": ["Town 001A", "Town 001A", "Town 002A", "Far 001A"]})
    >>> found = areas_from_rows(rows, stray_district_share=0.3)
    >>> [(x.layer, list(x.polygons["name"])) for x in found.layers]
    [('lsoa', ['E1', 'E2']), ('district', ['Town']), ('force', ['Test Police'])]
    >>> found.stray_districts, found.layers[0].polygons.area.tolist()
    ({'Far': 1}, [62500.0, 62500.0])
    """
    missing = [c for c in ("x", "y", *COLUMNS) if c not in incidents.columns]
    if missing:
        raise InputError(f"areas from the data need the rows' {missing}; give --areas instead")
    stray_district_share = _check_share(stray_district_share, "stray_district_share")
    cell_size_m = _check_cell_size(cell_size_m)
    code = incidents["lsoa_code"].astype("string").fillna("").str.strip()
    rows = pd.DataFrame(
        {
            "x": incidents["x"].to_numpy(float),
            "y": incidents["y"].to_numpy(float),
            "code": code.to_numpy(object),
            "district": district_of(incidents["lsoa_name"]).to_numpy(object),
            "force": incidents["force"].astype("string").fillna("").to_numpy(object),
        }
    )
    rows = rows[(rows["code"] != "") & np.isfinite(rows["x"]) & np.isfinite(rows["y"])]
    if rows.empty:
        raise InputError("no located row names its LSOA, so no areas can be derived; give --areas")
    share = rows["district"].value_counts(normalize=True)
    strays = share.index[share < stray_district_share]
    stray_rows = rows["district"].isin(strays)
    stray_counts = rows.loc[stray_rows, "district"].value_counts().sort_index()
    rows = rows[~stray_rows]

    # Each LSOA's district and force: the most common among its rows (first name on ties).
    per_code = {col: mode_per_group(rows["code"], rows[col]) for col in ("district", "force")}
    codes = np.sort(rows["code"].unique())
    shipped = (
        shipped_lsoas[shipped_lsoas["name"].isin(codes)].drop_duplicates("name")
        if shipped_lsoas is not None
        else gpd.GeoDataFrame({"name": []}, geometry=[], crs=CRS_METRIC)
    )
    drawn = rows[~rows["code"].isin(set(shipped["name"]))]
    cells = _cell_outlines(drawn, cell_size_m)
    polygons = pd.concat(
        [shipped[["name", "geometry"]].to_crs(CRS_METRIC), cells], ignore_index=True
    )
    lsoa = gpd.GeoDataFrame(polygons, geometry="geometry", crs=CRS_METRIC)
    lsoa = lsoa.sort_values("name").reset_index(drop=True)
    source = "police.uk LSOA codes"
    layers = [
        AreaLayer(
            "lsoa", lsoa, source, 0, attribution if len(shipped) else "", name_column="lsoa_code"
        )
    ]
    for layer, names in per_code.items():
        parents = lsoa.assign(name=lsoa["name"].map(names)).dissolve("name", as_index=False)
        layers.append(
            AreaLayer(
                layer,
                parents.sort_values("name").reset_index(drop=True)[["name", "geometry"]],
                f"{source}: {'LSOA names' if layer == 'district' else 'Falls within'}",
                0,
                layers[0].attribution,
                derived_from="lsoa",
                parent_names=names.to_dict(),
            )
        )
    return DataAreas(
        layers,
        int(len(shipped)),
        int(len(cells)),
        {str(k): int(v) for k, v in stray_counts.items()},
        stray_district_share,
        cell_size_m,
    )


def _cell_outlines(rows: pd.DataFrame, cell_size_m: float) -> gpd.GeoDataFrame:
    """Each LSOA's outline as the union of the cells its incidents fall in, each cell
    going to the LSOA with most incidents there (the first code on ties); an LSOA that
    wins no cell keeps its busiest cell, so every LSOA is drawn."""
    if rows.empty:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=CRS_METRIC)
    ix = np.floor(rows["x"].to_numpy() / cell_size_m).astype(np.int64)
    iy = np.floor(rows["y"].to_numpy() / cell_size_m).astype(np.int64)
    counts = (
        pd.DataFrame({"ix": ix, "iy": iy, "code": rows["code"].to_numpy()})
        .value_counts()
        .rename("n")
        .reset_index()
        .sort_values(["n", "code"], ascending=[False, True], kind="stable")
    )
    won = counts.drop_duplicates(["ix", "iy"])
    lost = counts[~counts["code"].isin(set(won["code"]))].drop_duplicates("code")
    cells = pd.concat([won, lost], ignore_index=True)
    boxes = shapely.box(
        cells["ix"] * cell_size_m,
        cells["iy"] * cell_size_m,
        (cells["ix"] + 1) * cell_size_m,
        (cells["iy"] + 1) * cell_size_m,
    )
    outlines = gpd.GeoDataFrame(
        {"name": cells["code"].to_numpy()}, geometry=boxes, crs=CRS_METRIC
    ).dissolve("name", as_index=False)
    return outlines[["name", "geometry"]]


@dataclass(frozen=True)
class CellStudyArea:
    """The study area of rows that name no area: populated cells, buffered, strays out.

    Attributes
    ----------
    polygon
        The study area (EPSG:27700).
    outside
        True for the rows in stray groups of cells.
    groups, stray_groups
        Connected groups of buffered populated cells, and how many were strays.
    """

    polygon: shapely.Geometry
    outside: np.ndarray = field(repr=False)
    groups: int
    stray_groups: int
    cell_size_m: float = STUDY_CELL_M
    stray_share: float = STRAY_DISTRICT_SHARE

    @property
    def rule(self) -> str:
        return (
            f"no areas: the {self.cell_size_m:g} m cells holding incidents with one cell of "
            f"buffer ({self.groups:,} connected group(s); {self.stray_groups:,} holding under "
            f"{self.stray_share:.1%} of the rows left out, {int(self.outside.sum()):,} rows)"
        )


def study_area_from_cells(
    x: np.ndarray,
    y: np.ndarray,
    *,
    cell_size_m: float = STUDY_CELL_M,
    stray_share: float = STRAY_DISTRICT_SHARE,
) -> CellStudyArea:
    """The populated cells of the points, buffered by one cell, as the study area; groups
    of touching buffered cells with under ``stray_share`` of the points are strays.

    Examples
    --------
    >>> x = np.array([500.0, 700, 1500, 90_500]); y = np.array([500.0, 600, 500, 500])
    >>> area = study_area_from_cells(x, y, stray_share=0.3)
    >>> area.polygon.area / 1e6, area.outside.tolist(), (area.groups, area.stray_groups)
    (12.0, [False, False, False, True], (2, 1))
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine
    from scipy import ndimage

    cell_size_m = _check_cell_size(cell_size_m)
    stray_share = _check_share(stray_share, "stray_share")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise InputError("no located incident to draw a study area around")
    ix = np.floor(x[ok] / cell_size_m).astype(np.int64)
    iy = np.floor(y[ok] / cell_size_m).astype(np.int64)
    x0, y0 = ix.min() - 1, iy.min() - 1
    cols, rows = ix - x0, iy - y0
    shape = (int(rows.max()) + 2, int(cols.max()) + 2)
    if shape[0] * shape[1] > 2**26:  # over ~8,000 km across: not one force's data
        raise InputError(
            f"the incidents span {shape[1] * cell_size_m / 1e3:,.0f} x "
            f"{shape[0] * cell_size_m / 1e3:,.0f} km; give --areas for the study area"
        )
    counts = np.zeros(shape, np.int64)
    np.add.at(counts, (rows, cols), 1)
    buffered = ndimage.binary_dilation(counts > 0, structure=np.ones((3, 3), bool))
    labels, n = ndimage.label(buffered, structure=np.ones((3, 3), bool))
    held = ndimage.sum(counts, labels, index=np.arange(1, n + 1)) / ok.sum()
    kept_labels = np.flatnonzero(held >= stray_share) + 1
    kept = np.isin(labels, kept_labels)
    outside = np.ones(len(x), bool)
    outside[ok] = ~kept[rows, cols]
    # Row 0 of the mask is the southmost: a south-up transform keeps cells where they are.
    transform = Affine(cell_size_m, 0, x0 * cell_size_m, 0, cell_size_m, y0 * cell_size_m)
    parts = [
        shapely.geometry.shape(g)
        for g, v in shapes(kept.astype(np.uint8), mask=kept, transform=transform)
        if v
    ]
    return CellStudyArea(
        shapely.union_all(parts),
        outside,
        int(n),
        int(n - len(kept_labels)),
        cell_size_m,
        stray_share,
    )


def _check_share(value: float, name: str) -> float:
    """A share of the rows below which a group is a stray: 0 (none) up to, not including, 1."""
    return check_scalar(value, name, float, min_val=0, max_val=1, include_boundaries="left")


def _check_cell_size(value: float) -> float:
    return check_scalar(
        value, "cell_size_m", float, min_val=0, include_boundaries="neither", unit="metres"
    )
