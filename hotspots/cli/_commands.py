"""One function per subcommand: build the configuration from the flags, call the pipeline,
print a short summary. No analysis happens here."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hotspots.cli._text import summary_text
from hotspots.pipeline import (
    RunConfig,
    RunResult,
    cli_flags,
    demo_config,
    load_config,
    prepare,
    run,
    study_area_rule,
)
from hotspots.schema import InputError


def _area_fields(values: Sequence[str]) -> dict[str, str]:
    fields = {}
    for v in values:
        layer, sep, name = v.partition("=")
        if not sep or not layer or not name:
            raise InputError(f"--area-field {v!r}: expected LAYER=FIELD, e.g. beat=BEAT_NAME")
        if layer.strip() in fields:
            raise InputError(f"--area-field {v!r}: layer {layer.strip()!r} is given twice")
        fields[layer.strip()] = name.strip()
    return fields


#: Numbers on the command line: the flag, the value they must exceed, the words for the
#: error (checked here so that the message names the flag, not the stage's parameter).
_NUMBER_FLAGS = {
    "workers": ("--workers", 0, "a whole number, 1 or more"),
    "show": ("--show", -1, "a whole number, 0 or more"),
}


def _check_numbers(args: argparse.Namespace) -> None:
    for name, (flag, above, words) in _NUMBER_FLAGS.items():
        value = getattr(args, name, None)
        if value is not None and not value > above:  # `not >`: NaN fails too
            raise InputError(f"{flag} {value:g}: give {words}")


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    from hotspots.io import InputSpec

    _check_numbers(args)
    cfg = load_config(args.config) if getattr(args, "config", None) else RunConfig()
    changes: dict[str, Any] = {}
    if args.incidents:
        changes["inputs"] = [InputSpec.police_uk(args.incidents)]
    if args.areas:
        from hotspots.boundaries import split_area_fields

        changes["areas"] = split_area_fields(args.areas, _area_fields(args.area_field or []))
    elif args.area_field:
        raise InputError("--area-field needs --areas FILE")
    for dest, (section, key) in cli_flags().items():
        value = getattr(args, dest, None)
        if value is not None:
            changes.setdefault(section, {})[key] = value
    return cfg.updated(**changes)


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    if args.print_config:
        import json

        # The automatic choices depend on the data: compute them without writing anything.
        result = run(cfg, write=False)
        effective = {"config": cfg.to_dict(), "automatic_choices": result.analysis.params}
        print(json.dumps(effective, indent=2, sort_keys=True, default=str))
        return 0
    t0 = time.perf_counter()
    result = run(cfg)
    _print_summary(result, args, time.perf_counter() - t0)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.last_months < 0:
        raise InputError(f"--last-months {args.last_months}: must be 0 (all months) or more")
    t0 = time.perf_counter()
    _check_numbers(args)
    cfg = demo_config(out=args.out, last_months=args.last_months or None).updated(
        output={"offline_map": bool(args.offline_map)}, patrol={"hours": args.patrol_hours}
    )
    result = run(cfg)
    _print_summary(result, args, time.perf_counter() - t0)
    return 0


def _print_summary(result: RunResult, args: argparse.Namespace, elapsed_s: float) -> None:
    """A few lines on stderr; the whole log is in run.log (and on stderr with -v)."""
    if not args.quiet:
        print(summary_text(result, elapsed_s), file=sys.stderr)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from hotspots.pipeline import parse_methods, run_evaluation

    cfg = _config_from_args(args)
    if args.category and len(args.category) > 1:
        raise InputError("evaluate takes one --category at a time")
    table = run_evaluation(
        cfg,
        train=(args.train_from, args.train_to),
        test=(args.test_from, args.test_to),
        category=args.category[0] if args.category else None,
        out=args.out,
        methods=parse_methods(args.methods) if args.methods else None,
    ).table
    if not args.quiet:
        wide = table.pivot_table(index="method", columns="area_share", values="pai")
        print("PAI by share of area (higher is better):")
        print(wide.round(1).to_string())
        print(f"written: {Path(args.out) / 'evaluation.csv'}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from hotspots.pipeline import run_profile

    cfg = _config_from_args(args)
    tables = run_profile(
        cfg, out=args.out, by_category=args.by_category, before=args.before, after=args.after
    )
    if not args.quiet:
        up = tables["trending_up"]
        print(f"{len(up)} areas trending significantly upwards (Mann-Kendall, FDR 5%)")
        cols = [
            c for c in ("layer", "name", "category", "trend_slope_per_year", "trend_q") if c in up
        ]
        if len(up):
            print(up[cols].head(20).to_string(index=False))
        print(f"written to {args.out}/: {', '.join(sorted(f'{n}.csv' for n in tables))}")
    return 0


def _refuse_period_flags(args: argparse.Namespace, command: str) -> None:
    """Commands that compare two periods take them as --before and --after only."""
    for flag, value in (
        ("--from", args.month_from),
        ("--to", args.month_to),
        ("--last-months", args.last_months),
    ):
        if value is not None:
            raise InputError(f"{command} takes --before and --after, not {flag}")


def _cmd_impact(args: argparse.Namespace) -> int:
    from hotspots.impact import DEFAULT_BUFFER_M
    from hotspots.pipeline import run_impact

    _refuse_period_flags(args, "impact")
    result = run_impact(
        _config_from_args(args),
        treated=args.treated,
        treated_field=args.treated_field,
        before=args.before,
        after=args.after,
        out=args.out,
        controls=args.controls,
        controls_field=args.controls_field,
        buffer_m=DEFAULT_BUFFER_M if args.buffer_m is None else args.buffer_m,
        seed=args.seed,
        patrol_log=args.patrol_log,
    )
    if not args.quiet:
        cols = ["area", "treated_before", "treated_after", "control_before", "control_after"]
        cols += ["wdd", "wdd_p", "wdq", "relative_change", "too_small"]
        print(result.table[cols].round(3).to_string(index=False))
        print(f"written: {Path(args.out) / 'impact.csv'}")
    return 0


def _cmd_change(args: argparse.Namespace) -> int:
    from hotspots.pipeline import run_change

    _refuse_period_flags(args, "change")
    result = run_change(
        _config_from_args(args),
        before=args.before,
        after=args.after,
        out=args.out,
        radius_cells=args.radius_cells,
        permutations=args.permutations,
        method=args.s_index,
        seed=args.seed,
    )
    if not args.quiet:
        f = result.meta["fuzzy"]
        print(
            f"hotspot maps: fuzzy similarity {f['similarity']}, hot/cold cells only "
            f"{f['similarity_significant']}, fuzzy kappa {f['fuzzy_kappa']}"
        )
        print("hotspots: " + ", ".join(f"{n} {s}" for s, n in result.meta["hotspots"].items()))
        if isinstance(result.meta["s_index"], dict):
            for layer, s in result.meta["s_index"].items():
                print(f"S-index {layer}: {s['s_index']} ({s['similar_areas']} of {s['areas']})")
        print(f"written to {args.out}/: {', '.join(sorted(result.meta.get('outputs', [])))}")
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from hotspots.batch import ingest

    cfg = _config_from_args(args)
    if not cfg.inputs:
        raise InputError("ingest needs --incidents PATH (or [[inputs]] in --config)")
    report = ingest(
        cfg.inputs,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        postcodes=cfg.postcodes,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(
            f"rows read {report.rows_read:,}: used {report.rows_used:,}, rejected "
            f"{report.rows_rejected:,} {report.rejects_by_reason}; {report.rows_per_s:,.0f} "
            f"rows/s on {report.workers} worker(s); dataset {report.path}"
        )
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from hotspots.batch import run_batch

    cfg = _config_from_args(args)
    if len(cfg.inputs) != 1:
        raise InputError("batch needs one --incidents DATASET written by `hotspots ingest`")
    dataset = cfg.inputs[0].paths[0]
    keys = [k.strip() for k in args.by.split(",") if k.strip()]
    evaluate_args = None
    if args.task == "evaluate":
        months = (args.train_from, args.train_to, args.test_from, args.test_to)
        if not all(months):
            raise InputError("--task evaluate needs --train-from/--train-to/--test-from/--test-to")
        evaluate_args = {"train": months[:2], "test": months[2:]}
    report = run_batch(
        dataset,
        by=keys,
        config=cfg,
        out=args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        task=args.task,
        evaluate_args=evaluate_args,
        filters={"force": args.force} if args.force else None,
        progress=not args.quiet,
    )
    if not args.quiet:
        print(report.text())
    return 1 if report.counts["failed"] else 0


def _cmd_validate(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    prepared = prepare(cfg, allow_no_usable=True)  # all rejected: list them, do not stop
    c = prepared.counts
    print(
        f"rows read {c['rows_read']:,}: {c['rows_used']:,} usable, {c['rows_rejected']:,} rejected"
    )
    for reason, n in c["rejects_by_reason"].items():
        print(f"  {reason:<22} {n:>8,}")
    for lyr in prepared.layers:
        print(f"areas: {lyr.layer} ({len(lyr.polygons):,}) from {lyr.source}")
    print(f"study area: {study_area_rule(prepared)}")
    table = prepared.rejects_table()
    if len(table) and args.show:
        cols = [c for c in ("file", "line", "reason", "detail") if c in table]
        print(table[cols].head(args.show).to_string(index=False))
    for source, cats in prepared.load.unmapped_categories.items():
        print(f"unmapped categories in {source}: {', '.join(cats)}")
    return 0


def _cmd_boundaries(args: argparse.Namespace) -> int:
    from hotspots.boundaries import load_areas, registry

    if not args.name:
        for name, entry in sorted(registry().items()):
            print(f"{name:<28} {entry['description']}")
        return 0
    if args.name not in registry():
        raise InputError(f"{args.name!r} is not a shipped layer; run `hotspots boundaries`")
    entry = registry()[args.name]
    for layer in load_areas(args.name):
        km2 = layer.polygons.area.sum() / 1e6
        print(f"{layer.layer}: {len(layer.polygons)} areas, {km2:,.0f} km², from {layer.source}")
    print(f"attribution: {entry['attribution']}")
    return 0


COMMANDS = {
    "run": _cmd_run,
    "demo": _cmd_demo,
    "evaluate": _cmd_evaluate,
    "profile": _cmd_profile,
    "impact": _cmd_impact,
    "change": _cmd_change,
    "ingest": _cmd_ingest,
    "batch": _cmd_batch,
    "validate": _cmd_validate,
    "boundaries": _cmd_boundaries,
}
