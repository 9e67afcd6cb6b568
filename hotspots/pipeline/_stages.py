"""The load → locate → assign stages, with the rejects bookkeeping that keeps counts whole."""

from __future__ import annotations

import ctypes
import logging
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from hotspots.assign import assign_areas
from hotspots.boundaries import AreaLayer, combine_layers, load_areas, registry
from hotspots.data_areas import COLUMNS as DATA_AREA_COLUMNS
from hotspots.data_areas import CellStudyArea, DataAreas, areas_from_rows, study_area_from_cells
from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import (
    InputSpec,
    LoadResult,
    expand_paths,
    is_incident_dataset,
    latest_month,
    load_incidents,
    make_rejects,
    read_postcode_table,
    restrict_loaded,
    sorted_categorical,
)
from hotspots.linkage import link_duplicates, repeat_callers
from hotspots.pipeline._config import RunConfig
from hotspots.schema import CRS_METRIC, InputError, Reason

log = logging.getLogger("hotspots.pipeline")


#: Repetitive text columns kept as categoricals: at 5M rows each is ~100-170 MB as text,
#: a few MB as codes. ``incident_id`` and any person column stay text (nearly unique).
_CATEGORICAL = (
    "category",
    "source",
    "location",
    "precision",
    "lsoa_code",
    "lsoa_name",
    "outcome",
    "force",
    "geocode_note",
    "asb_type",
)


class RowCounts(TypedDict):
    """Where every input row went (:attr:`Prepared.counts`; ``rows`` in the run metadata)."""

    rows_read: int
    rows_used: int
    rows_rejected: int
    rows_merged_as_duplicates: int
    rejects_by_reason: dict[str, int]


