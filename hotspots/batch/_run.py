"""``run_batch``: one pipeline run (or backtest) per group of an ingested dataset.

Each group is one Dask task that is sent only the group's key values, the dataset path
and the config; it reads its own rows (filters pushed down to Parquet), runs
:func:`hotspots.pipeline.run` or :func:`hotspots.pipeline.run_evaluation`,
writes into its own folder and returns one small summary row. A group that fails is
reported and the others go on. ``batch.json``, written last in a group's folder, marks it
complete: re-running skips complete groups whose configuration is unchanged.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from hotspots.batch._cluster import connect, run_tasks, worker_count
from hotspots.batch._groups import group_config, group_slugs, list_groups
from hotspots.batch._summary import SUMMARY_COLUMNS, write_index, write_summary
from hotspots.boundaries import study_area
from hotspots.io import (
    FilterValue,
    output_path,
    publish_folder,
    remove_stale,
    staging_folder,
    write_json,
)
from hotspots.pipeline import RunConfig, RunResult, release_memory_between_stages, run
from hotspots.schema import InputError
from hotspots.seasonal import seasonal_profiles

log = logging.getLogger(__name__)

GROUP_MARKER = "batch.json"
TASKS = ("run", "evaluate")
#: Share of the study area at which the backtest's best method is picked for the summary.
SUMMARY_AREA_SHARE = 0.01


@dataclass(frozen=True)
class BatchReport:
    """A finished batch: one summary row per group and where everything was written."""

    out: Path
    task: str
    summary: pd.DataFrame
    seconds: float
    workers: int

    @property
    def counts(self) -> dict[str, int]:
        """Groups by status: ``ok`` (ran now), ``skipped`` (complete before), ``failed``."""
        vc = self.summary["status"].value_counts()
        return {s: int(vc.get(s, 0)) for s in ("ok", "skipped", "failed")}

    def text(self) -> str:
        """A few lines for the terminal."""
        c = self.counts
        lines = [
            f"{len(self.summary)} groups: {c['ok']} ran, {c['skipped']} already complete, "
            f"{c['failed']} failed ({self.seconds:.1f} s on {self.workers} worker(s)).",
            f"Summary: {self.out / 'summary.csv'}; index: {self.out / 'index.html'}",
        ]
        for _, row in self.summary.loc[self.summary["status"] == "failed"].iterrows():
            lines.append(f"  failed {row['group']}: {row['error']}")
        return "\n".join(lines)


def run_batch(
    dataset: str | Path,
    *,
    by: Sequence[str] = ("force",),
    config: RunConfig,
    out: str | Path,
    scheduler: str | None = None,
    workers: int | None = None,
    task: Literal["run", "evaluate"] = "run",
    evaluate_args: Mapping[str, Any] | None = None,
    filters: Mapping[str, FilterValue] | None = None,
    progress: bool = True,
) -> BatchReport:
    """Run the pipeline (or the backtest) once per group of an ingested dataset, in parallel.

    Parameters
    ----------
    dataset
        A folder written by :func:`hotspots.batch.ingest`.
    by
        Columns whose distinct values make the groups (any dataset column: ``force``,
        ``category``, ``year``, ``lsoa_code`` …), among the rows ``config`` selects.
    config
        The run configuration for every group; its inputs are replaced by the dataset
        filtered to the group and its ``out`` by ``out/<group folder>``.
    out
        Folder for the groups' folders (``out/leicestershire-police/`` …),
        ``summary.csv`` and ``index.html``.
    scheduler, workers
        ``None``: a local cluster of ``workers`` processes (default one per core); an
        address (``tcp://host:8786``): that cluster, whose workers need hotspots installed
        and the same paths; ``"sync"``: this process, no Dask.
    task
        ``"run"`` (the full pipeline) or ``"evaluate"`` (the backtest; ``evaluate_args``
        are the keyword arguments of :func:`hotspots.pipeline.run_evaluation`,
        ``train`` and ``test`` at least).
    filters
        Column → value (or list of values) selecting the rows of every group, e.g.
        ``{"force": ["Kent Police", "Essex Police"]}`` with ``by=["category"]``.
    progress
        A progress bar (groups done/failed) and the Dask dashboard link, on a terminal.
    """
    t0 = time.perf_counter()
    if task not in TASKS:
        raise InputError(f"task: {task!r} is not one of {TASKS}")
    args = dict(evaluate_args or {})
    if task == "evaluate" and not {"train", "test"} <= set(args):
        raise InputError("evaluate_args: give 'train' and 'test' month ranges for the backtest")
    root = Path(out)
    sizes = list_groups(dataset, by, config, filters=filters)
    groups = list(sizes)
    if not groups:
        raise InputError(f"dataset {dataset}: no rows for the config's period and categories")
    folders = [output_path(root, "/".join(s)) for s in group_slugs(groups)]
    configs = [
        group_config(config, dataset, by, g, f, filters=filters)
        for g, f in zip(groups, folders, strict=True)
    ]
    rows: list[dict[str, Any] | None] = [
        _complete(f, c, task, args) for f, c in zip(folders, configs, strict=True)
    ]
    # Largest first: the biggest group, started last, would finish long after the rest.
    todo = sorted((i for i, r in enumerate(rows) if r is None), key=lambda i: -sizes[groups[i]])
    log.info(
        "%d groups by %s: %d to do, %d complete",
        len(groups),
        ", ".join(by),
        len(todo),
        len(groups) - len(todo),
    )
    n_workers = 1
    if todo:
        with connect(scheduler, workers) as client:
            n_workers = worker_count(client)
            items = [configs[i] for i in todo]
            for j, result in run_tasks(
                client,
                run_group,
                items,
                desc=f"{task} by {','.join(by)}",
                progress=progress,
                capture=True,
                failed_if=_is_failure,
                task=task,
                evaluate_args=args,
            ):
                rows[todo[j]] = (
                    result
                    if isinstance(result, dict)
                    else _failed(f"{type(result).__name__}: {result}")
                )
    table = _summary_table(groups, by, folders, root, rows)  # type: ignore[arg-type]
    root.mkdir(parents=True, exist_ok=True)
    write_summary(table, root / "summary.csv", neutralise_formulas=config.output.formula_guard)
    write_index(table, by, task, root / "index.html")
    report = BatchReport(root, task, table, round(time.perf_counter() - t0, 3), n_workers)
    log.info(report.text())
    return report


def _is_failure(result: Any) -> bool:
    return not isinstance(result, dict) or result.get("status") == "failed"


def _failed(message: str) -> dict[str, Any]:
    return {"status": "failed", "error": message}


def _config_key(config: RunConfig) -> Any:
    """The config (with the inputs' filters) as JSON values, as stored in ``batch.json``."""
    key = {"config": config.to_dict(), "filters": [dict(i.filters) for i in config.inputs]}
    return json.loads(json.dumps(key, sort_keys=True, default=str))


def _complete(folder: Path, config: RunConfig, task: str, args: dict) -> dict | None:
    """The stored summary row if the group finished before with the same task and config."""
    marker = folder / GROUP_MARKER
    if not marker.is_file():
        return None
    try:
        stored = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    same = (
        stored.get("task") == task
        and stored.get("config") == _config_key(config)
        and stored.get("evaluate_args") == json.loads(json.dumps(args, default=str))
    )
    return {**stored["summary"], "status": "skipped"} if same else None


def run_group(config: RunConfig, *, task: str, evaluate_args: Mapping[str, Any]) -> dict:
    """Run one group (in a worker) and return its summary row; never raises.

    On success writes ``batch.json`` (task, config, summary) last, marking the group done.
    Memory is handed back between stages: the batch owns its worker processes.
    """
    release_memory_between_stages()
    t0 = time.perf_counter()
    folder = Path(config.output.dir)
    staging = None
    try:
        (folder / GROUP_MARKER).unlink(missing_ok=True)  # outputs about to change
        if task == "run":  # the run replaces the folder as a whole (write_outputs)
            row = _run_summary(run(config))
        else:  # the backtest is built beside the folder and swapped in the same way
            from hotspots.pipeline import run_evaluation

            remove_stale(folder)
            staging = staging_folder(folder)
            backtest = run_evaluation(config, out=staging, **evaluate_args)
            row = _evaluation_summary(backtest.table, backtest.metadata["rows"])
            publish_folder(staging, folder)
    except Exception as exc:  # one failing group must not stop the others
        log.warning("Group %s failed: %s", config.output.dir, exc)
        return {
            **_failed(f"{type(exc).__name__}: {exc}"),
            "seconds": round(time.perf_counter() - t0, 3),
        }
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)  # gone already when published
    row = {"status": "ok", "error": "", **row, "seconds": round(time.perf_counter() - t0, 3)}
    write_json(
        {
            "task": task,
            "config": _config_key(config),
            "evaluate_args": json.loads(json.dumps(dict(evaluate_args), default=str)),
            "summary": row,
        },
        Path(config.output.dir) / GROUP_MARKER,
    )
    return row


def _run_summary(result: RunResult) -> dict[str, Any]:
    """Counts, hotspots, the top hotspots' share of area and incidents, the peak month."""
    counts = result.prepared.counts
    hs = result.analysis.hotspots
    top = hs.sort_values("rank").head(result.config.hotspots.top_n)
    area = study_area(result.prepared.layers)
    if area is not None:
        area_m2 = float(area.area)
    else:
        grid = result.analysis.surface.grid
        area_m2 = float(grid.nrows * grid.ncols) * grid.cell_size_m**2
    incidents = result.prepared.incidents
    scoring = result.analysis.params.get("scoring", {})
    return {
        "rows_read": counts["rows_read"],
        "incidents": counts["rows_used"],
        "rows_rejected": counts["rows_rejected"],
        "hotspots": int(len(hs)),
        "top_hotspots_area_share": float(top["area_m2"].sum()) / area_m2 if area_m2 else np.nan,
        "top_hotspots_incident_share": (
            float(top["incidents"].sum()) / len(incidents) if len(incidents) else np.nan
        ),
        "method": scoring.get("method", ""),
        "pai": np.nan,
        "hit_rate": np.nan,
        "peak_month": _peak_month(incidents),
        "period": result.period_text,
        "output": "map.html",
    }


def _peak_month(incidents: pd.DataFrame) -> int | None:
    """The busiest calendar month of all the group's incidents; None (blank) without any."""
    if len(incidents) == 0:
        return None
    whole = incidents[["when", "precision"]].assign(group="all")
    return int(seasonal_profiles(whole, by="group")["peak_month"].iloc[0])


def _evaluation_summary(table: pd.DataFrame, counts: Mapping[str, Any]) -> dict[str, Any]:
    """The method with the highest PAI at 1 % of the study area, and its hit rate."""
    at = table.loc[np.isclose(table["area_share"], SUMMARY_AREA_SHARE)]
    best = at.sort_values(["pai", "method"], ascending=[False, True], kind="stable").iloc[0]
    return {
        "rows_read": counts.get("rows_read", np.nan),
        "incidents": int(best["n_train"] + best["n_test"]),
        "rows_rejected": counts.get("rows_rejected", np.nan),
        "hotspots": np.nan,
        "top_hotspots_area_share": np.nan,  # a backtest has no hotspots: see pai, hit_rate
        "top_hotspots_incident_share": np.nan,
        "method": str(best["method"]),
        "pai": float(best["pai"]),
        "hit_rate": float(best["hit_rate"]),
        "peak_month": None,  # a backtest gives no peak month: blank in summary.csv
        "period": f"{best['train_from']}..{best['test_to']}",
        "output": "evaluation.png",
    }


def _summary_table(
    groups: list[tuple[Any, ...]],
    by: Sequence[str],
    folders: list[Path],
    root: Path,
    rows: list[dict[str, Any]],
) -> pd.DataFrame:
    records = []
    for values, folder, row in zip(groups, folders, rows, strict=True):
        rel = folder.relative_to(root).as_posix()
        records.append(
            {
                **dict(zip(by, values, strict=True)),
                "group": " / ".join("null" if v is None else str(v) for v in values),
                "folder": rel,
                **row,
            }
        )
    columns = [*by, *(c for c in SUMMARY_COLUMNS if c not in by)]
    return pd.DataFrame.from_records(records).reindex(columns=columns)
