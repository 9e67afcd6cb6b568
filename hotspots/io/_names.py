"""File names from data and config: safe slugs, kept distinct, always inside the output.

Layer keys, area names and batch key values come from files and configs the analyst did
not write. Used raw in a path, ``../../x`` or ``/etc/x`` writes outside the output folder,
``a/b`` makes folders, NUL ends the name early and ``CON`` or ``aux`` cannot be created on
Windows. Every name built from them goes through :func:`safe_slug`, and every output path
through :func:`output_path`.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

#: Longest slug: with a prefix, a suffix and ``-NN`` a name stays far below 255 bytes.
SLUG_MAX = 80
#: Device names that Windows will not create as files or folders, whatever the extension.
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(10))]
)


def safe_slug(value: object, *, default: str = "area") -> str:
    """Lower-case ASCII letters and digits in words joined by hyphens, at most
    :data:`SLUG_MAX` characters; ``default`` when nothing is left; a Windows device name
    gets ``-0``.

    No slug holds ``/``, ``\\``, ``.``, NUL or a space, so none can leave a folder, hide a
    file or differ from another only by case.

    Examples
    --------
    >>> safe_slug("Melton & Rutland"), safe_slug("Ynys Môn"), safe_slug("../../evil")
    ('melton-rutland', 'ynys-mon', 'evil')
    >>> safe_slug("a\\\\b\\x00c"), safe_slug("..", default="layer"), safe_slug("CON")
    ('a-b-c', 'layer', 'con-0')
    """
    text = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:SLUG_MAX].strip("-")
    slug = slug or default
    return f"{slug}-0" if slug in WINDOWS_RESERVED else slug


def unique_slugs(values: Iterable[object], *, default: str = "area") -> list[str]:
    """:func:`safe_slug` of each value, the second and later of a slug suffixed ``-2``,
    ``-3``… (in the order given), so that no two values share a file.

    Examples
    --------
    >>> unique_slugs(["North", "north", "NORTH!", "north-2"])
    ['north', 'north-2', 'north-3', 'north-2-2']
    """
    seen: set[str] = set()
    out = []
    for value in values:
        base = slug = safe_slug(value, default=default)
        n = 1
        while slug in seen:
            n += 1
            slug = f"{base}-{n}"
        seen.add(slug)
        out.append(slug)
    return out


def output_path(folder: str | os.PathLike[str], name: str) -> Path:
    """``folder / name``, checked to resolve to a path strictly inside ``folder`` (symbolic
    links followed; ``folder`` itself, ``..``, absolute names and NUL are refused).

    The last guard: names are slugs already, so an escape here is a bug, not bad input.

    Examples
    --------
    >>> output_path("/tmp/out", "maps/a.html").as_posix()
    '/tmp/out/maps/a.html'
    >>> output_path("/tmp/out", "../x")
    Traceback (most recent call last):
    ...
    RuntimeError: output file '../x' resolves outside the output folder /tmp/out
    >>> output_path("/tmp/out", ".")
    Traceback (most recent call last):
    ...
    RuntimeError: output file '.' resolves outside the output folder /tmp/out
    """
    root = Path(folder)
    path = root / name
    outside = RuntimeError(f"output file {name!r} resolves outside the output folder {root}")
    try:
        real, base = path.resolve(), root.resolve()
    except (OSError, ValueError):  # NUL in the name, a symbolic-link loop
        raise outside from None
    if real == base or not real.is_relative_to(base):
        raise outside
    return path
