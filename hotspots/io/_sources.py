"""Finding input files: one file, a list, a folder of monthly files, or a zip archive.

Archives are untrusted: members are listed with :meth:`zipfile.ZipFile.infolist` (so two
members of the same name are both read), encrypted members, compression methods Python
cannot read and zips inside zips are refused up front, and members are decompressed in
chunks within a :class:`~hotspots.io._text.ReadBudget`.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hotspots.io._text import ReadBudget, gunzip, read_bytes, read_capped, require_regular, shorten
from hotspots.schema import InputError, MissingFileError

_TEXT_SUFFIXES = (".csv", ".csv.gz", ".txt", ".txt.gz")
_OFFICE = (".xlsx", ".xlsm", ".ods")  # zip containers that are not archives of CSVs
_MONTH_IN_NAME = re.compile(r"(\d{4})-(\d{2})")
#: Compression methods :mod:`zipfile` reads: stored, deflate, bzip2, lzma.
_READABLE = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_METHOD_NAMES = {9: "Deflate64", 6: "Implode", 93: "Zstandard", 95: "xz", 98: "PPMd", 99: "AES"}


@dataclass(frozen=True)
class SourceFile:
    """One readable text file, possibly a member of a zip archive."""

    name: str
    path: Path
    member: str | None = None
    #: Position of the member in the archive's :meth:`~zipfile.ZipFile.infolist`:
    #: names may repeat in a zip, positions do not.
    index: int | None = None

    @property
    def month(self) -> str | None:
        """``YYYY-MM`` from a police.uk file name (``2021-06-leicestershire-street.csv``)."""
        m = _MONTH_IN_NAME.search(Path(self.member or self.path.name).name)
        return f"{m.group(1)}-{m.group(2)}" if m else None

    def read(self, budget: ReadBudget | None = None) -> bytes:
        """The file's bytes, decompressed within ``budget`` (new from the environment
        when ``None``): see :class:`~hotspots.io.ReadLimits`."""
        budget = budget or ReadBudget()
        if self.member is None:
            return read_bytes(self.path, budget)
        try:
            with zipfile.ZipFile(self.path) as zf:
                infos = zf.infolist()
                info = infos[self.index] if self.index is not None else zf.getinfo(self.member)
                _check_member(self.path, info)
                compressed = min(info.compress_size, self.path.stat().st_size)
                budget.check_member(info.file_size, compressed, self.name)  # as stated
                with zf.open(info) as fh:
                    data = read_capped(fh, self.name, compressed=compressed, budget=budget)
        except (
            zipfile.BadZipFile,
            EOFError,
            zlib.error,
            NotImplementedError,
            RuntimeError,
            OSError,
            IndexError,
            KeyError,
        ) as exc:
            reason = shorten(exc, 200)
            raise InputError(f"{shorten(self.name, 200)}: damaged zip member ({reason})") from None
        return gunzip(data, self.name, budget) if self.member.lower().endswith(".gz") else data


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
        require_regular(p, "file or folder")  # /dev/zero, a FIFO: refused unopened
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and _is_text(f.name))
            found.extend(SourceFile(str(f), f) for f in files if pattern in f.name)
            if not files:
                raise InputError(f"{p}: the folder holds no .csv or .csv.gz files")
        elif p.suffix.lower() == ".zip" or (
            p.suffix.lower() not in _OFFICE and zipfile.is_zipfile(p)
        ):
            found.extend(_zip_members(p, pattern))
        else:
            found.append(SourceFile(str(p), p))
    return list(_unique(found))


def _zip_members(path: Path, pattern: str) -> list[SourceFile]:
    """The archive's text members, sorted by name; repeated names all kept, in order.

    A member named like an earlier one is ``archive.zip!name (copy 2)``.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(
            f"{path}: not a valid zip archive ({shorten(exc, 200)}); was the download cut short?"
        ) from None
    nested = [i for i in infos if i.filename.lower().endswith(".zip")]
    if nested:
        raise InputError(
            f"{path}!{shorten(nested[0].filename)}: a zip inside a zip is not read; "
            f"unzip {path.name} and give the archive(s) inside it"
        )
    chosen = sorted(
        (i.filename, k)
        for k, i in enumerate(infos)
        if not i.is_dir() and _is_text(i.filename) and pattern in i.filename
    )
    if not chosen:
        names = [shorten(i.filename) for i in infos[:5]]
        shown = ", ".join(names) or "nothing"
        raise InputError(f"{path}: the zip archive holds no .csv files (it holds {shown})")
    copies: Counter[str] = Counter()
    out = []
    for name, k in chosen:
        _check_member(path, infos[k])
        copies[name] += 1
        label = f"{path}!{name}" + (f" (copy {copies[name]})" if copies[name] > 1 else "")
        out.append(SourceFile(label, path, name, k))
    return out


def _check_member(archive: Path, info: zipfile.ZipInfo) -> None:
    """Refuse an encrypted member, or one compressed in a way :mod:`zipfile` cannot read."""
    where = f"{archive}!{shorten(info.filename)}"
    if info.flag_bits & 0x1:
        raise InputError(
            f"{where}: the member is encrypted (password-protected); "
            "unzip it yourself and give the CSV files"
        )
    if info.compress_type not in _READABLE:
        method = _METHOD_NAMES.get(info.compress_type, "unknown")
        raise InputError(
            f"{where}: compressed with method {info.compress_type} ({method}), which cannot "
            "be read; re-zip it with ordinary Deflate (`zip -r`, or 7-Zip with method "
            "Deflate; Windows' own compressed folders use Deflate64 for large files)"
        )


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
