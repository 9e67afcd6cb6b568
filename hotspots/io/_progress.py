"""Progress bars for long steps (tqdm): shown on a terminal, silent in CI, logs and pipes.

A bar is shown only when standard error is a terminal and the ``hotspots`` logger is at
INFO or more verbose (the CLI's ``--quiet`` turns it off).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    """Whether progress bars should be drawn now."""
    return sys.stderr.isatty() and logging.getLogger("hotspots").isEnabledFor(logging.INFO)


def progress(
    items: Iterable[T], *, desc: str, total: int | None = None, unit: str = "it"
) -> Iterator[T]:
    """Iterate over ``items`` with a tqdm bar when :func:`progress_enabled`.

    Examples
    --------
    >>> list(progress([1, 2, 3], desc="counting"))
    [1, 2, 3]
    """
    if not progress_enabled():
        yield from items
        return
    from tqdm import tqdm

    yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False, file=sys.stderr)
