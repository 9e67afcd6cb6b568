"""Finding input files: one file, a list, a folder of monthly files, or a zip archive."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotspots.io.text import read_bytes
from hotspots.schema import InputError, MissingFileError

_TEXT_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
_OFFICE = (".xlsx", ".xlsm", ".ods")  # zip containers that are not archives of CSVs
_MONTH_IN_NAME = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class SourceFile:
    """One readable text file, possibly a member of a zip archive."""

    name: str
    path: Path
    member: str | None = None

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` from a police.uk file name (``2021-06-leicestershire-street.csv``)."""
        m = _MONTH_IN_NAME.search(Path(self.member or self.path.name).name)
        return f"{m.group(1)}-{m.group(2)}" if m else None

    def read(self) -> bytes:
        if self.member is None:
            return read_bytes(self.path)
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


def _is_text(name: str) -> bool:
    return name.lower().endswith(_TEXT_SUFFIXES)


def expand_paths(
    paths: str | Path | Iterable[str | Path], *, pattern: str = ""
) -> list[SourceFile]:
    """Expand files, folders (searched recursively) and zip archives into sorted text files.

    ``pattern`` keeps only names containing it (e.g. ``"-street"`` for police.uk archives
    that also hold outcomes and stop-and-search files).
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    found: list[SourceFile] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists():
            raise MissingFileError(f"{p}: no such file or folder")
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and _is_text(f.name))
            found.extend(SourceFile(str(f), f) for f in files if pattern in f.name)
            if not files:
                raise InputError(f"{p}: the folder holds no .csv or .csv.gz files")
        elif p.suffix.lower() not in _OFFICE and zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as zf:
                members = sorted(n for n in zf.namelist() if _is_text(n) and pattern in n)
            if not members:
                raise InputError(f"{p}: the zip archive holds no matching .csv files")
            found.extend(SourceFile(f"{p}!{m}", p, m) for m in members)
        else:
            found.append(SourceFile(str(p), p))
    return list(_unique(found))


def _unique(files: list[SourceFile]) -> Iterator[SourceFile]:
    seen: set[str] = set()
    for f in files:
        if f.name not in seen:
            seen.add(f.name)
            yield f


#: The embedded Leicestershire police.uk months shipped with the package (see its README).
EMBEDDED_POLICE_UK = Path(__file__).resolve().parents[1] / "_data" / "police_uk" / "leicestershire"
