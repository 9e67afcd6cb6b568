"""Command line: a thin shell over :mod:`hotspots.pipeline`.

Exit codes: 0 success; 2 bad input or configuration (one line naming the file, column and
value); 1 an unexpected error (a bug: please report it with the traceback shown by
``--verbose``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
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


#: Numbers on the command line: the flag, the value they must exceed, the words for the
#: error (checked here so that the message names the flag, not the stage's parameter).
_NUMBER_FLAGS = {
    "cell_size_m": ("--cell-size-m", 0, "a number of metres above 0"),
    "bandwidth_m": ("--bandwidth-m", 0, "a number of metres above 0"),
    "top_n": ("--top-n", 0, "a whole number, 1 or more"),
    "min_count": ("--min-count", -1, "a whole number, 0 or more"),
    "workers": ("--workers", 0, "a whole number, 1 or more"),
    "show": ("--show", -1, "a whole number, 0 or more"),
    "patrol_hours": ("--patrol-hours", 0, "a number of hours a week above 0"),
}


def _check_numbers(args: argparse.Namespace) -> None:
    for name, (flag, above, words) in _NUMBER_FLAGS.items():
        value = getattr(args, name, None)
        if value is not None and not value > above:  # `not >`: NaN fails too
            raise InputError(f"{flag} {value:g}: give {words}")


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    from hotspots.io.load import InputSpec

    _check_numbers(args)
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
        "formula_guard",
        "harm_column",
        "exclude_artefacts",
        "patrol_hours",
        "offline_map",
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
    p.add_argument(
        "--no-formula-guard",
        dest="formula_guard",
        action="store_false",
        default=None,
        help="write CSV text starting with = + - @ as it is (for machine consumers; "
        "by default it gets a ' so spreadsheets do not run it)",
    )


def _add_patrol(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--patrol-hours",
        type=float,
        metavar="H",
        help="weekly patrol hours to share between the patrol hotspots by score "
        "(patrol_plan.csv; docs/patrol.md)",
    )
    p.add_argument(
        "--offline-map",
        action="store_true",
        default=None,
        help="no OpenStreetMap street tiles: leave every tile URL out of the map",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotspots",
        description="Crime and ASB hotspot analysis for patrol planning.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOGS["main"],
    )
    _add_verbosity(parser, default=False)
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
    p.add_argument(
        "--harm-column",
        metavar="NAME",
        help="per-incident harm weight column: weights the density and sums to 'harm' per "
        'hotspot (rank with rank_by = "harm"); docs/harm.md',
    )
    p.add_argument(
        "--exclude-artefacts",
        action="store_true",
        default=None,
        help="rank hotspots flagged as artefacts (most incidents at one point, a police "
        "station, custody suite or hospital) after all others; they stay flagged on the map",
    )
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
    _add_patrol(p)
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
    _add_patrol(p)

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
    p.add_argument(
        "--methods",
        metavar="LIST",
        help="methods to compare, comma-separated, e.g. "
        "counts,kde:quartic:300,kde:gaussian:200,blend,forecast "
        "(default: forecast, default = the blend hotspots run ranks with, counts, the run's kde)",
    )
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
        "impact",
        help="did it work? treated places against controls and buffers (WDD, WDQ)",
        description="Before/after evaluation of patrolled (treated) places against "
        "controls, with displacement/diffusion buffers; see docs/impact.md.",
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--treated", required=True, metavar="FILE", help="treated places")
    p.add_argument("--treated-field", required=True, metavar="FIELD", help="their id field")
    p.add_argument("--before", required=True, metavar="YYYY-MM:YYYY-MM")
    p.add_argument("--after", required=True, metavar="YYYY-MM:YYYY-MM")
    p.add_argument(
        "--controls", default="auto", metavar="FILE|auto", help="control places (default auto)"
    )
    p.add_argument("--controls-field", metavar="FIELD", help="id field of --controls FILE")
    p.add_argument(
        "--buffer-m", type=float, metavar="M", help="buffer ring width in metres (default 250)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="matching seed (default 0)")
    p.add_argument("--patrol-log", metavar="CSV", help="area,date,minutes: dose-response")
    p.add_argument(
        "--harm-column",
        metavar="NAME",
        help="weigh each incident by this column's harm (docs/harm.md)",
    )
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser(
        "change",
        help="how the hotspot map changed between two periods (new, persistent, gone)",
        description="Compare two periods' grid Gi* hotspot maps (fuzzy similarity and "
        "kappa; new, persistent and gone hotspots) and the areas' shares of incidents "
        "(Andresen's S-index); see docs/change.md.",
        formatter_class=fmt,
    )
    _add_common(p)
    p.add_argument("--before", required=True, metavar="YYYY-MM:YYYY-MM")
    p.add_argument("--after", required=True, metavar="YYYY-MM:YYYY-MM")
    p.add_argument("--cell-size-m", type=float, metavar="M", help="grid cell size in metres")
    p.add_argument(
        "--radius-cells",
        type=float,
        default=2.0,
        metavar="N",
        help="neighbourhood of the fuzzy comparison in cells (default 2; 0 = crisp)",
    )
    p.add_argument(
        "--permutations",
        type=int,
        default=99,
        metavar="N",
        help="rearrangements for the expected similarity (default 99)",
    )
    p.add_argument(
        "--s-index",
        choices=["fisher", "andresen"],
        default="fisher",
        help="per-area test of the S-index (default fisher)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    p.add_argument(
        "--min-count",
        type=int,
        metavar="K",
        help="disclosure control for shared outputs: hide counts below K",
    )
    p.add_argument("--out", required=True, metavar="DIR")

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
    for p in sub.choices.values():  # -q/-v also after the subcommand: `hotspots run … -q`
        _add_verbosity(p, default=argparse.SUPPRESS)  # absent: keeps the value given before
    return parser


def _add_verbosity(p: argparse.ArgumentParser, default: object) -> None:
    p.add_argument("-q", "--quiet", action="store_true", default=default, help="only errors")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default,
        help="the log (INFO, debug) on stderr, tracebacks",
    )


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
    cfg = demo_config(out=args.out, last_months=args.last_months or None)
    cfg.offline_map = bool(args.offline_map)
    cfg.patrol_hours = args.patrol_hours
    result = run(cfg)
    _print_summary(result, args, time.perf_counter() - t0)
    return 0


def _print_summary(result: RunResult, args: argparse.Namespace, elapsed_s: float) -> None:
    """A few lines on stderr; the whole log is in run.log (and on stderr with -v)."""
    if not args.quiet:
        print(summary_text(result, elapsed_s), file=sys.stderr)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from hotspots.pipeline.evaluation import parse_methods, run_evaluation

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
    from hotspots.pipeline.impact import run_impact

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
    from hotspots.pipeline.change import run_change

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


_COMMANDS = {
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


class _OnlyOnce(logging.Filter):
    """Lets a message through once: a stage run twice (e.g. for the seasonal layers) warns
    twice, the terminal says it once; run.log and -v keep every record."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[str, int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, record.getMessage())
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hotspots`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    # stderr: warnings by default, errors only with -q, everything with -v; the records of
    # INFO and up are made in any case, for run.log (hotspots.pipeline.RunLog).
    console.setLevel(
        logging.ERROR if args.quiet else logging.DEBUG if args.verbose else logging.WARNING
    )
    if not args.verbose:
        console.addFilter(_OnlyOnce())
    package = logging.getLogger("hotspots")  # -v: its DEBUG records, not the libraries'
    levels = root.level, package.level
    root.setLevel(logging.INFO)
    if args.verbose and not args.quiet:
        package.setLevel(logging.DEBUG)
    root.addHandler(console)
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
    finally:  # main() called again in one process (tests, notebooks) starts afresh
        root.removeHandler(console)
        root.setLevel(levels[0])
        package.setLevel(levels[1])


if __name__ == "__main__":
    sys.exit(main())
