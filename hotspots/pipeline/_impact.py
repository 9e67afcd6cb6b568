"""``hotspots impact``: did the patrols (or any place-based intervention) work?

Loads the incidents of the two windows as ``hotspots run`` would (same readers, geocoding
and area assignment), reads the treated places (and controls) as area layers, calls
:func:`hotspots.impact.impact`, and publishes into ``out``:

* ``impact.csv`` — :data:`hotspots.impact.COLUMNS` + ``match_distance``: one row per
  treated area and one ``all`` row (sums);
* ``impact.geojson`` — the treated, control and buffer polygons with their counts (EPSG:4326);
* ``impact.png`` — before/after monthly rates by zone, and the monthly series;
* ``dose.csv`` and ``dose_response.csv`` — with a patrol log only;
* ``impact.json`` — periods, rules, seed, warnings and the list of files (written last).

The files are staged in a folder inside ``out`` and moved into place only when all exist,
``impact.json`` last, as :func:`hotspots.pipeline.write_outputs` does for a run.
Methods and caveats: ``docs/impact.md``.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hotspots.boundaries import load_areas, study_area
from hotspots.harm import harm_weights
from hotspots.impact import (
    DEFAULT_BUFFER_M,
    Impact,
    dose_response,
    impact,
    month_window,
    patrol_dose,
)
from hotspots.io import write_bytes_atomic, write_csv, write_geojson, write_json
from hotspots.pipeline._config import RunConfig
from hotspots.pipeline._stages import prepare
from hotspots.schema import InputError, MissingFileError

log = logging.getLogger("hotspots.pipeline")

#: Patrol logs larger than this are refused (a log is one row per visit: far below it).
MAX_PATROL_LOG_BYTES = 200 * 1024 * 1024
_ROLE_LABELS = {
    "treated": "treated",
    "control": "control",
    "buffer": "treated\nbuffer",
    "control_buffer": "control\nbuffer",
}


def run_impact(
    config: RunConfig,
    *,
    treated: str | Path,
    treated_field: str,
    before: str,
    after: str,
    out: str | Path,
    controls: str | Path = "auto",
    controls_field: str | None = None,
    buffer_m: float = DEFAULT_BUFFER_M,
    seed: int = 0,
    patrol_log: str | Path | None = None,
) -> Impact:
    """Evaluate the treated places between ``before`` and ``after``; write the outputs.

    ``config`` gives the inputs, area layers and categories (its month filters are
    replaced by the two windows). ``treated``/``controls`` are any polygon layer
    :func:`hotspots.boundaries.load_areas` reads, named by ``treated_field`` /
    ``controls_field`` (e.g. an earlier run's ``hotspots.geojson`` with ``hotspot_id``).
    """
    b0, b1 = month_window(before, "--before")
    a0, a1 = month_window(after, "--after")
    if a0 <= b1:
        raise InputError(
            f"--after {after!r} must start after --before {before!r} ends: the windows overlap"
        )
    treated_areas = _layer(treated, treated_field, "--treated")
    if str(controls) == "auto":
        control_areas: Any = "auto"
        if controls_field:
            raise InputError("--controls-field needs --controls FILE (not auto)")
    else:
        if not controls_field:
            raise InputError(
                f"--controls {controls}: say which field names them (--controls-field)"
            )
        control_areas = _layer(controls, controls_field, "--controls")
    cfg = config.updated(filter={"month_from": str(b0), "month_to": str(a1), "last_months": None})
    prepared = prepare(cfg)
    area = study_area(prepared.layers)
    harm = (
        harm_weights(prepared.incidents, column=config.hotspots.harm_column)
        if config.hotspots.harm_column
        else None
    )
    result = impact(
        prepared.incidents,
        treated=treated_areas,
        controls=control_areas,
        before=(b0, b1),
        after=(a0, a1),
        buffer_m=buffer_m,
        study_area=area,
        seed=seed,
        weights=harm,
    )
    dose = None
    if patrol_log is not None:
        dose = patrol_dose(
            _read_patrol_log(patrol_log),
            areas=result.table.loc[result.table["area"] != "all", "area"].tolist(),
            after=(a0, a1),
            months_after=result.months_after,
        )
    for warning in result.warnings:
        log.warning("impact: %s", warning)
    overall = result.table.iloc[-1]
    log.info(
        "All treated areas: relative change %+.0f%% (95%% %+.0f%% to %+.0f%%), WDD %.1f "
        "(se %.1f, p %.3g), WDQ %.2f",
        100 * overall["relative_change"],
        100 * overall["relative_change_low"],
        100 * overall["relative_change_high"],
        overall["wdd"],
        overall["wdd_se"],
        overall["wdd_p"],
        overall["wdq"],
    )
    meta = {
        **result.params(),
        "category": config.filter.categories or "all",
        "harm_column": config.hotspots.harm_column,
        "treated": f"{treated}:{treated_field}",
        "controls_source": "auto" if control_areas == "auto" else f"{controls}:{controls_field}",
        "study_area": [lyr.source for lyr in prepared.layers[:1]] or "convex hull of the incidents",
        "rows": prepared.counts,
        "inputs": prepared.load.files,
        "columns": {
            "wdd": "weighted displacement difference ΔT − ΔC + ΔD − ΔCd (Wheeler & "
            "Ratcliffe 2018); negative is a fall; after counts × after_scale",
            "wdd_se": "√(sum of the eight counts, after ones × after_scale²) (Poisson)",
            "wdq": "(D1/C1 − D0/C0) / (T1/C1 − T0/C0) (Bowers & Johnson 2003); read only "
            "when success_measure < 0",
            "relative_change": "(T1/T0) / (C1/C0) − 1, with a 95% interval",
            "too_small": "before-period counts could not detect a halving",
        },
    }
    guard = getattr(config, "formula_guard", True)
    _publish(Path(out), lambda d: _write_all(result, dose, meta, d, guard))
    return result


def _layer(source: str | Path, field: str, what: str):
    if not field:
        raise InputError(f"{what} {source}: say which field names the areas")
    try:
        layer = load_areas(source, {"area": field})[0]
    except MissingFileError as exc:
        raise MissingFileError(f"{what}: {exc}") from None
    return layer.polygons


def _read_patrol_log(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"--patrol-log {path}: no such file")
    if path.stat().st_size > MAX_PATROL_LOG_BYTES:
        raise InputError(
            f"--patrol-log {path}: larger than {MAX_PATROL_LOG_BYTES // 2**20} MB; is it a log?"
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        reason = " ".join(str(exc).split())
        raise InputError(f"--patrol-log {path}: cannot read as CSV ({reason})") from None
    frame.columns = [c.strip().lower() for c in frame.columns]
    if "date" not in frame and "week" in frame:
        frame = frame.rename(columns={"week": "date"})
    return frame


def _publish(out: Path, write: Callable[[Path], list[str]]) -> None:
    """Write files into a staging folder inside ``out``; move them in, the manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        names = write(staging)
        for name in sorted(names, key=lambda n: n == "impact.json"):
            os.replace(staging / name, out / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_all(
    result: Impact, dose: pd.DataFrame | None, meta: dict, out: Path, guard: bool
) -> list[str]:
    files = ["impact.csv", "impact.geojson", "impact.png"]
    write_csv(result.table, out / "impact.csv", neutralise_formulas=guard)
    write_geojson(result.zones, out / "impact.geojson")
    write_bytes_atomic(out / "impact.png", impact_png(result))
    if dose is not None:
        bands, trend = dose_response(result.table, dose)
        table = dose.merge(
            result.table[["area", "treated_before", "treated_after", "relative_change"]],
            on="area",
        )
        write_csv(table, out / "dose.csv", neutralise_formulas=guard)
        write_csv(bands, out / "dose_response.csv", neutralise_formulas=guard)
        meta = {**meta, "dose_trend": trend}
        files += ["dose.csv", "dose_response.csv"]
    files.append("impact.json")
    write_json({**meta, "outputs": sorted(files)}, out / "impact.json")
    return files


def impact_png(result: Impact) -> bytes:
    """Before/after incidents per month by zone (all areas), and the monthly series."""
    p = result.params()
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_bar, ax_line = fig.subplots(1, 2, width_ratios=[1, 1.4])
    total = result.table.iloc[-1]
    roles = [r for r in _ROLE_LABELS if f"{r}_before" in total]
    if p["buffer_m"] <= 0:
        roles = roles[:2]
    xs = np.arange(len(roles))
    before = [total[f"{r}_before"] / p["months_before"] for r in roles]
    after = [total[f"{r}_after"] / p["months_after"] for r in roles]
    ax_bar.bar(
        xs - 0.2, before, 0.4, label=f"before {p['before'][0]}..{p['before'][1]}", color="#9aa5b1"
    )
    ax_bar.bar(
        xs + 0.2, after, 0.4, label=f"after {p['after'][0]}..{p['after'][1]}", color="#7a0019"
    )
    ax_bar.set_xticks(xs, [_ROLE_LABELS[r] for r in roles])
    ax_bar.set(ylabel="incidents per month (all areas)", title="Before and after")
    ax_bar.set_ylim(0, max([*before, *after, 1e-9]) * 1.3)
    ax_bar.legend(loc="upper left", fontsize=8)
    monthly = result.monthly
    months = monthly["month"].unique().tolist()
    for r, style in zip(roles, ("-", "--", ":", "-."), strict=False):
        series = monthly.loc[monthly["role"] == r].set_index("month")["incidents"]
        ax_line.plot(
            range(len(months)),
            series.reindex(months).to_numpy(),
            style,
            label=_ROLE_LABELS[r].replace("\n", " "),
            color="#7a0019" if r == "treated" else None,
        )
    n_before = int((monthly.drop_duplicates("month")["period"] == "before").sum())
    ax_line.axvline(n_before - 0.5, color="k", linewidth=0.8)
    step = max(1, len(months) // 8)
    ax_line.set_xticks(range(0, len(months), step), months[::step], rotation=45, fontsize=8)
    ax_line.set(ylabel="incidents per month", title="Monthly series (line: start of after)")
    ax_line.grid(alpha=0.3)
    ax_line.legend(fontsize=8)
    rc = total["relative_change"]
    fig.suptitle(
        f"All treated areas: relative change {rc:+.0%} "
        f"(95% {total['relative_change_low']:+.0%} to {total['relative_change_high']:+.0%}), "
        f"WDD {total['wdd']:.0f} (p {total['wdd_p']:.2g})"
        if np.isfinite(rc)
        else "All treated areas: relative change not estimable"
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return buf.getvalue()
