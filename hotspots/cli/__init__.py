"""Command line: a thin shell over :mod:`hotspots.pipeline`.

Exit codes: 0 success; 2 bad input or configuration (one line naming the file, column and
value); 1 an unexpected error (a bug: please report it with the traceback shown by
``--verbose``).

``_parser`` builds the arguments, ``_commands`` holds one function per subcommand and
``_text`` the help epilogues and the end-of-run summary.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from hotspots.cli._commands import COMMANDS
from hotspots.cli._parser import build_parser
from hotspots.pipeline import release_memory_between_stages
from hotspots.schema import HotspotsError

__all__ = ["build_parser", "main"]


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
    release_memory_between_stages()  # the command owns the process: trim between stages
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
        return COMMANDS[args.command](args)
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
