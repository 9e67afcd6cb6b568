"""The analysis stages of a run: density → hotspots → rank → Gi* → seasonal → areas."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.boundaries import study_area
from hotspots.clusters import HotspotSet
from hotspots.density import DensitySurface, kde_surface
from hotspots.gistar import GiStarResult, gistar_grid
from hotspots.grid import Grid, bin_counts, cell_polygons
from hotspots.harm import harm_weights
from hotspots.microplaces import microplace_hotspots, top_microplaces
from hotspots.pipeline._config import RunConfig
from hotspots.pipeline._population import population_by_layer
from hotspots.pipeline._stages import Prepared
from hotspots.rank import patrol_list, rank_hotspots, repeat_locations
from hotspots.rates import area_rates
from hotspots.schema import CRS_METRIC
from hotspots.scoring import DEFAULT_METHOD, cell_scores
from hotspots.seasonal import (
    DOW_COLUMNS,
    HOUR_COLUMNS,
    SEASON_MONTHS,
    emerging_classes,
    season_label,
    seasonal_profiles,
    sparkline_svg,
    trend_tests,
)

log = logging.getLogger("hotspots.pipeline")

#: Seasonal columns joined to areas.csv and hotspots.geojson.
SEASONAL_COLUMNS = [
    "peak_month",
    "seasonal_p",
    "trend",
    "trend_slope_per_year",
    "trend_p",
    *[f"m{m:02d}" for m in range(1, 13)],
]
#: Day-of-week columns, joined as well when any incident of the run has a day or a time.
DAY_COLUMNS = ["dow_rows", "peak_day", "day_p", *DOW_COLUMNS]
#: Hour-of-day columns, joined as well when any incident of the run has a time.
HOUR_OF_DAY_COLUMNS = ["hour_rows", "peak_hour", "hour_p", *HOUR_COLUMNS]


@dataclass
class Analysis:
    """Everything computed from the prepared incidents."""

    surface: DensitySurface
    hotspot_set: HotspotSet
    hotspots: gpd.GeoDataFrame
    patrol: pd.DataFrame
    repeats: pd.DataFrame
    gistar: GiStarResult
    gistar_cells: gpd.GeoDataFrame
    areas: dict[str, gpd.GeoDataFrame]
    seasonal_hotspots: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def _timed(timings: dict[str, float], name: str, t0: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - t0, 3)
    return now


def analyse(prepared: Prepared, config: RunConfig) -> Analysis:
    """Run density, hotspots, ranking, Gi*, repeats and seasonal profiles."""
    inc = prepared.incidents
    layers = prepared.layers
    area_cols = [lyr.layer for lyr in layers]
    timings: dict[str, float] = {}
    t = time.perf_counter()
    cells = prepared.cell_study_area
    area = study_area(layers) if layers else cells.polygon if cells is not None else None
    harm = (
        harm_weights(inc, column=config.hotspots.harm_column)
        if config.hotspots.harm_column
        else None
    )
    surface = kde_surface(
        inc,
        weights=harm,
        cell_size_m=config.grid.cell_size_m,
        bandwidth_m=config.density.bandwidth_m,
        kernel=config.density.kernel,
        bandwidth_rule=config.density.bandwidth_rule,
        extent=area if area is not None else None,
    )
    t = _timed(timings, "density", t)
    repeats = repeat_locations(
        inc, min_incidents=config.repeats.min_incidents, window_months=config.repeats.window_months
    )
    t = _timed(timings, "repeat_locations", t)
    # Hotspots come from the backtest-selected scoring method (docs/evaluation.md), on the
    # same grid as the density surface so that both line up on the map.
    scores = cell_scores(inc, surface.grid, method=DEFAULT_METHOD)
    # Micro-places (docs/hotspots.md): capped so that one foot patrol covers one in a visit.
    hs = microplace_hotspots(
        scores,
        surface.grid,
        inc,
        max_area_m2=config.hotspots.max_area_m2,
        max_extent_m=config.hotspots.max_extent_m,
        area_columns=area_cols,
        quantile=config.hotspots.quantile,
        min_incidents=config.hotspots.min_incidents,
        repeat_locations_table=repeats,
        study_area_m2=float(area.area) if area is not None else None,
    )
    ranked = rank_hotspots(
        _with_harm(hs.polygons, hs.labels, harm),
        score=config.hotspots.rank_by,
        exclude="artefact" if config.hotspots.exclude_artefacts else None,
    )
    t = _timed(timings, "hotspots", t)
    counts = bin_counts(surface.grid, inc["x"].to_numpy(), inc["y"].to_numpy())
    gi = gistar_grid(
        counts,
        cell_size_m=surface.grid.cell_size_m,
        mask=surface.grid.mask,
        permutations=config.hotspots.gistar_permutations,
        seed=0,
    )
    gi_cells = _gistar_cells(gi, surface)
    t = _timed(timings, "gistar", t)
    members = inc.assign(hotspot_id=hs.labels)
    if "repeat_caller" in members:  # flag hotspots with repeat callers/victims (counts only)
        flagged = members.loc[members["repeat_caller"] & (members["hotspot_id"] > 0)]
        per_hotspot = flagged.groupby("hotspot_id").size()
        ranked["repeat_caller_incidents"] = (
            ranked["hotspot_id"].map(per_hotspot).fillna(0).astype(int)
        )
    # The distinct dates stand for the data's months in the seasonal calls (eight of them):
    # the same months, without converting every incident's date each time.
    months = pd.Series(inc["when"].unique(), name="when")
    if len(inc):
        log.info(
            "Covered period of seasonal profiles and trends set to %s..%s automatically (rule: "
            "month span of the data): %d months with data; months without any incident are "
            "treated as missing",
            f"{months.min():%Y-%m}",
            f"{months.max():%Y-%m}",
            months.dt.to_period("M").nunique(),
        )
    timing = timing_columns(inc["precision"])
    ranked = _join_seasonal(
        ranked, members.loc[members["hotspot_id"] > 0], "hotspot_id", months, timing
    )
    ranked = ranked.merge(
        _hotspot_classes(members, ranked, surface.grid), on="hotspot_id", how="left"
    )
    ranked = ranked.sort_values("rank").reset_index(drop=True)
    callers = {}
    if prepared.repeat_callers is not None:
        per_area = prepared.repeat_callers
        callers = {layer: part.drop(columns="layer") for layer, part in per_area.groupby("layer")}
    population = (
        population_by_layer(
            layers,
            population_file=config.population.file,
            population_layer=config.population.layer,
            id_field=config.population.id_field,
            residents_field=config.population.residents_field,
        )
        if config.population.enabled and layers
        else None
    )
    if population is not None:
        population.log_summary()
    residents = population.tables if population is not None else {}
    areas = {
        lyr.layer: _area_table(
            lyr.polygons, inc, lyr.layer, ranked, residents.get(lyr.layer), months, timing, callers
        )
        for lyr in layers
    }
    by_season = _seasonal_hotspots(inc, surface.grid, area_cols, config)
    t = _timed(timings, "seasonal", t)
    area_m2 = float(area.area) if area is not None else None
    eligible = ranked[~ranked["excluded"]] if "excluded" in ranked.columns else ranked
    patrol = patrol_list(
        eligible,
        top_n=config.hotspots.top_n,
        max_area_share=config.hotspots.max_area_share,
        study_area_m2=area_m2,
    )
    # Which hotspots a force patrols (and the map draws by default): the patrol list.
    ranked["patrol"] = ranked["hotspot_id"].isin(patrol["hotspot_id"])
    params = {
        "density": surface.params(),
        "scoring": {
            "method": DEFAULT_METHOD.name,
            **dict(DEFAULT_METHOD.params),
            "selected_by": "rolling backtests, docs/evaluation.md",
        },
        "hotspots": hs.params,
        "gistar": {
            "weights": gi.weights,
            "distance_band_m": gi.distance_band_m,
            "band_rule": gi.band_rule,
            "permutations": gi.permutations,
            "fdr": gi.fdr,
            "classes": "hot/cold at 90/95/99% after Benjamini-Hochberg FDR",
        },
    }
    if population is not None:
        params["rates"] = population.metadata()
    if harm is not None:
        params["harm"] = {
            "column": config.hotspots.harm_column,
            "total": round(float(harm.sum()), 3),
            "used_by": "density weights; 'harm' score per hotspot (docs/harm.md)",
        }
    return Analysis(
        surface, hs, ranked, patrol, repeats, gi, gi_cells, areas, by_season, timings, params
    )


def _with_harm(table: pd.DataFrame, labels: np.ndarray, harm: np.ndarray | None) -> pd.DataFrame:
    """The hotspots table, with ``harm`` (sum of its incidents' weights) when weighted;
    ``labels`` is each incident's hotspot."""
    if harm is None:
        return table
    per = np.bincount(labels, weights=harm, minlength=int(labels.max(initial=0)) + 1)
    return table.assign(harm=per[table["hotspot_id"].to_numpy(int)])


def _gistar_cells(gi: GiStarResult, surface: DensitySurface) -> gpd.GeoDataFrame:
    """Polygons of the cells Gi* calls hot or cold."""
    rows, cols = np.nonzero(gi.classes != 0)
    labels = gi.labels()
    return gpd.GeoDataFrame(
        {
            "label": labels[rows, cols],
            "z": np.round(gi.z[rows, cols], 3),
            "gi_bin": gi.classes[rows, cols],
        },
        geometry=cell_polygons(surface.grid, rows, cols),
        crs=CRS_METRIC,
    )


def timing_columns(precision: pd.Series) -> list[str]:
    """The day-of-week and hour columns a run's outputs carry, from its incidents' precision.

    Empty for month-only data (police.uk): its outputs keep the columns they always had.

    Examples
    --------
    >>> timing_columns(pd.Series(["month", "month"]))
    []
    >>> timing_columns(pd.Series(["month", "day"], dtype="category"))[:3]
    ['dow_rows', 'peak_day', 'day_p']
    >>> len(timing_columns(pd.Series(["minute"])))
    37
    """
    present = set(precision.astype(object).unique())
    day = DAY_COLUMNS if present & {"day", "minute"} else []
    return day + (HOUR_OF_DAY_COLUMNS if "minute" in present else [])


def _join_seasonal(
    table: pd.DataFrame,
    incidents: pd.DataFrame,
    key: str,
    months: pd.Series,
    timing: list[str],
) -> pd.DataFrame:
    """Join peak month, seasonality test, trend, m01..m12 and the ``timing`` columns
    (day-of-week, hour: see :func:`timing_columns`) onto ``table`` by ``key``."""
    row_counts = [c for c in ("dow_rows", "hour_rows") if c in timing]
    if len(incidents) == 0:
        out = table.copy()
        for c in SEASONAL_COLUMNS + timing:
            out[c] = np.nan
        out["trend"] = "none"
        for c in row_counts:
            out[c] = 0
        out["spark_svg"] = ""
        return out
    # Months with no incident anywhere (gaps in the data) are missing, not zero. The span is
    # the month span of these rows, given here so that it is logged once (in analyse), not
    # by each of the eight seasonal calls of a run.
    span = (incidents["when"].min(), incidents["when"].max())
    prof = seasonal_profiles(incidents, by=key, period=span, months_with_data=months)
    trend = trend_tests(incidents, by=key, period=span, months_with_data=months)
    cols = [key, "peak_month", "seasonal_p", *[f"m{m:02d}" for m in range(1, 13)], *timing]
    merged = table.merge(prof[cols], on=key, how="left").merge(
        trend[[key, "trend", "trend_slope_per_year", "trend_p"]], on=key, how="left"
    )
    merged["trend"] = merged["trend"].fillna("none")
    # An area without incidents has no dated rows; its peak day/hour stay NaN.
    for c in row_counts:
        merged[c] = merged[c].fillna(0).astype(np.int64)
    if months.dt.to_period("M").nunique() < 12:
        # A peak month needs a whole year of data: with fewer months, say nothing.
        merged["peak_month"] = np.nan
        merged["seasonal_p"] = np.nan
    months = merged[[f"m{m:02d}" for m in range(1, 13)]].to_numpy(float)
    merged["spark_svg"] = [
        sparkline_svg(np.nan_to_num(r).tolist()) if np.isfinite(r).any() else "" for r in months
    ]
    return merged


def _area_table(
    polygons: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    layer: str,
    hotspots: gpd.GeoDataFrame,
    residents: pd.DataFrame | None,
    months: pd.Series,
    timing: list[str],
    prepared_callers: dict[str, pd.DataFrame],
) -> gpd.GeoDataFrame:
    counts = incidents.groupby(layer).size()
    table = polygons.copy()
    table["layer"] = layer
    table["incidents"] = table["name"].map(counts).fillna(0).astype(int)
    table["area_km2"] = np.round(table.area / 1e6, 4)
    if residents is not None:  # population_by_layer's table: residents, coverage, reason
        rates = area_rates(table.set_index("name")["incidents"], residents["residents"])
        table = table.join(rates, on="name").join(residents.drop(columns="residents"), on="name")
    table = _join_seasonal(
        table.rename(columns={"name": layer}),
        incidents.loc[incidents[layer] != ""],
        layer,
        months,
        timing,
    ).rename(columns={layer: "name"})
    callers = prepared_callers.get(layer)
    if callers is not None:
        table = table.merge(callers, left_on="name", right_on="area", how="left").drop(
            columns="area"
        )
        for col in ("repeat_callers", "incidents_from_repeat_callers"):
            table[col] = table[col].fillna(0).astype(int)
    if layer in hotspots:
        top = (
            hotspots.sort_values("rank")
            .groupby(layer)["rank"]
            .apply(lambda r: ", ".join(f"#{v}" for v in r.head(5)))
        )
        names = table["name"].map(top.astype(object).to_dict())
        table["top_hotspots"] = names.astype(object).where(names.notna(), "")
    return table


def _periods(when: pd.Series) -> pd.Series:
    """Time steps for the emerging-hotspot classes: quarters with ≥ 12 months, else months."""
    span = (when.max().year - when.min().year) * 12 + when.max().month - when.min().month + 1
    return when.dt.to_period("Q" if span >= 12 else "M").astype(str)


def _hotspot_classes(members: pd.DataFrame, ranked: gpd.GeoDataFrame, grid: Grid) -> pd.DataFrame:
    """Emerging-hotspot class of each hotspot from Gi* per time step.

    A hotspot is hot in a time step when any of its cells is a Gi* hot spot at 95% or more
    on that step's counts; the class then follows :func:`hotspots.seasonal.emerging_classes`
    on the hotspot's counts per step. Steps with no incident anywhere are gaps, left out.
    """
    from rasterio.features import rasterize

    if len(ranked) == 0:
        return pd.DataFrame({"hotspot_id": pd.Series(dtype=int), "class": pd.Series(dtype=str)})
    step, steps = pd.factorize(_periods(members["when"]), sort=True)
    if len(steps) < 2:  # a class describes change over time: one step has none
        return pd.DataFrame(
            {"hotspot_id": ranked["hotspot_id"].astype(int), "class": "too few periods"}
        )
    ids = ranked["hotspot_id"].astype(int).to_numpy()
    owner = rasterize(
        zip(ranked.geometry.values, ids.tolist(), strict=True),
        out_shape=grid.shape,
        transform=grid.transform,
        fill=0,
        dtype="int32",
    )
    # Position of each hotspot id among ``ids`` (-1: not a ranked hotspot).
    position = np.full(max(int(ids.max()), int(owner.max())) + 1, -1)
    position[ids] = np.arange(len(ids))
    member = members["hotspot_id"].to_numpy(int)
    inside = (member > 0) & (member < len(position))
    inside[inside] = position[member[inside]] >= 0
    counts = np.zeros((len(steps), len(ids)))
    np.add.at(counts, (step[inside], position[member[inside]]), 1)
    hot = np.zeros((len(steps), len(ids)), dtype=bool)
    # Each step's cell counts from one sort of the incidents by step, not a scan per step.
    row, col, on = grid.cell_of(members["x"].to_numpy(), members["y"].to_numpy())
    by_step = np.argsort(step[on], kind="stable")
    flat = (row[on] * grid.ncols + col[on])[by_step]
    bounds = np.searchsorted(step[on][by_step], np.arange(len(steps) + 1))
    for i in range(len(steps)):
        cells = np.bincount(flat[bounds[i] : bounds[i + 1]], minlength=owner.size)
        gi = gistar_grid(
            cells.astype(np.float64).reshape(grid.shape),
            cell_size_m=grid.cell_size_m,
            mask=grid.mask,
            permutations=0,
            seed=0,
        )
        hot_ids = np.unique(owner[(gi.classes >= 2) & (owner > 0)])
        hot[i, position[hot_ids]] = True
    table = emerging_classes(pd.DataFrame(counts, columns=ids), hot=pd.DataFrame(hot, columns=ids))
    return pd.DataFrame({"hotspot_id": ids, "class": table["emerging_class"].to_numpy()})


def _seasonal_hotspots(
    inc: pd.DataFrame, grid: Grid, area_cols: list[str], config: RunConfig
) -> dict[str, gpd.GeoDataFrame]:
    """The top hotspots of each season's incidents, by the same method, for the map."""
    out = {}
    month = inc["when"].dt.month
    for name, months in ((season_label(s), m) for s, m in SEASON_MONTHS.items()):
        part = inc.loc[month.isin(months)]
        if len(part) < config.hotspots.min_incidents:
            continue
        harm = (
            harm_weights(part, column=config.hotspots.harm_column)
            if config.hotspots.harm_column
            else None
        )
        rank = partial(_ranked, harm=harm, config=config)
        caps: dict[str, Any] = {
            "max_area_m2": config.hotspots.max_area_m2,
            "max_extent_m": config.hotspots.max_extent_m,
            "area_columns": area_cols,
            "quantile": config.hotspots.quantile,
            "min_incidents": config.hotspots.min_incidents,
        }
        scores = cell_scores(part, grid)
        if not config.hotspots.exclude_artefacts:  # the rank reads no description: top only
            out[name] = top_microplaces(
                scores, grid, part, rank=rank, top_n=config.hotspots.top_n, **caps
            )
            continue
        found = microplace_hotspots(scores, grid, part, **caps)
        ranked = rank(found.polygons, found.labels)
        out[name] = ranked.sort_values("rank").head(config.hotspots.top_n).reset_index(drop=True)
    return out


def _ranked(
    table: pd.DataFrame, labels: np.ndarray, *, harm: np.ndarray | None, config: RunConfig
) -> pd.DataFrame:
    """A run's ranking of a hotspot table whose incidents have hotspot ``labels``."""
    return rank_hotspots(
        _with_harm(table, labels, harm),
        score=config.hotspots.rank_by,
        exclude="artefact" if config.hotspots.exclude_artefacts else None,
    )
