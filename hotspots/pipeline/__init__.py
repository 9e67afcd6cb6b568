"""Compose the stages: ``run(config) -> RunResult``, and write its outputs.

The CLI is a thin shell over this module; notebooks and scripts call it directly::

    from hotspots.pipeline import RunConfig, run, demo_config
    result = run(demo_config(out="outputs"))

Import from here, not from the modules behind it: what ``__all__`` lists is the
pipeline's interface; the ``_``-modules are how it is done, and may change.

Runs
    :func:`run` (hotspots, maps, tables: :class:`RunResult`), :func:`run_evaluation`
    (backtests: :class:`EvaluationRun`), :func:`run_profile`, :func:`run_impact` and
    :func:`run_change`, each from a :class:`RunConfig` (:func:`load_config` reads one
    from TOML; its sections are the ``*Config`` classes).
Steps
    :func:`prepare` (read, geocode, link: :class:`Prepared`), :func:`write_outputs`
    (the run folder, published whole), :func:`disclosure_control` (small counts
    blanked), :func:`population_by_layer` (residents behind each area's rate).

The analysis modules load scipy, scikit-learn and folium; the names that need them are
imported on first use, so ``import hotspots.pipeline`` stays quick.
"""

from __future__ import annotations

import importlib
import logging
import platform
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotspots.io import InputSpec
from hotspots.pipeline._config import (
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
    cli_flags,
    load_config,
)
from hotspots.pipeline._stages import (
    Prepared,
    prepare,
    release_memory,
    release_memory_between_stages,
)

if TYPE_CHECKING:  # the analysis stages load scipy, folium…: imported when a run needs them
    from hotspots.pipeline._analysis import Analysis
    from hotspots.pipeline._change import ChangeResult, run_change
    from hotspots.pipeline._disclosure import disclosure_control
    from hotspots.pipeline._evaluation import (
        EvaluationRun,
        evaluation_grid,
        parse_methods,
        run_evaluation,
    )
    from hotspots.pipeline._impact import run_impact
    from hotspots.pipeline._outputs import check_output_folder, write_outputs
    from hotspots.pipeline._population import LayerPopulation, population_by_layer
    from hotspots.pipeline._profile import run_profile

#: Exported names imported on first use (PEP 562), with the module behind each.
_LAZY = {
    "ChangeResult": "_change",
    "run_change": "_change",
    "disclosure_control": "_disclosure",
    "EvaluationRun": "_evaluation",
    "evaluation_grid": "_evaluation",
    "parse_methods": "_evaluation",
    "run_evaluation": "_evaluation",
    "run_impact": "_impact",
    "check_output_folder": "_outputs",
    "write_outputs": "_outputs",
    "LayerPopulation": "_population",
    "population_by_layer": "_population",
    "run_profile": "_profile",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # the next look-up is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


log = logging.getLogger("hotspots.pipeline")

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
    "cli_flags",
    "Prepared",
    "prepare",
    "release_memory",
    "release_memory_between_stages",
    "study_area_rule",
    # Imported on first use (_LAZY):
    "ChangeResult",
    "run_change",
    "disclosure_control",
    "EvaluationRun",
    "evaluation_grid",
    "parse_methods",
    "run_evaluation",
    "run_impact",
    "check_output_folder",
    "write_outputs",
    "LayerPopulation",
    "population_by_layer",
    "run_profile",
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
    from hotspots.pipeline._analysis import analyse
    from hotspots.pipeline._outputs import check_output_folder, write_outputs

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
