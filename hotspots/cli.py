"""Command line: a thin shell over :mod:`hotspots.pipeline`.

Exit codes: 0 success; 2 bad input or configuration (one line naming the file, column and
value); 1 an unexpected error (a bug: please report it with the traceback shown by
``--verbose``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hotspots.pipeline import (
    RunConfig,
    RunResult,
    demo_config,
    load_config,
    prepare,
    run,
    study_area_rule,
)
from hotspots.pipeline.cli_text import EPILOGS, summary_text
from hotspots.schema import HotspotsError, InputError

log = logging.getLogger("hotspots")


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


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    from hotspots.io.load import InputSpec

    cfg = load_config(args.config) if getattr(args, "config", None) else RunConfig()
    if args.incidents:
        cfg.inputs = [InputSpec.police_uk(args.incidents)]
    if args.areas:
        from hotspots.boundaries import split_area_fields

        cfg.areas = split_area_fields(args.areas, _area_fields(args.area_field or []))
    elif args.area_field:
        raise InputError("--area-field needs --areas FILE")
    for name in (
        "out",
        "cell_size_m",
        "bandwidth_m",
        "kernel",
        "title",
        "last_months",
        "month_from",
        "month_to",
        "top_n",
        "map_per_area",
        "min_count",
        "allow_outside",
    ):
        value = getattr(args, name, None)
        if value is not None:
            setattr(cfg, name, value)
    if getattr(args, "category", None):
        cfg.categories = list(args.category)
    return cfg


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--incidents",
        nargs="+",
        action="extend",
        metavar="PATH",
        required=False,
        help="police.uk CSV files, folders or zip archives",
    )
    p.add_argument(
        "--areas",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="boundary files or registry names (see `hotspots boundaries`)",
    )
    p.add_argument(
        "--area-field",
        action="append",
        metavar="LAYER=FIELD",
        help="which field names the areas, e.g. beat=beat_name (repeatable)",
    )
    p.add_argument("--config", metavar="FILE", help="TOML run configuration")
    p.add_argument(
        "--category",
        action="append",
        metavar="NAME",
        help="keep only this category (repeatable), e.g. 'Anti-social behaviour'",
    )
    p.add_argument("--from", dest="month_from", metavar="YYYY-MM", help="first month")
    p.add_argument("--to", dest="month_to", metavar="YYYY-MM", help="last month")
    p.add_argument("--last-months", type=int, metavar="N", help="use the latest N months")
    p.add_argument(
        "--allow-outside",
        action="store_true",
        default=None,
        help="run even when most rows fall outside the --areas given",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotspots",
        description="Crime and ASB hotspot analysis for patrol planning.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOGS["main"],
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    fmt = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "run", help="run the full analysis", epilog=EPILOGS["run"], formatter_class=fmt
    )
    _add_common(p)
    p.add_argument("--out", metavar="DIR", help="output folder (default outputs/)")
    p.add_argument("--cell-size-m", type=float, metavar="M", help="grid cell size in metres")
    p.add_argument("--bandwidth-m", type=float, metavar="M", help="KDE bandwidth in metres")
    p.add_argument("--kernel", choices=["quartic", "gaussian"])
    p.add_argument("--top-n", type=int, metavar="N", help="hotspots in the patrol list")
    p.add_argument("--title", help="map title")
    p.add_argument(
        "--map-per-area",
        metavar="LAYER",
        help="also write one map per area of LAYER (e.g. npa) into maps/",
    )
    p.add_argument(
        "--min-count",
        type=int,
        metavar="K",
        help="disclosure control for shared maps: hide counts below K",
    )
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the effective configuration (with automatic choices) and exit",
    )

    p = sub.add_parser(
        "demo",
        help="run on the embedded Leicestershire data",
        epilog=EPILOGS["demo"],
        formatter_class=fmt,
    )
    p.add_argument("--out", default="outputs", metavar="DIR")
    p.add_argument(
        "--last-months",
        type=int,
        default=12,
        metavar="N",
        help="latest N months of the embedded data (default 12; 0 = all)",
    )

    p = sub.add_parser(
        "evaluate",
        help="backtest hotspot methods on a later period (PAI)",
        epilog=EPILOGS["evaluate"],
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--train-from", required=True, metavar="YYYY-MM")
    p.add_argument("--train-to", required=True, metavar="YYYY-MM")
    p.add_argument("--test-from", required=True, metavar="YYYY-MM")
    p.add_argument("--test-to", required=True, metavar="YYYY-MM")
    p.add_argument("--cell-size-m", type=float, metavar="M", help="grid cell size in metres")
    p.add_argument("--out", default="outputs", metavar="DIR")

    p = sub.add_parser(
        "profile",
        help="seasonal profiles and trends for every area",
        epilog=EPILOGS["profile"],
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--by-category", action="store_true", help="one row per area and category")
    p.add_argument("--before", metavar="YYYY-MM:YYYY-MM", help="window before an operation")
    p.add_argument("--after", metavar="YYYY-MM:YYYY-MM", help="window after it")
    p.add_argument("--out", default="outputs", metavar="DIR")

    p = sub.add_parser(
        "ingest",
        help="validate inputs once into a partitioned Parquet dataset",
        epilog=EPILOGS["ingest"],
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--out", required=True, metavar="DIR.parquet")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (default: local)")
    p.add_argument("--workers", type=int, metavar="N", help="local workers (default: cores)")

    p = sub.add_parser(
        "batch",
        help="run the pipeline per group (force, category) on Dask",
        epilog=EPILOGS["batch"],
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument(
        "--by",
        default="force",
        metavar="KEY[,KEY]",
        help="canonical columns that define a group (default: force)",
    )
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (default: local)")
    p.add_argument("--workers", type=int, metavar="N", help="local workers (default: cores)")
    p.add_argument("--task", choices=["run", "evaluate"], default="run")
    p.add_argument("--force", nargs="+", metavar="NAME", help="only these forces")
    for flag in ("--train-from", "--train-to", "--test-from", "--test-to"):
        p.add_argument(flag, metavar="YYYY-MM", help="backtest period (with --task evaluate)")

    p = sub.add_parser(
        "validate",
        help="check inputs and list what would be rejected",
        epilog=EPILOGS["validate"],
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--show", type=int, default=10, metavar="N", help="rejected rows to print")

    p = sub.add_parser(
        "boundaries",
        help="list or inspect shipped boundary layers",
        epilog=EPILOGS["boundaries"],
        formatter_class=fmt,
    )
    p.add_argument("name", nargs="?", help="a registry name to inspect")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    cfg = _config_from_args(args)
    if args.print_config:
        import json

        # The automatic choices depend on the data: compute them without writing anything.
        result = run(cfg, write=False)
        effective = {"config": cfg.to_dict(), "automatic_choices": result.analysis.params}
        print(json.dumps(effective, indent=2, sort_keys=True, default=str))
        return 0
    result = run(cfg)
    _print_summary(result, args)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.last_months < 0:
        raise InputError(f"--last-months {args.last_months}: must be 0 (all months) or more")
    result = run(demo_config(out=args.out, last_months=args.last_months or None))
    _print_summary(result, args)
    return 0


def _print_summary(result: RunResult, args: argparse.Namespace) -> None:
    if not args.quiet:
        print(summary_text(result))


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from hotspots.pipeline.evaluation import run_evaluation

    cfg = _config_from_args(args)
    if args.category and len(args.category) > 1:
        raise InputError("evaluate takes one --category at a time")
    table = run_evaluation(
        cfg,
        train=(args.train_from, args.train_to),
        test=(args.test_from, args.test_to),
        category=args.category[0] if args.category else None,
        out=args.out,
    )
    if not args.quiet:
        wide = table.pivot_table(index="method", columns="area_share", values="pai")
        print("PAI by share of area (higher is better):")
        print(wide.round(1).to_string())
        print(f"written: {Path(args.out) / 'evaluation.csv'}")
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    from hotspots.pipeline.profile import run_profile

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


_COMMANDS = {
    "run": _cmd_run,
    "demo": _cmd_demo,
    "evaluate": _cmd_evaluate,
    "profile": _cmd_profile,
    "ingest": _cmd_ingest,
    "batch": _cmd_batch,
    "validate": _cmd_validate,
    "boundaries": _cmd_boundaries,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hotspots`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    try:
        return _COMMANDS[args.command](args)
    except HotspotsError as exc:
        message = " ".join(str(exc).split())  # always one line
        print(f"hotspots: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: not an error
        return 0
    except KeyboardInterrupt:
        print("hotspots: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an unexpected error is a bug: short message, traceback on -v
        if args.verbose:
            raise
        print(
            f"hotspots: unexpected error ({type(exc).__name__}: {exc}); "
            "rerun with --verbose for the traceback and please report it",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
