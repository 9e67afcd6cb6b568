"""Writing a run's outputs: each file atomically, all deterministic for the same inputs."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
from functools import partial
from pathlib import Path

import geopandas as gpd
import pandas as pd

from hotspots.io import (
    output_path,
    publish_folder,
    remove_stale,
    staging_folder,
    unique_slugs,
    write_bytes_atomic,
    write_geojson,
    write_gpkg,
    write_json,
    write_text_atomic,
)
from hotspots.io import write_csv as write_table
from hotspots.maps import map_html, patrol_map
from hotspots.pipeline._analysis import DAY_COLUMNS, HOUR_OF_DAY_COLUMNS
from hotspots.pipeline._disclosure import (  # noqa: F401 (re-exported)
    BLANKED_WITH,
    PARTS_OF,
    SMALL_COUNT_COLUMNS,
    Published,
    _complementary,
    _small,
    disclosure_control,
    published,
    suppress_small,
)
from hotspots.pipeline._plan import briefings, run_plan, with_patrol_flag
from hotspots.report import funnel_plot_png, static_map_png
from hotspots.schema import PERSONAL_COLUMN_HINTS, InputError
from hotspots.seasonal import MONTH_COLUMNS

log = logging.getLogger("hotspots.pipeline")

#: The map shows the busiest repeat locations only; repeat_locations.csv has them all.
MAP_REPEAT_LOCATIONS = 300
HOTSPOT_COLUMNS = [
    "rank",
    "hotspot_id",
    "score",
    "incidents",
    "area_m2",
    "density_km2",
    "share",
    "incident_share",
    "area_share",
    "incidents_per_ha",
    "persistence",
    "harm",
    "patrol",
    "label",
    "artefact",
    "artefact_note",
    "top_point_share",
    "excluded",
    "top_categories",
    "repeat_locations",
    "repeat_caller_incidents",
]


def personal_columns(columns: list[str]) -> list[str]:
    """Columns whose names suggest personal data or free text (dropped unless kept).

    Examples
    --------
    >>> personal_columns(["incident_id", "Caller Name", "victim_id", "risk"])
    ['Caller Name', 'victim_id']
    """
    return [c for c in columns if any(h in c.lower() for h in PERSONAL_COLUMN_HINTS)]


def hotspots_layer(hs: gpd.GeoDataFrame, area_cols: list[str]) -> gpd.GeoDataFrame:
    """The ranked hotspot polygons with their fixed columns, sorted by rank."""
    seasonal = [
        "peak_month",
        "seasonal_p",
        "trend",
        "trend_slope_per_year",
        "trend_p",
        *MONTH_COLUMNS,
        *DAY_COLUMNS,  # only present when the run's data has days / times
        *HOUR_OF_DAY_COLUMNS,
        "class",
    ]
    cols = [
        c
        for c in HOTSPOT_COLUMNS + area_cols + [f"{a}_all" for a in area_cols] + seasonal
        if c in hs.columns
    ]
    return hs[cols + [hs.geometry.name]].sort_values("rank").reset_index(drop=True)


def areas_table(areas: dict[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """One row per area of every layer: layer, name, incidents, seasonal columns…"""
    frames = []
    for gdf in areas.values():
        frame = pd.DataFrame(gdf.drop(columns=[gdf.geometry.name, "spark_svg"], errors="ignore"))
        frames.append(frame)
    first = ["layer", "name", "incidents"]
    if not frames:  # a run without area layers
        return pd.DataFrame(columns=first)
    table = pd.concat(frames, ignore_index=True)
    table = table[first + [c for c in table.columns if c not in first]]
    return table.sort_values(["layer", "name"]).reset_index(drop=True)


def incidents_layer(result) -> pd.DataFrame:
    """The incidents for the GeoPackage: points from x/y, built per chunk by the writer."""
    inc = result.prepared.incidents
    drop = ["_row"]
    if not result.config.output.keep_personal:
        drop += personal_columns(list(inc.columns))
    return inc.drop(columns=drop)


#: Errors of the output environment (exit 2, one line), with what they mean for ``--out``.
ENVIRONMENT_ERRORS = {
    errno.ENOSPC: "no space left on the device (disk full)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "a file is too large for the file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a file to write is a folder",
    errno.EEXIST: "a part of the path exists and is not a folder",
    errno.ENAMETOOLONG: "the path is too long",
    errno.ELOOP: "too many symbolic links in the path",
    errno.EBUSY: "the folder is in use (a mount point, or open in another program)",
    errno.EXDEV: "the folder is on another file system than its parent",
}
#: Below this many free bytes, a writer's error without an errno (GDAL) is a full disk.
DISK_FULL_BYTES = 1 << 20
#: run.json larger than this is not read to tell whether a folder is a run's output.
RUN_JSON_MAX_BYTES = 64 << 20


def write_outputs(result, out: Path, *, run_log=None) -> dict[str, str]:
    """Write every output file of a run into the folder ``out``; return name → path.

    ``out`` appears as a whole or not at all: the files are written into a staging folder
    beside it, ``<out>.staging-<pid>-<random>``, which then replaces ``out`` by two renames
    (:func:`hotspots.io.publish_folder`). Files of an earlier run that this one
    does not write are gone after it. A run that fails, or is killed, leaves the previous
    folder as it was; staging and aside folders of killed runs are removed by the next.

    ``out`` must be absent, an empty folder or an earlier run's output (it has a
    ``run.json`` written by hotspots); any other folder is refused (:class:`InputError`),
    never deleted. A symbolic link to a folder is followed: the folder it points to is
    replaced and the link kept. A full disk, a read-only or unwritable place is an
    :class:`InputError` naming ``out``.

    ``run_log``, a function returning the run's log text, is called once the other files
    are written and its text written as ``run.log`` (not listed in ``run.json``, which
    stays the same for the same inputs while the log's times do not).
    """
    target = check_output_folder(out)
    staging = None
    try:
        remove_stale(target)
        if target.is_dir() and not _is_run_output(target):  # as checked, unless restored
            raise InputError(_not_ours(out))
        staging = staging_folder(target)
        written = _write_all(result, staging)
        if run_log is not None:
            write_text_atomic(staging / "run.log", run_log())
            written = sorted([*written, "run.log"])
        publish_folder(staging, target)
    except OSError as exc:
        error = _environment_error(exc, out, target)
        if error is None:
            raise
        raise error from None
    except (InputError, RuntimeError, ValueError) as exc:
        if staging is None or isinstance(exc, InputError) or not _disk_full(target):
            raise
        raise InputError(_environment_text(out, ENVIRONMENT_ERRORS[errno.ENOSPC])) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # gone already when published
    return {name: str(out / name) for name in written}


def check_output_folder(out: str | os.PathLike[str]) -> Path:
    """The folder a run will replace (``out`` with symbolic links followed), after the
    checks that need no writing: it is not a file, not the current folder or one holding
    it, and (if it exists) empty or an earlier run's output. :class:`InputError` if not.

    Cheap: call it before a run's analysis to fail early.
    """
    try:
        target = Path(os.path.realpath(out))
    except ValueError:  # NUL in the path
        raise InputError(f"--out {str(out)!r}: is not a valid path") from None
    if target.exists() and not target.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder; give a folder for the outputs")
    try:
        here = Path.cwd().resolve()
    except OSError:
        here = None
    if here is not None and (here == target or target in here.parents):
        raise InputError(
            f"--out {out}: is the current folder or holds it; a run replaces its output "
            "folder as a whole, so give a folder of its own, e.g. --out outputs"
        )
    if target.is_dir() and not _is_run_output(target):
        raise InputError(_not_ours(out))
    return target


def _not_ours(out) -> str:
    return (
        f"--out {out}: is a folder that is not empty and has no run.json from an earlier "
        "hotspots run; a run replaces its output folder as a whole, so it will not delete "
        "these files: give a new or empty folder"
    )


def _is_run_output(folder: Path) -> bool:
    """Empty, or holding a ``run.json`` that hotspots wrote (a JSON object with the run's
    ``config`` and its list of ``outputs``)."""
    try:
        if not any(folder.iterdir()):
            return True
        meta_path = folder / "run.json"
        if not meta_path.is_file() or meta_path.stat().st_size > RUN_JSON_MAX_BYTES:
            return False
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "config" in meta and "outputs" in meta


def _environment_text(out, reason: str, detail: str = "") -> str:
    where = f" ({detail})" if detail else ""
    return f"--out {out}: cannot write the outputs: {reason}{where}; nothing there was changed"


def _environment_error(exc: OSError, out, target: Path) -> InputError | None:
    """The one-line :class:`InputError` for an output-environment OSError, else None."""
    reason = ENVIRONMENT_ERRORS.get(exc.errno) if exc.errno is not None else None
    if reason is None:
        if not _disk_full(target):
            return None
        reason = ENVIRONMENT_ERRORS[errno.ENOSPC]
    detail = ""
    if exc.filename is not None:
        detail = str(exc.filename)
    return InputError(_environment_text(out, reason, detail))


def _disk_full(target: Path) -> bool:
    """Whether the file system of ``target`` has (almost) no space left."""
    try:
        return shutil.disk_usage(target.parent).free < DISK_FULL_BYTES
    except OSError:
        return False


def _file(out: Path, name: str) -> Path:
    """``out / name``, checked to lie inside ``out`` (names from data are slugs already)."""
    return output_path(out, name)


def _published_files(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` (relative POSIX path → bytes), run.json left out."""
    sizes = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            rel = path.relative_to(folder).as_posix()
            if rel != "run.json":
                sizes[rel] = path.stat().st_size
    return sizes


def _write_all(result, out: Path) -> list[str]:
    a = result.analysis
    pub = published(result)
    files: dict[str, Path] = {}
    write_csv = partial(write_table, neutralise_formulas=result.config.output.formula_guard)
    hotspots = hotspots_layer(pub.hotspots, [lyr.layer for lyr in result.prepared.layers])
    files["hotspots.geojson"] = out / "hotspots.geojson"
    write_geojson(hotspots, files["hotspots.geojson"])
    files["hotspots.csv"] = out / "hotspots.csv"
    write_csv(pd.DataFrame(hotspots.drop(columns=hotspots.geometry.name)), files["hotspots.csv"])
    files["areas.csv"] = out / "areas.csv"
    write_csv(areas_table(pub.areas), files["areas.csv"])
    files["patrol_list.csv"] = out / "patrol_list.csv"
    write_csv(pub.patrol, files["patrol_list.csv"])
    plan, plan_info = run_plan(result, pub)  # docs/patrol.md
    files["patrol_plan.csv"] = out / "patrol_plan.csv"
    write_csv(plan, files["patrol_plan.csv"])
    if result.config.output.briefings:
        for name, page in briefings(result, pub, plan, plan_info):
            files[f"briefings/{name}"] = _file(out, f"briefings/{name}")
            write_text_atomic(files[f"briefings/{name}"], page)
    files["repeat_locations.csv"] = out / "repeat_locations.csv"
    write_csv(pub.repeats, files["repeat_locations.csv"])
    files["density.tif"] = out / "density.tif"
    pub.surface.to_geotiff(files["density.tif"], tags=pub.surface_tags())
    if result.prepared.links is not None:
        files["duplicates.csv"] = out / "duplicates.csv"
        write_csv(result.prepared.links, files["duplicates.csv"])
    files["rejects.csv"] = out / "rejects.csv"
    write_csv(result.prepared.rejects_table(), files["rejects.csv"])
    layers = {
        "hotspots": hotspots,
        "gistar_cells": a.gistar_cells,
    }
    if (
        result.config.output.min_count <= 1
    ):  # single incidents are not shared under disclosure control
        layers["incidents"] = incidents_layer(result)
    slugs = layer_slugs([*a.areas, *pub.areas])
    for layer, gdf in pub.areas.items():
        layers[f"areas_{slugs[layer]}"] = gdf.drop(columns=["spark_svg"], errors="ignore")
    files["hotspots.gpkg"] = out / "hotspots.gpkg"
    write_gpkg(layers, files["hotspots.gpkg"])
    files["map.html"] = out / "map.html"
    write_text_atomic(
        files["map.html"], _map(result, pub, pub.hotspots, pub.areas, result.config.output.title)
    )
    if result.config.output.map_per_area:
        for name, html in _area_maps(result, pub, result.config.output.map_per_area):
            files[f"maps/{name}"] = _file(out, f"maps/{name}")
            write_text_atomic(files[f"maps/{name}"], html)
    first_layer = next(iter(pub.areas.values()), None)
    if first_layer is not None:
        files["map.png"] = out / "map.png"
        write_bytes_atomic(
            files["map.png"],
            static_map_png(
                hotspots=pub.hotspots.head(result.config.hotspots.top_n),
                areas_layer=first_layer,
                density=pub.surface.values,
                density_grid=pub.surface.grid,
                title=result.config.output.title,
                attribution=result.attribution,
            ),
        )
    for layer, table in a.areas.items():
        if "residents" not in table or table["residents"].sum() <= 0:
            continue
        # The overall rate is from every incident of the areas with residents (areas with a
        # blank rate have neither); the plot shows the published counts only.
        counted = table["residents"] > 0
        overall = table.loc[counted, "incidents"].sum() / table["residents"].sum() * 1000
        shown = pub.areas[layer]
        funnel = f"funnel_{slugs[layer]}.png"
        files[funnel] = _file(out, funnel)
        write_bytes_atomic(
            files[funnel],
            funnel_plot_png(
                pd.DataFrame(shown[["name", "incidents", "residents"]]),
                overall_rate_per_1000=overall,
                title=f"{result.config.output.title}: {layer} rates per 1,000 residents "
                f"({result.period_text})",
            ),
        )
    files["run.json"] = out / "run.json"
    for path in files.values():  # the last guard: nothing is written outside the folder
        _file(out, path.relative_to(out).as_posix())
    meta = result.metadata()
    meta["patrol_plan"] = plan_info
    meta["outputs"] = sorted(files)
    meta["files"] = _published_files(out)  # relative path → bytes, all but run.json
    write_json(meta, files["run.json"])
    return sorted(files)


def _map(
    result,
    pub: Published,
    hotspots: gpd.GeoDataFrame,
    areas: dict[str, gpd.GeoDataFrame],
    title: str,
) -> str:
    """The patrol map's HTML from published tables. Under disclosure control (``min_count``
    k > 1) single incidents are not drawn either, and the panel says what is blanked."""
    a = result.analysis
    k = pub.min_count
    params = _map_parameters(result)
    if k > 1:
        params["Small counts"] = f"1 to {k - 1} not shown (min_count {k})"
    plan, plan_info = run_plan(result, pub)
    plan = plan[plan["rank"].isin(hotspots["rank"])]
    m = patrol_map(
        hotspots=with_patrol_flag(hotspots, pub),
        patrol_plan=plan,
        plan_note=plan_info["rule"],
        areas=areas,
        density=pub.surface.values,
        density_grid=pub.surface.grid,
        gistar_cells=a.gistar_cells,
        repeat_locations=pub.repeats.head(MAP_REPEAT_LOCATIONS),
        monthly_hotspot_layers=pub.seasonal_hotspots,
        incidents=result.prepared.incidents if k <= 1 else None,
        title=title,
        period=result.period_text,
        params=params,
        attribution=result.attribution,
        online_tiles=result.config.output.online_tiles and not result.config.output.offline_map,
    )
    return map_html(m)


def _map_parameters(result) -> dict[str, str]:
    """The map panel's "How this map was made" lines: the automatic choices and their rules."""
    from hotspots.scoring import DEFAULT_METHOD

    s, hotspots = result.analysis.surface, result.config.hotspots
    return {
        "Cell size": f"{s.cell_size_m:g} m ({s.grid.cell_size_rule})",
        "Bandwidth": f"{s.bandwidth_m:.0f} m ({s.bandwidth_rule}, {s.kernel} kernel)",
        "Hotspots": f"top {1 - hotspots.quantile:.1%} of cells by the "
        f"{DEFAULT_METHOD.name} score (backtest-selected), ≥ {hotspots.min_incidents} incidents",
        "Ranked by": hotspots.rank_by,
        "Incidents": f"{len(result.prepared.incidents):,} used of "
        f"{result.prepared.load.rows_read:,} read",
    }


def layer_slugs(layers) -> dict[str, str]:
    """File-name part of each area layer key (``funnel_{slug}.png``, GeoPackage layer
    ``areas_{slug}``): :func:`~hotspots.io.safe_slug`, kept distinct.

    Examples
    --------
    >>> layer_slugs(["beat", "npa", "../x", "NPA", "beat"])
    {'beat': 'beat', 'npa': 'npa', '../x': 'x', 'NPA': 'npa-2'}
    """
    keys = list(dict.fromkeys(layers))
    return dict(zip(keys, unique_slugs(keys, default="layer"), strict=True))


def _area_maps(result, pub: Published, layer: str):
    """One map per area of ``layer`` (e.g. per NPA): its hotspots and the areas inside it."""
    if layer not in pub.areas:
        raise InputError(
            f"--map-per-area ([output] map_per_area) {layer!r} is not an area layer of this run; "
            f"the layers are {sorted(pub.areas)}"
        )
    table = pub.areas[layer]
    names = unique_slugs(table["name"].astype(str), default="area")
    for name, (_, area) in zip(names, table.iterrows(), strict=True):
        inside = area.geometry.buffer(-1.0)
        if layer in pub.hotspots:
            hotspots = pub.hotspots[pub.hotspots[layer] == area["name"]]
        else:
            hotspots = pub.hotspots[pub.hotspots.intersects(inside)]
        areas = {n: t[t.intersects(inside)] for n, t in pub.areas.items()}
        title = f"{result.config.output.title}: {area['name']}"
        yield f"{name}.html", _map(result, pub, hotspots, areas, title)