@dataclass
class Prepared:
    """Geocoded, assigned incidents and the full accounting of input rows."""

    incidents: pd.DataFrame  # canonical columns, x/y in EPSG:27700 metres, area columns
    load: LoadResult
    rejects: pd.DataFrame  # _row, reason, detail (all stages)
    layers: list[AreaLayer]
    period: tuple[pd.Timestamp, pd.Timestamp] | None
    notes: dict[str, int] = field(default_factory=dict)
    postcode_rows_ignored: int = 0
    links: pd.DataFrame | None = None  # duplicates.csv: one row per record in a linked group
    merged: int = 0
    link_params: dict[str, object] = field(default_factory=dict)
    repeat_callers: pd.DataFrame | None = None  # per-area counts only: no person ids
    data_areas: DataAreas | None = None  # the layers' rule when they came from the rows
    cell_study_area: CellStudyArea | None = None  # the study area of rows naming no area

    def incident_points(self) -> gpd.GeoDataFrame:
        """The incidents as a GeoDataFrame of points (EPSG:27700), e.g. for ``.explore()``.

        Built on request: the stages work on the ``x``/``y`` columns, and five million
        shapely points would hold over 1 GB for nothing.
        """
        inc = self.incidents
        points = shapely.points(inc["x"].to_numpy(float), inc["y"].to_numpy(float))
        return gpd.GeoDataFrame(inc, geometry=points, crs=CRS_METRIC)

    @property
    def counts(self) -> RowCounts:
        by_reason = self.rejects["reason"].value_counts().sort_index()
        return {
            "rows_read": int(self.load.rows_read),
            "rows_used": int(len(self.incidents)),
            "rows_rejected": int(len(self.rejects)),
            "rows_merged_as_duplicates": int(self.merged),
            "rejects_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        }

    def rejects_table(self) -> pd.DataFrame:
        """Every rejected row with its original columns, ``reason`` and ``detail``."""
        raw = self.load.raw
        rej = self.rejects.sort_values("_row", kind="stable")
        table = raw.loc[rej["_row"].to_numpy()].copy()
        table["reason"] = rej["reason"].to_numpy()
        table["detail"] = rej["detail"].to_numpy()
        table = table.rename(columns={"_file": "file", "_line": "line"})
        cols = ["source", "file", "line", "reason", "detail"]
        rest = [c for c in table.columns if c not in cols and not c.startswith("_")]
        return table[cols + rest].reset_index(drop=True)


def prepare(config: RunConfig, *, allow_no_usable: bool = False) -> Prepared:
    """Load, validate, geocode and assign the config's inputs.

    The steps, in order: read the inputs in the requested period; locate every row
    (coordinates or postcodes); drop the canonical copy of the loaded rows; find the study
    area and assign each incident to its areas; link the same incident reported by
    several sources; count repeat callers; then check that every input row is accounted
    for (read = used + rejected + merged).

    Raises :class:`InputError` when no row is usable, unless ``allow_no_usable`` (for
    ``hotspots validate``, which lists the rejected rows).
    """
    load, period = _read_inputs(config)
    postcodes, ignored = _postcode_index(config)
    located = locate_incidents(load.incidents, postcodes=postcodes)
    load = _without_canonical_rows(load)
    inc, layers, data_areas, cells, area_rejects = _assign_study_area(config, located.incidents)
    rejects = [r for r in (load.rejects, located.rejects, *area_rejects) if len(r)]
    all_rejects = pd.concat(rejects, ignore_index=True) if rejects else load.rejects
    inc, links, merged, link_params = _link_sources(config, inc, postcodes)
    inc, callers = _repeat_callers(config, inc, layers)
    for col in [*_CATEGORICAL, *(lyr.layer for lyr in layers)]:
        if col in inc and pd.api.types.is_string_dtype(inc[col]):
            inc[col] = sorted_categorical(inc[col])
    prepared = Prepared(
        inc,
        load,
        all_rejects,
        layers,
        period,
        located.notes,
        ignored,
        links,
        merged,
        link_params,
        callers,
        data_areas,
        cells,
    )
    _check_accounting(prepared, config, allow_no_usable=allow_no_usable)
    return prepared


def _read_inputs(config: RunConfig) -> tuple[LoadResult, tuple[pd.Timestamp, pd.Timestamp] | None]:
    """The inputs' rows in the requested period and categories, and that period."""
    inputs = config.inputs
    if not inputs:
        raise InputError("no incident inputs: give --incidents PATH or [[inputs]] in the config")
    categories = config.filter.categories
    by_name = all(i.columns is None for i in inputs)  # police.uk files and datasets
    latest = _latest_month_of(inputs) if config.filter.last_months and by_name else None
    period = config.period(latest)
    if config.filter.last_months and not by_name and period is None:
        # Exports name no month: count back from the latest month of all their rows (as
        # police.uk file names do, whatever the category), then filter as loading would.
        load = load_incidents(inputs)
        if len(load.incidents):
            period = config.period(load.incidents["when"].max().to_period("M").start_time)
            assert period is not None  # last_months and a latest month give a period
            log.info(
                "Last %d months: %s to %s (latest month in the data)",
                config.filter.last_months,
                f"{period[0]:%b %Y}",
                f"{period[1]:%b %Y}",
            )
        load = restrict_loaded(load, period=period, categories=categories)
    else:
        load = load_incidents(inputs, period=period, categories=categories)
    release_memory()
    return load, period


def _postcode_index(config: RunConfig) -> tuple[PostcodeIndex | None, int]:
    """The postcode centroids, when an input is located by postcode (and rows ignored).

    Rows of an ingested dataset may have been located by postcode: duplicate linking then
    takes each postcode's precision from the table, as on the original files.
    """
    inputs = config.inputs
    from_dataset = any(is_incident_dataset(p) for i in inputs if i.columns is None for p in i.paths)
    by_postcode = any(i.columns is not None and i.columns.postcode for i in inputs)
    if not (by_postcode or from_dataset or config.postcodes):
        return None, 0
    table, ignored = read_postcode_table(config.postcodes)
    return PostcodeIndex.from_table(table), ignored


def _without_canonical_rows(load: LoadResult) -> LoadResult:
    """The load with only its raw rows (for rejects): the canonical rows live on, located.

    A fresh empty frame, not ``iloc[:0]``: a zero-length slice of an Arrow string column
    still holds the whole column's buffers (measured: 1.2 GB at 5M rows).
    """
    empty = {c: pd.array([], dtype=t) for c, t in load.incidents.dtypes.items()}
    load = replace(load, incidents=pd.DataFrame(empty))
    release_memory()
    return load


def _assign_study_area(
    config: RunConfig, inc: pd.DataFrame
) -> tuple[
    pd.DataFrame, list[AreaLayer], DataAreas | None, CellStudyArea | None, list[pd.DataFrame]
]:
    """The study area's layers (given, or from the rows' own codes, or from cells), each
    incident's areas, and the rejects of incidents outside the study area."""
    layers, data_areas = _area_layers(config, inc)
    rejects = []
    cells = None
    if not layers and len(inc):
        cells = study_area_from_cells(inc["x"].to_numpy(float), inc["y"].to_numpy(float))
        log.info("Study area: %s", cells.rule)
        if cells.outside.any():
            rejects.append(
                make_rejects(
                    inc.loc[cells.outside, "_row"],
                    Reason.OUTSIDE_STUDY_AREA,
                    "in a stray group of cells",
                )
            )
            inc = inc.loc[~cells.outside].reset_index(drop=True)
    if layers:
        inc, outside = assign_areas(inc, layers, tolerance_m=config.assign.tolerance_m)
        if data_areas is None and not config.assign.allow_outside:
            _check_areas_fit(inc, outside, layers)
        if outside.any():
            detail = (
                inc.loc[outside, "x"].round(0).astype(str)
                + ", "
                + inc.loc[outside, "y"].round(0).astype(str)
            )
            rejects.append(
                make_rejects(inc.loc[outside, "_row"], Reason.OUTSIDE_STUDY_AREA, detail)
            )
            inc = inc.loc[~outside].reset_index(drop=True)
    return inc, layers, data_areas, cells, rejects


def _link_sources(
    config: RunConfig, inc: pd.DataFrame, postcodes: PostcodeIndex | None
) -> tuple[pd.DataFrame, pd.DataFrame | None, int, dict[str, object]]:
    """One row per incident reported by several sources (docs/partnership.md)."""
    if not (config.duplicates.enabled and inc["source"].nunique() > 1):
        return inc, None, 0, {}
    linked = link_duplicates(
        inc,
        window_days=config.duplicates.window_days,
        source_priority=config.duplicates.source_priority or None,
        postcode_points=postcodes,  # per-postcode precision from centroid spacing
    )
    links = linked.links
    log.info(
        "Linked %s records reported by more than one source into %s groups; kept one per group",
        f"{len(links):,}",
        f"{links['group'].nunique():,}",
    )
    return linked.kept.reset_index(drop=True), links, len(linked.merged), linked.params


def _repeat_callers(
    config: RunConfig, inc: pd.DataFrame, layers: list[AreaLayer]
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Flag incidents from repeat callers; their per-area counts (never the person ids)."""
    column = config.callers.person_column
    if not column:
        return inc, None
    if column not in inc:
        raise InputError(
            f"person_column {column!r} is not a column of the "
            f"inputs; they have {sorted(c for c in inc if not c.startswith('_'))}"
        )
    found = repeat_callers(
        inc,
        person_column=column,
        min_incidents=config.callers.min_incidents,
        window_months=config.callers.window_months,
        area_columns=[lyr.layer for lyr in layers],
    )
    inc["repeat_caller"] = found.flags["_repeat_caller"].to_numpy(dtype=bool)
    return inc, found.per_area


def _check_accounting(prepared: Prepared, config: RunConfig, *, allow_no_usable: bool) -> None:
    """Every input row is used, rejected or merged; some row is usable (else say why)."""
    c = prepared.counts
    if c["rows_read"] != c["rows_used"] + c["rows_rejected"] + c["rows_merged_as_duplicates"]:
        raise RuntimeError(f"row accounting broken: {c}")
    if c["rows_used"] == 0 and not allow_no_usable:
        reasons = ", ".join(f"{k} {v:,}" for k, v in c["rejects_by_reason"].items())
        if not c["rows_read"]:
            files = ", ".join(str(f["file"]) for f in prepared.load.files) or "the inputs"
            raise InputError(f"no incidents: {files} hold(s) no data rows")
        rejects = prepared.rejects
        filtered = rejects.loc[rejects["reason"] == str(Reason.FILTERED_CATEGORY), "detail"]
        outside = c["rejects_by_reason"].get(str(Reason.OUTSIDE_STUDY_AREA), 0)
        if len(filtered) and not outside:  # else the category's rows were there, elsewhere
            found = ", ".join(sorted(set(filtered.astype(str)))[:20])
            raise InputError(
                f"no incident has the category {config.filter.categories}; the inputs have: {found}"
            )
        raise InputError(
            f"no usable incidents: all {c['rows_read']:,} rows were rejected "
            f"({reasons}); `hotspots validate` lists them"
        )
    log.info(
        "Read %s rows: %s used, %s rejected %s",
        f"{c['rows_read']:,}",
        f"{c['rows_used']:,}",
        f"{c['rows_rejected']:,}",
        c["rejects_by_reason"],
    )


#: Explicit areas that leave more of the located rows outside than this are refused (the
#: wrong force's boundaries), unless ``allow_outside``: a force's own boundaries leave
#: a few percent out (strays recorded elsewhere), another force's nearly all.
MAX_OUTSIDE_SHARE = 0.5


def _area_layers(
    config: RunConfig, incidents: pd.DataFrame
) -> tuple[list[AreaLayer], DataAreas | None]:
    """The run's area layers: the config's, or (none given) the rows' own LSOAs, districts
    and force (:mod:`hotspots.data_areas`), or none for rows that name no LSOA (their
    study area is then drawn from the cells they fall in)."""
    if config.areas:
        return combine_layers([load_areas(s, f or None) for s, f in config.areas]), None
    if (
        not set(DATA_AREA_COLUMNS) <= set(incidents.columns)
        or not (incidents["lsoa_code"].astype("string").fillna("").str.strip() != "").any()
    ):
        return [], None
    shipped, attribution = _shipped_lsoas(incidents)
    found = areas_from_rows(incidents, shipped, attribution=attribution)
    log.info("Areas: %s", found.rule)
    return found.layers, found


def _force_slug(force: str) -> str:
    """The registry prefix a force's layers would have ("Lincolnshire Police" → "lincolnshire").

    >>> _force_slug("Cambridgeshire Constabulary"), _force_slug("Avon and Somerset Police")
    ('cambridgeshire', 'avon-and-somerset')
    """
    name = re.sub(r"\b(police|constabulary|service)\b", "", force.lower())
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def _shipped_lsoas(incidents: pd.DataFrame) -> tuple[gpd.GeoDataFrame | None, str]:
    """The shipped LSOA polygons of the forces in the rows, best-matching vintage first
    (the one holding more of the rows' codes), with their attribution."""
    forces = {_force_slug(str(f)) for f in incidents["force"].dropna().unique()}
    codes = set(incidents["lsoa_code"].dropna().astype(str))
    found = []
    for name, entry in registry().items():
        if name.split("/")[0] in forces and list(entry["fields"]) == ["lsoa"]:
            polygons = load_areas(name)[0].polygons
            found.append(
                (
                    -int(polygons["name"].isin(codes).sum()),
                    name,
                    polygons,
                    entry["attribution"],
                )
            )
    if not found:
        return None, ""
    found.sort(key=lambda f: f[:2])
    merged = pd.concat([f[2] for f in found], ignore_index=True).drop_duplicates("name")
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=CRS_METRIC), found[0][3]


def _check_areas_fit(inc: pd.DataFrame, outside: np.ndarray, layers: list[AreaLayer]) -> None:
    """Refuse areas that leave most located rows outside (:data:`MAX_OUTSIDE_SHARE`)."""
    if not len(inc) or outside.mean() <= MAX_OUTSIDE_SHARE:
        return
    forces = (
        ", ".join(sorted(str(f) for f in inc["force"].dropna().unique())) if "force" in inc else ""
    )
    shipped = sorted(
        f"{slug}/beats"
        for slug in {_force_slug(f) for f in forces.split(", ") if f}
        if f"{slug}/beats" in registry()
    )
    fix = (
        f"use --areas {' '.join(shipped)}"
        if shipped
        else "give that force's boundaries with --areas, or leave --areas out to use the "
        "rows' own LSOAs"
    )
    data = f"the data is from {forces}" if forces else "the data lies elsewhere"
    raise InputError(
        f"{outside.mean():.0%} of the {len(inc):,} located rows fall outside the areas "
        f"{layers[0].source.rsplit(':', 1)[0]}; {data}: {fix} "
        "(or --allow-outside to run anyway)"
    )


_RELEASE_BETWEEN_STAGES = False


def release_memory_between_stages(enabled: bool = True) -> None:
    """Opt in (the CLI and batch workers do) to handing freed memory back to the system
    between stages: see :func:`release_memory`.

    It acts on the whole process (Arrow's pool, glibc's heap), so a library call of
    :func:`hotspots.pipeline.run` leaves it off unless its caller, who owns the process,
    asks for it.
    """
    global _RELEASE_BETWEEN_STAGES
    _RELEASE_BETWEEN_STAGES = bool(enabled)


def release_memory() -> None:
    """Hand memory freed by the last stage back to the system before the next one, when
    :func:`release_memory_between_stages` is on.

    Arrow's allocator keeps freed pages for reuse, and so does glibc's malloc (numpy and
    Python objects); after a stage that built and dropped millions of strings that is GBs
    the later stages never use (measured: loading 1.3M rows then dropping them left 1.5 GB
    resident, 0.2 GB once released).
    """
    if not _RELEASE_BETWEEN_STAGES:
        return
    pa.default_memory_pool().release_unused()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _glibc() -> ctypes.CDLL | None:
    """glibc, for ``malloc_trim`` (Linux only; elsewhere the OS allocator is left alone)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # musl and other C libraries have no malloc_trim
        return None


_LIBC = _glibc()


def _latest_month_of(inputs: Sequence[InputSpec]) -> pd.Timestamp:
    """Latest month over all inputs, to choose 'the last N months' before reading rows.

    police.uk files by their names' month (no file is opened); an ingested dataset by its
    latest row among those its filters select (only the ``when`` column is read).
    """
    months: list[pd.Timestamp] = []
    for spec in inputs:
        datasets = [p for p in spec.paths if is_incident_dataset(p)]
        for path in datasets:
            latest = latest_month(path, filters=spec.filters)
            if latest is not None:
                months.append(latest)
        files = [p for p in spec.paths if p not in datasets]
        if files:
            months += [pd.Timestamp(f.month + "-01") for f in expand_paths(files) if f.month]
    if not months:
        raise InputError(
            "--last-months ([filter] last_months) needs police.uk files named YYYY-MM-... or "
            "an ingested dataset with rows for its filters; give --from/--to ([filter] from/to)"
        )
    return max(months)
