"""The argument parser: one subcommand per pipeline entry point, flags named as in docs."""

from __future__ import annotations

import argparse

from hotspots.cli._text import EPILOGS


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
