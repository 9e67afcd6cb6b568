"""``hotspots change``: how the hotspot map changed between two periods.

Loads the incidents of the two windows as ``hotspots run`` would, bins each period on one
grid over the study area, runs grid Gi* on each (as ``run`` does: two-cell band, FDR),
compares the two class maps (:func:`hotspots.change.hotspot_change`: fuzzy similarity and
kappa, new / persistent / gone hot spots) and, for every area layer, the areas' shares of
incidents (:func:`hotspots.change.s_index`). Writes into ``out``:

* ``change.csv`` — per area of every layer: counts, shares, test, ``similar``,
  ``direction`` (needs area layers);
* ``change_cells.geojson`` — the cells hot or cold in either period: classes, ``change``,
  per-cell ``similarity``, counts (EPSG:4326), a layer for any web map or GIS;
* ``change_hotspots.geojson`` — hotspots (touching hot cells) with ``status`` new,
  persistent, shifted or gone;
* ``change_map.html`` — an offline map of the cells by change class, the hotspots by
  status and the areas by S-index result, with a panel of the overall figures and rules
  (:func:`hotspots.maps.change_map`; street tiles as ``run``'s map);
* ``change.json`` — the overall similarity, fuzzy kappa, S-indices, the rules, periods,
  grid and the list of files (written last).

Files appear together or not at all (staged inside ``out``). Methods: ``docs/change.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspots.boundaries import study_area
from hotspots.change import (
    ANDRESEN_SAMPLE_SHARE,
    ANDRESEN_SAMPLES,
    DEFAULT_HALVING_CELLS,
    DEFAULT_PERMUTATIONS,
    DEFAULT_RADIUS_CELLS,
    HotspotChange,
    hotspot_change,
    s_index,
)
from hotspots.gistar import gistar_grid
from hotspots.grid import bin_counts, make_grid, mask_from_geometry
from hotspots.impact import month_window
from hotspots.io import write_csv, write_geojson, write_json, write_text_atomic
from hotspots.maps import change_map, map_html
from hotspots.pipeline._config import POLICE_UK_ATTRIBUTION, OutputConfig, RunConfig
from hotspots.pipeline._disclosure import suppress_small
from hotspots.pipeline._stages import prepare
from hotspots.schema import CRS_METRIC, InputError

log = logging.getLogger("hotspots.pipeline")

_MANIFEST = "change.json"


@dataclasses.dataclass(frozen=True)
class ChangeResult:
    """What :func:`run_change` computed: the grid comparison, the area table, the metadata."""

    grid: HotspotChange
    areas: pd.DataFrame | None
    meta: dict[str, Any]


def run_change(
    config: RunConfig,
    *,
    before: str,
    after: str,
    out: str | Path,
    radius_cells: float = DEFAULT_RADIUS_CELLS,
    halving_cells: float = DEFAULT_HALVING_CELLS,
    permutations: int = DEFAULT_PERMUTATIONS,
    method: str = "fisher",
    seed: int = 0,
) -> ChangeResult:
    """Compare the hotspot maps and area shares of ``before`` and ``after``; write outputs."""
    b0, b1 = month_window(before, "--before")
    a0, a1 = month_window(after, "--after")
    if b0 <= a1 and a0 <= b1:
        raise InputError(f"--before {before!r} and --after {after!r} overlap; use separate windows")
    lo, hi = min(b0, a0), max(b1, a1)
    cfg = config.updated(filter={"month_from": str(lo), "month_to": str(hi), "last_months": None})
    prepared = prepare(cfg)
    inc = prepared.incidents
    month = inc["when"].dt.to_period("M")
    have = set(month.unique())
    periods, lengths, warnings = {}, {}, []
    for name, w0, w1 in (("before", b0, b1), ("after", a0, a1)):
        span = pd.period_range(w0, w1, freq="M")
        with_data = [m for m in span if m in have]
        if not with_data:
            raise InputError(f"--{name} window {w0}..{w1} has no months with data")
        if len(with_data) < len(span):
            missing = ", ".join(str(m) for m in span if m not in have)
            warnings.append(f"{name} window: no data for {missing}")
        periods[name] = month.isin(span).to_numpy()
        lengths[name] = len(with_data)
    area = _area(prepared, inc)
    grid = make_grid(area.bounds, cell_size_m=config.grid.cell_size_m)
    grid = grid.with_mask(mask_from_geometry(grid, area))
    x, y = inc["x"].to_numpy(float), inc["y"].to_numpy(float)
    counts = {k: bin_counts(grid, x[sel], y[sel]) for k, sel in periods.items()}
    gi = {
        k: gistar_grid(
            c,
            cell_size_m=grid.cell_size_m,
            mask=grid.mask,
            permutations=config.hotspots.gistar_permutations,
            seed=seed,
        )
        for k, c in counts.items()
    }
    result = hotspot_change(
        gi["before"].classes,
        gi["after"].classes,
        grid=grid,
        counts_before=counts["before"],
        counts_after=counts["after"],
        radius_cells=radius_cells,
        halving_cells=halving_cells,
        permutations=permutations,
        seed=seed,
    )
    tables, s_summary = [], {}
    for layer in prepared.layers:
        names = layer.polygons["name"].astype(str)
        col = inc[layer.layer].astype(str)
        # every area of the layer counts, those with no incident in either period too
        per = {
            k: col[sel]
            .value_counts()
            .drop("", errors="ignore")
            .reindex(sorted(set(names) | set(col[sel]) - {""}), fill_value=0)
            for k, sel in periods.items()
        }
        table, summary = s_index(
            per["before"],
            per["after"],
            method=method,
            seed=seed,
            samples=ANDRESEN_SAMPLES,
            sample_share=ANDRESEN_SAMPLE_SHARE,
        )
        tables.append(table.assign(layer=layer.layer))
        s_summary[layer.layer] = summary
    areas = None
    if tables:
        areas = pd.concat(tables, ignore_index=True)
        areas = areas[["layer", *[c for c in areas.columns if c != "layer"]]]
    sim = result.similarity
    log.info(
        "Hotspot maps %s..%s against %s..%s: fuzzy similarity %.3f (hot/cold cells only "
        "%.3f), fuzzy kappa %.3f; hotspots %s",
        b0,
        b1,
        a0,
        a1,
        sim.similarity,
        sim.similarity_significant,
        sim.kappa,
        result.summary["hotspots"],
    )
    for layer_name, s in s_summary.items():
        log.info(
            "S-index (%s, %s): %.3f of %d areas similar",
            layer_name,
            s["method"],
            s["s_index"],
            s["areas"],
        )
    for w in warnings:
        log.warning("change: %s", w)
    meta = {
        "before": [str(b0), str(b1)],
        "after": [str(a0), str(a1)],
        "months_before": lengths["before"],
        "months_after": lengths["after"],
        "unequal_periods": "each period's Gi* classes and each area's share of its own "
        "period's total do not depend on the period's length: no scaling needed"
        if lengths["before"] != lengths["after"]
        else "equal lengths",
        "category": config.filter.categories or "all",
        "incidents": {k: int(v.sum()) for k, v in periods.items()},
        "grid": {
            "cell_size_m": grid.cell_size_m,
            "cell_size_rule": grid.cell_size_rule,
            "cells_in_area": int(grid.in_area.sum()),
            "study_area": [lyr.source for lyr in prepared.layers[:1]]
            or "rows' cells or convex hull of the incidents",
        },
        "gistar": {
            "weights": gi["before"].weights,
            "distance_band_m": gi["before"].distance_band_m,
            "band_rule": gi["before"].band_rule,
            "permutations": gi["before"].permutations,
            "fdr": gi["before"].fdr,
            "classes": "hot: Gi* bin > 0, cold: < 0 (90% confidence or more after "
            "Benjamini-Hochberg FDR), each period on its own",
        },
        "fuzzy": {
            **sim.params(),
            "rule": "per cell s = min(mu_after(class before), mu_before(class after)), "
            "mu = max over cells within radius_cells of 2^(-d/halving_cells) where the "
            "class is found; kappa = (S - E) / (1 - E); docs/change.md",
        },
        "cells": result.summary["cells"],
        "hotspots": result.summary["hotspots"],
        "hotspot_rule": result.summary["hotspot_rule"],
        "s_index": s_summary or "no area layers: give --areas for the S-index and change.csv",
        "min_count": config.output.min_count,
        "rows": prepared.counts,
        "inputs": prepared.load.files,
        "warnings": warnings,
    }
    view = _MapInputs(
        layers={lyr.layer: lyr.polygons for lyr in prepared.layers},
        study_area=gpd.GeoDataFrame(geometry=[area], crs=CRS_METRIC),
        attribution=" ".join(
            [
                POLICE_UK_ATTRIBUTION,
                *(
                    f"Boundaries: {b}"
                    for b in sorted({lyr.attribution for lyr in prepared.layers} - {""})
                ),
            ]
        ),
    )
    meta["outputs"] = _publish(Path(out), result, areas, meta, config, view)
    return ChangeResult(result, areas, meta)


@dataclasses.dataclass(frozen=True)
class _MapInputs:
    """What the change map needs besides the results: area polygons, extent, attribution."""

    layers: dict[str, gpd.GeoDataFrame]
    study_area: gpd.GeoDataFrame
    attribution: str


def _area(prepared, inc: pd.DataFrame) -> shapely.Geometry:
    area = study_area(prepared.layers) if prepared.layers else None
    if area is None and prepared.cell_study_area is not None:
        area = prepared.cell_study_area.polygon
    if area is None:
        if not len(inc):
            raise InputError("no incidents in the two windows")
        pts = shapely.multipoints(inc[["x", "y"]].to_numpy(float))
        area = shapely.convex_hull(pts).buffer(1.0)
    return area


def _publish(
    out: Path, result: HotspotChange, areas, meta: dict, config: RunConfig, view: _MapInputs
) -> list[str]:
    k = int(config.output.min_count or 0)
    cells = result.cells.drop(columns=["row", "col"])
    hotspots = result.hotspots
    if k > 1:  # disclosure control: counts of 1..k-1 are blanked
        cells = cells.assign(**{c: suppress_small(cells[c], k) for c in ("before", "after")})
        hotspots = hotspots.assign(
            **{c: suppress_small(hotspots[c], k) for c in ("before", "after")}
        )
        if areas is not None:
            hidden = {c: suppress_small(areas[c], k) for c in ("before", "after")}
            small = hidden["before"].isna() | hidden["after"].isna()
            shares = ["before_share", "after_share", "share_change"]
            areas = areas.assign(**hidden)
            areas.loc[small, shares] = np.nan
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    guard = getattr(config, "formula_guard", True)
    try:
        files = ["change_cells.geojson", "change_hotspots.geojson", "change_map.html"]
        write_geojson(cells, staging / "change_cells.geojson")
        write_geojson(hotspots, staging / "change_hotspots.geojson")
        # the map shows the published (blanked) counts, as the files above
        html = _map(cells, hotspots, areas, meta, config, view)
        write_text_atomic(staging / "change_map.html", html)
        if areas is not None:
            write_csv(areas, staging / "change.csv", neutralise_formulas=guard)
            files.append("change.csv")
        files.append(_MANIFEST)
        write_json({**meta, "outputs": sorted(files)}, staging / _MANIFEST)
        for name in files:  # the manifest last
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sorted(files)


def _month_text(window: list[str]) -> str:
    a, b = (pd.Period(w, freq="M").strftime("%b %Y") for w in window)
    return a if a == b else f"{a} to {b}"


def _window_text(meta: dict, which: str) -> str:
    months, n = meta[f"months_{which}"], meta["incidents"][which]
    w0, w1 = meta[which]
    return f"{w0} to {w1} ({months} month{'s' * (months != 1)} with data, {n:,} incidents)"


def _map(
    cells: gpd.GeoDataFrame,
    hotspots: gpd.GeoDataFrame,
    areas: pd.DataFrame | None,
    meta: dict,
    config: RunConfig,
    view: _MapInputs,
) -> str:
    """``change_map.html`` from the published tables (counts blanked under min_count)."""
    area_layers = {}
    if areas is not None:
        for key, polygons in view.layers.items():
            rows = areas[areas["layer"] == key].drop(columns="layer")
            shapes = polygons[["name", polygons.geometry.name]].assign(
                name=polygons["name"].astype(str)
            )
            merged = shapes.merge(rows, left_on="name", right_on="area", how="inner")
            area_layers[key] = gpd.GeoDataFrame(
                merged.drop(columns="area"), geometry=polygons.geometry.name, crs=polygons.crs
            )
    k = int(config.output.min_count or 0)
    g, f = meta["gistar"], meta["fuzzy"]
    params = {
        "Before": _window_text(meta, "before"),
        "After": _window_text(meta, "after"),
        "Category": meta["category"],
        "Cell size": f"{meta['grid']['cell_size_m']:g} m ({meta['grid']['cell_size_rule']})",
        "Gi*": f"{g['weights']}, band {g['distance_band_m']:g} m ({g['band_rule']}), "
        f"{g['permutations']} permutations, FDR {g['fdr']}",
        "Fuzzy comparison": f"radius {f['radius_cells']:g} cells, halving "
        f"{f['halving_cells']:g} cells, {f['permutations']} permutations, seed {f['seed']}",
    }
    if k > 1:
        params["Small counts"] = f"1 to {k - 1} not shown (min_count {k})"
    rules = {
        "Hot and cold cells": g["classes"],
        "Fuzzy similarity and kappa": f["rule"],
        "Expected similarity": str(f["expected_rule"]),
        "Hotspot status": meta["hotspot_rule"],
        "Unequal periods": meta["unequal_periods"],
    }
    s_summary = meta["s_index"] if isinstance(meta["s_index"], dict) else {}
    for layer, s in s_summary.items():
        rules[f"S-index ({layer})"] = str(s["rule"])
    title = (
        "Hotspot change"
        if config.output.title == OutputConfig().title
        else f"{config.output.title}: change"
    )
    m = change_map(
        cells=cells,
        hotspots=hotspots,
        areas=area_layers,
        similarity=f,
        s_index=s_summary,
        rules=rules,
        title=title,
        period=f"{_month_text(meta['before'])} against {_month_text(meta['after'])}",
        params=params,
        attribution=view.attribution,
        study_area=view.study_area,
        notes=meta["warnings"],
        online_tiles=config.output.online_tiles and not config.output.offline_map,
    )
    return map_html(m)
