"""The load → locate → assign stages, with the rejects bookkeeping that keeps counts whole."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import geopandas as gpd
import pandas as pd
import pyarrow as pa
import shapely

from hotspots.boundaries import AreaLayer, load_areas
from hotspots.geocode import PostcodeIndex, assign_areas, locate_incidents
from hotspots.io.load import LoadResult, load_incidents, make_rejects
from hotspots.io.postcodes import read_postcode_table
from hotspots.linkage import link_duplicates, repeat_callers
from hotspots.pipeline.config import RunConfig
from hotspots.schema import CRS_METRIC, InputError, Reason

log = logging.getLogger(__name__)


#: Repetitive text columns only carried to the outputs (or read as text): categoricals.
_PASS_THROUGH = ("precision", "lsoa_code", "lsoa_name", "outcome", "force", "geocode_note")


@dataclass
class Prepared:
    """Geocoded, assigned incidents and the full accounting of input rows."""

    incidents: gpd.GeoDataFrame
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

    @property
    def counts(self) -> dict[str, object]:
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


def prepare(config: RunConfig) -> Prepared:
    """Load, validate, geocode and assign the config's inputs."""
    inputs = config.inputs
    if not inputs:
        raise InputError("no incident inputs: give --incidents PATH or [[inputs]] in the config")
    latest = None
    if config.last_months and all(i.columns is None for i in inputs):
        latest = _latest_month_of(inputs)
    period = config.period(latest)
    load = load_incidents(inputs, period=period, categories=config.categories)
    release_memory()
    rejects = [load.rejects]
    postcodes, ignored = None, 0
    if any(i.columns is not None and i.columns.postcode for i in inputs) or config.postcodes:
        table, ignored = read_postcode_table(config.postcodes)
        postcodes = PostcodeIndex.from_table(table)
    located = locate_incidents(load.incidents, postcodes=postcodes)
    rejects.append(located.rejects)
    # The canonical rows live on in the located incidents: keep only the raw rows (rejects).
    load = replace(load, incidents=load.incidents.iloc[:0])
    release_memory()
    layers = [lyr for src, fields in config.areas for lyr in load_areas(src, fields or None)]
    inc = located.incidents
    if layers:
        inc, outside = assign_areas(inc, layers, tolerance_m=config.tolerance_m)
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
    all_rejects = (
        pd.concat([r for r in rejects if len(r)], ignore_index=True)
        if any(len(r) for r in rejects)
        else load.rejects
    )
    links, merged, link_params = None, 0, {}
    if config.link_duplicates and inc["source"].nunique() > 1:
        linked = link_duplicates(
            inc,
            window_days=config.link_window_days,
            source_priority=config.source_priority or None,
            postcode_points=postcodes,  # per-postcode precision from centroid spacing
        )
        links, merged, link_params = linked.links, len(linked.merged), linked.params
        inc = linked.kept.reset_index(drop=True)
        log.info(
            "Linked %s records reported by more than one source into %s groups; kept one per group",
            f"{len(links):,}",
            f"{links['group'].nunique():,}",
        )
    callers = None
    if config.person_column:
        if config.person_column not in inc:
            raise InputError(
                f"person_column {config.person_column!r} is not a column of the "
                f"inputs; they have {sorted(c for c in inc if not c.startswith('_'))}"
            )
        found = repeat_callers(
            inc,
            person_column=config.person_column,
            min_incidents=config.repeat_caller_min_incidents,
            window_months=config.repeat_caller_window_months,
            area_columns=[lyr.layer for lyr in layers],
        )
        inc["repeat_caller"] = found.flags["_repeat_caller"].to_numpy(dtype=bool)
        callers = found.per_area
    for col in _PASS_THROUGH:  # text no stage computes with: category codes, not 5M strings
        if col in inc and pd.api.types.is_string_dtype(inc[col]):
            inc[col] = inc[col].astype("category")
    gdf = gpd.GeoDataFrame(
        inc, geometry=shapely.points(inc["x"].to_numpy(), inc["y"].to_numpy()), crs=CRS_METRIC
    )
    prepared = Prepared(
        gdf,
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
    )
    c = prepared.counts
    if c["rows_read"] != c["rows_used"] + c["rows_rejected"] + c["rows_merged_as_duplicates"]:
        raise RuntimeError(f"row accounting broken: {c}")
    if c["rows_used"] == 0:
        reasons = ", ".join(f"{k} {v:,}" for k, v in c["rejects_by_reason"].items())
        if not c["rows_read"]:
            files = ", ".join(str(f["file"]) for f in load.files) or "the inputs"
            raise InputError(f"no incidents: {files} hold(s) no data rows")
        filtered = all_rejects.loc[all_rejects["reason"] == str(Reason.FILTERED_CATEGORY), "detail"]
        if len(filtered):
            found = ", ".join(sorted(set(filtered.astype(str)))[:20])
            raise InputError(
                f"no incident has the category {config.categories}; the inputs have: {found}"
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
    return prepared


def release_memory() -> None:
    """Hand memory freed by Arrow (string columns) back to the system between stages.

    Arrow's allocator keeps freed pages for reuse; after a stage that built and dropped
    millions of strings that is GBs the later stages never use (measured: loading 1.3M rows
    then dropping them left 1.5 GB resident, 0.2 GB once released).
    """
    pa.default_memory_pool().release_unused()


def _latest_month_of(inputs: list) -> pd.Timestamp:
    """Latest month named by police.uk file names (to choose 'the last N months' unread)."""
    from hotspots.io.sources import expand_paths

    months = [f.month for i in inputs for f in expand_paths(list(i.paths)) if f.month]
    if not months:
        raise InputError("last_months needs police.uk files named YYYY-MM-...; give month_from/to")
    return pd.Timestamp(max(months) + "-01")
