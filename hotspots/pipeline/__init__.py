"""Compose the stages: ``run(config) -> RunResult``, and write its outputs.

The CLI is a thin shell over this module; notebooks and scripts call it directly::

    from hotspots.pipeline import RunConfig, run, demo_config
    result = run(demo_config(out="outputs"))
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotspots.io.load import InputSpec
from hotspots.pipeline.config import (
    EMBEDDED_INCIDENTS,
    POLICE_UK_ATTRIBUTION,
    AssignConfig,
    CallersConfig,
    DensityConfig,
    DuplicatesConfig,
    FilterConfig,
    GridConfig,
    HotspotsConfig,
    OutputConfig,
    PatrolConfig,
    PopulationConfig,
    RepeatsConfig,
    RunConfig,
    load_config,
)
from hotspots.pipeline.stages import (
    Prepared,
    prepare,
    release_memory,
    release_memory_between_stages,
)

if TYPE_CHECKING:  # the analysis stages load scipy, folium…: imported when a run needs them
    from hotspots.pipeline.analysis import Analysis

log = logging.getLogger(__name__)

__all__ = [
    "RunConfig",
    "AssignConfig",
    "CallersConfig",
    "DensityConfig",
    "DuplicatesConfig",
    "FilterConfig",
    "GridConfig",
    "HotspotsConfig",
    "OutputConfig",
    "PatrolConfig",
    "PopulationConfig",
    "RepeatsConfig",
    "RunResult",
    "run",
    "demo_config",
    "load_config",
    "prepare",
    "release_memory_between_stages",
    "study_area_rule",
]


@dataclass
class RunResult:
    """A finished run: the prepared incidents, the analysis, timings and written files."""

    config: RunConfig
    prepared: Prepared
    analysis: Analysis
    timings: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    @property
    def period_text(self) -> str:
        when = self.prepared.incidents["when"]
        if len(when) == 0:
            return "no incidents"
        return f"{when.min():%b %Y} to {when.max():%b %Y}"

    @property
    def attribution(self) -> str:
        boundaries = sorted({lyr.attribution for lyr in self.prepared.layers} - {""})
        return " ".join([POLICE_UK_ATTRIBUTION, *(f"Boundaries: {b}" for b in boundaries)])

    def metadata(self) -> dict[str, Any]:
        """The run.json content: counts, parameters with their rules, inputs, timings, versions."""
        p = self.prepared
        meta: dict[str, Any] = dict(p.counts)
        meta.update(
            {
                "title": self.config.output.title,
                "period": self.period_text,
                "period_requested": [str(t) for t in p.period] if p.period else None,
                "inputs": p.load.files,
                "files_skipped_outside_period": p.load.skipped_files,
                "unmapped_categories": p.load.unmapped_categories,
                "geocode_fixes": p.notes,
                "duplicate_linking": p.link_params,
                "postcode_rows_ignored": p.postcode_rows_ignored,
                "areas": [
                    {
                        "layer": lyr.layer,
                        "source": lyr.source,
                        "areas": len(lyr.polygons),
                        "geometries_repaired": lyr.repaired,
                    }
                    for lyr in p.layers
                ],
                "study_area": (
                    p.data_areas.metadata()
                    if p.data_areas is not None
                    else {"rule": study_area_rule(p)}
                ),
                "parameters": self.analysis.params,
                "config": self.config.to_dict(),
                "hotspots": int(len(self.analysis.hotspots)),
                "timings_s": {**self.timings, **self.analysis.timings},
                "versions": _versions(),
                "attribution": self.attribution,
            }
        )
        return meta


def study_area_rule(prepared: Prepared) -> str:
    """How the run's study area was chosen, in one sentence (validate, log, run.json)."""
    if prepared.data_areas is not None:
        return prepared.data_areas.rule
    if prepared.layers:
        return f"the first area layer given: {prepared.layers[0].source}"
    if prepared.cell_study_area is not None:
        return prepared.cell_study_area.rule
    return "no areas and no incidents"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in (
        "hotspots",
        "numpy",
        "pandas",
        "geopandas",
        "shapely",
        "pyproj",
        "scipy",
        "scikit-learn",
        "rasterio",
        "folium",
    ):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def demo_config(*, out: str | Path = "outputs", last_months: int | None = 12) -> RunConfig:
    """The demo: embedded Leicestershire police.uk data, approximate beats and NPAs.

    Uses the most recent ``last_months`` months of the embedded data (None: all of it).
    """
    return RunConfig(
        inputs=(InputSpec.police_uk(EMBEDDED_INCIDENTS),),
        areas=(("leicestershire/beats", {}),),
        filter=FilterConfig(last_months=last_months),
        output=OutputConfig(dir=str(out), title="Leicestershire — crime and ASB hotspots (demo)"),
    )


class RunLog(logging.Handler):
    """The log of one run, kept in memory for ``run.log``: INFO and up from ``hotspots.*``,
    WARNING and up from other libraries, only from the thread that started the run (so two
    runs in one process do not mix their logs)."""

    FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(self.FORMAT))
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        if record.levelno < logging.WARNING and not record.name.startswith("hotspots"):
            return  # e.g. pyogrio's "Created 171 records"
        try:
            self.lines.append(self.format(record))
        except Exception:  # a bad log call must not fail the run
            self.handleError(record)

    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    def __enter__(self) -> RunLog:
        # INFO records of the package must exist for run.log even when nothing configured
        # logging (a notebook): the console shows what its own handlers' levels let through.
        self._package = logging.getLogger("hotspots")
        self._level = self._package.level
        if self._package.getEffectiveLevel() > logging.INFO:
            self._package.setLevel(logging.INFO)
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)
        self._package.setLevel(self._level)


def run(config: RunConfig, *, write: bool = True) -> RunResult:
    """Run the whole pipeline; write the outputs into ``config.output.dir`` when ``write``, with
    the run's log (INFO and up) as ``run.log``."""
    from hotspots.pipeline.analysis import analyse
    from hotspots.pipeline.outputs import check_output_folder, write_outputs

    if write:  # before the analysis: a folder it may not replace fails in a second, not later
        check_output_folder(config.output.dir)
    with RunLog() as run_log:
        t0 = time.perf_counter()
        prepared = prepare(config)
        release_memory()
        t1 = time.perf_counter()
        analysis = analyse(prepared, config)
        release_memory()
        timings = {"load_geocode_assign": round(t1 - t0, 3)}
        result = RunResult(config, prepared, analysis, timings)
        if write:
            t2 = time.perf_counter()
            result.files = write_outputs(result, Path(config.output.dir), run_log=run_log.text)
            result.timings["write"] = round(time.perf_counter() - t2, 3)
    return result
