"""Finding input files: one file, a list, a folder of monthly files, or a zip archive."""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotspots.io.text import gunzip, read_bytes
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
        try:
            with zipfile.ZipFile(self.path) as zf:
                data = zf.read(self.member)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise InputError(f"{self.name}: damaged zip member ({exc})") from None
        return gunzip(data, self.name) if self.member.lower().endswith(".gz") else data


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
        elif p.suffix.lower() == ".zip" or (
            p.suffix.lower() not in _OFFICE and zipfile.is_zipfile(p)
        ):
            members = _zip_members(p, pattern)
            found.extend(SourceFile(f"{p}!{m}", p, m) for m in members)
        else:
            found.append(SourceFile(str(p), p))
    return list(_unique(found))


def _zip_members(path: Path, pattern: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise InputError(
            f"{path}: not a valid zip archive ({exc}); was the download cut short?"
        ) from None
    members = sorted(n for n in names if _is_text(n) and pattern in n)
    if not members:
        shown = ", ".join(names[:5]) or "nothing"
        raise InputError(f"{path}: the zip archive holds no .csv files (it holds {shown})")
    return members


def _unique(files: list[SourceFile]) -> Iterator[SourceFile]:
    seen: set[str] = set()
    for f in files:
        if f.name not in seen:
            seen.add(f.name)
            yield f


#: The embedded Leicestershire police.uk months shipped with the package (see its README).
EMBEDDED_POLICE_UK = Path(__file__).resolve().parents[1] / "_data" / "police_uk" / "leicestershire"


def embedded_police_uk() -> Path:
    """The folder of police.uk street files shipped with the package (Leicestershire).

    For trying the package before downloading your own force's files; see
    docs/your-force.md.

    Examples
    --------
    >>> sorted(p.name for p in embedded_police_uk().iterdir())[0]
    '2019-12-leicestershire-street.csv.gz'
    """
    return EMBEDDED_POLICE_UK
