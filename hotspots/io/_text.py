"""Reading delimited text robustly: gzip, BOMs, cp1252 exports and odd delimiters.

Input files are untrusted: whatever they hold, reading them stays bounded and ends either
in rows or in one :class:`~hotspots.schema.InputError` naming the file (see
docs/security.md, "Untrusted input files"). The limits are module constants; the
decompression ones can be set per run through :class:`ReadLimits` or the environment.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pandas as pd

from hotspots._validation import positive_number
from hotspots.schema import InputError

_DELIMITERS = ",;\t|"
_MIB = 1024 * 1024

#: Most bytes one compressed file (a zip member or a ``.gz`` file) may decompress to.
#: A police.uk month for the largest force is ~60 MB of CSV; 1 GiB is 16 times that
#: (and a 1 GiB CSV already takes ~8 GiB of memory to load).
MAX_MEMBER_BYTES = 1024 * _MIB
#: Most bytes of text (after decompression, plain files included) one load may read.
#: A month of every force's files is ~1 GB; larger runs go through ``hotspots ingest``,
#: whose chunks each have their own budget.
MAX_RUN_BYTES = 8192 * _MIB
#: Most a compressed file may expand (decompressed / compressed bytes). police.uk CSVs
#: compress ~8-10 times; zip bombs 100-1000 times.
MAX_RATIO = 100.0
#: The ratio is only checked past this many decompressed bytes (a small file of blanks
#: may compress far more than text does, and is harmless).
RATIO_FLOOR_BYTES = 1 * _MIB
#: Longest physical line read, in characters (police.uk lines are ~250).
MAX_LINE_CHARS = 1 * _MIB
#: Longest field spanning several lines (a quoted value with line breaks); Excel cells
#: hold at most 32,767 characters. The default limit of Python's ``csv`` module.
MAX_FIELD_CHARS = 131_072
#: Most columns an input file may have: every column not mapped passes through to the
#: outputs, and a GeoPackage table holds at most 2,000 (GDAL/SQLite).
MAX_COLUMNS = 1_000
#: Longest piece of a file's content (a column name, a member name) an error message
#: quotes; longer ones are cut with "…".
MAX_ECHO_CHARS = 40

_READ_CHUNK = 1 * _MIB
_FEED_CHUNK = 64 * 1024


def _size(n: float) -> str:
    """``2 GiB``, ``300 MiB``: a byte count as people read it."""
    for unit, size in (("GiB", _MIB * 1024), ("MiB", _MIB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:,.4g} {unit}"
    return f"{n:,.0f} bytes"


@dataclass(frozen=True)
class ReadLimits:
    """Decompression limits for one load (defaults: the ``MAX_*`` module constants).

    ``member_bytes``: most bytes one zip member or ``.gz`` file may decompress to;
    ``run_bytes``: most bytes of text one load reads in all; ``ratio``: most a
    compressed file may expand. :meth:`from_env` reads ``HOTSPOTS_MAX_MEMBER_MB``,
    ``HOTSPOTS_MAX_RUN_MB`` and ``HOTSPOTS_MAX_RATIO``.

    Examples
    --------
    >>> ReadLimits.from_env({"HOTSPOTS_MAX_MEMBER_MB": "10"}).member_bytes
    10485760
    >>> ReadLimits.from_env({"HOTSPOTS_MAX_RATIO": "lots"})
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: HOTSPOTS_MAX_RATIO must be a positive number, got 'lots'
    """

    member_bytes: int = MAX_MEMBER_BYTES
    run_bytes: int = MAX_RUN_BYTES
    ratio: float = MAX_RATIO

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ReadLimits:
        env = os.environ if env is None else env

        def setting(var: str, default: float) -> float:
            text = env.get(var, "").strip()
            return positive_number(text, var) if text else default

        return cls(
            member_bytes=int(setting("HOTSPOTS_MAX_MEMBER_MB", MAX_MEMBER_BYTES / _MIB) * _MIB),
            run_bytes=int(setting("HOTSPOTS_MAX_RUN_MB", MAX_RUN_BYTES / _MIB) * _MIB),
            ratio=setting("HOTSPOTS_MAX_RATIO", MAX_RATIO),
        )


class ReadBudget:
    """The decompressed bytes one load has read so far, against its :class:`ReadLimits`.

    One budget is shared by every file of a load, so that the run limit holds across
    them; ``None`` where a budget is asked for means a new one with :meth:`ReadLimits.from_env`.
    """

    def __init__(self, limits: ReadLimits | None = None) -> None:
        self.limits = limits or ReadLimits.from_env()
        self.used = 0

    def take(self, n: int, name: str) -> None:
        self.used += n
        if self.used > self.limits.run_bytes:
            raise InputError(
                f"{shorten(name, 200)}: reading it takes this run past its limit of "
                f"{_size(self.limits.run_bytes)} of text; give fewer files, or raise "
                "HOTSPOTS_MAX_RUN_MB"
            )

    def check_member(self, out: int, compressed: int, name: str) -> None:
        """Refuse a compressed file that has decompressed past either member limit."""
        lim = self.limits
        if out > lim.member_bytes:
            raise InputError(
                f"{shorten(name, 200)}: decompresses to more than {_size(lim.member_bytes)}, "
                "the limit for one compressed file (a zip bomb, or a larger export than "
                "expected: raise HOTSPOTS_MAX_MEMBER_MB)"
            )
        if out > RATIO_FLOOR_BYTES and out > lim.ratio * max(compressed, 1):
            raise InputError(
                f"{shorten(name, 200)}: expands more than {lim.ratio:g} times "
                f"({_size(compressed)} compressed to over {_size(out)}), the limit for "
                "one compressed file (a zip bomb? if not, raise HOTSPOTS_MAX_RATIO)"
            )


def shorten(text: object, limit: int = MAX_ECHO_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters with "…".

    For quoting a file's content (a column or member name) in an error message.

    Examples
    --------
    >>> shorten("root:x:0:0:root:/root:/bin/bash", 12)
    'root:x:0:0:…'
    """
    one = " ".join(str(text).split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def require_regular(path: Path, what: str = "file") -> None:
    """Refuse a path that is not a regular file or a folder, before anything opens it.

    A device (``/dev/zero``), FIFO or socket never ends, or blocks until a writer comes.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(mode)
            else (
                "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else ("a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            )
        )
        raise InputError(f"{path}: this is {kind}, not a {what}; give a regular file")


def read_capped(fh: IO[bytes], name: str, *, compressed: int, budget: ReadBudget) -> bytes:
    """Every byte of a decompressing stream, in chunks, stopping past the limits.

    ``compressed``: the stream's compressed size, for the ratio. The sizes a header
    states are never trusted: the bytes are counted as they come.
    """
    parts, out = [], 0
    while chunk := fh.read(_READ_CHUNK):
        out += len(chunk)
        budget.check_member(out, compressed, name)
        budget.take(len(chunk), name)
        parts.append(chunk)
    return b"".join(parts)


def decode_bytes(raw: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes as UTF-8 (with or without BOM), else Windows-1252.

    Returns the text and the encoding used. Excel on Windows saves "CSV" as cp1252,
    where "£" is byte 0xA3, which is not valid UTF-8. Workbooks and other binary files
    are refused with a message saying what they are, rather than decoded into garbage.
    """
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16"), "utf-16"
    kind = _binary_kind(raw)
    if kind:
        raise InputError(
            f"{name}: this is {kind}, not a text (CSV) file; save it as CSV, or read it "
            "through a column mapping in a config file ([[inputs]] with columns = {...})"
        )
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{name}: cannot decode the file as UTF-8 or Windows-1252 "
                f"(byte {raw[exc.start]:#04x} at offset {exc.start}); save it as UTF-8 CSV"
            ) from None


def _binary_kind(raw: bytes) -> str:
    """What a binary file looks like ("" for text), from its first bytes."""
    if raw.startswith(b"PK\x03\x04"):
        return "a zip container (an Excel .xlsx workbook or a zip archive)"
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel .xls workbook"
    if raw.startswith(b"%PDF"):
        return "a PDF document"
    if raw.startswith(b"SQLite format 3"):
        return "a GeoPackage/SQLite database"
    if b"\x00" in raw[:4096]:
        return "a binary file"
    return ""


def read_bytes(path: Path, budget: ReadBudget | None = None) -> bytes:
    """The file's bytes, gunzipped when it ends in ``.gz`` or starts like gzip.

    Refuses devices, FIFOs and sockets unopened, and stops decompressing past the
    ``budget``'s limits (a new one from the environment when ``None``).
    """
    require_regular(path)
    budget = budget or ReadBudget()
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise InputError(f"{path}: this is a folder, not a file") from None
    if path.suffix.lower() == ".gz" or data[:2] == b"\x1f\x8b":
        return gunzip(data, str(path), budget)
    budget.take(len(data), str(path))
    return data


def gunzip(data: bytes, name: str, budget: ReadBudget | None = None) -> bytes:
    """Decompress gzip bytes, naming the file when they are damaged or not gzip at all.

    Decompresses in chunks and stops past the ``budget``'s limits: the size a gzip
    trailer states is neither trusted nor needed. Several concatenated gzip members are
    read as one file (as :func:`gzip.decompress` does).
    """
    budget = budget or ReadBudget()
    parts, out = [], 0
    try:
        for chunk, consumed in _gunzip_chunks(data):
            out += len(chunk)
            budget.check_member(out, consumed, name)
            budget.take(len(chunk), name)
            parts.append(chunk)
    except (EOFError, zlib.error) as exc:
        raise InputError(
            f"{shorten(name, 200)}: not a valid gzip file ({exc}); was the download cut short?"
        ) from None
    return b"".join(parts)


_ZEROS = re.compile(rb"\x00*")


def _gunzip_chunks(data: bytes) -> Iterator[tuple[bytes, int]]:
    """Decompressed chunks of gzip ``data``, each with the compressed bytes used so far."""
    n, start = len(data), 0
    while True:
        d = zlib.decompressobj(wbits=31)  # gzip header and trailer
        pos = start
        while not d.eof:
            feed = d.unconsumed_tail
            if not feed:
                if pos >= n:
                    raise EOFError("the compressed data ends before its end marker")
                feed = data[pos : pos + _FEED_CHUNK]
                pos += len(feed)
            chunk = d.decompress(feed, _READ_CHUNK)
            if chunk:
                yield chunk, pos - len(d.unconsumed_tail)
        padding = _ZEROS.match(data, pos - len(d.unused_data))  # zeros after a member
        assert padding is not None  # ``\x00*`` matches the empty string too
        start = padding.end()
        if start >= n:
            return


def sniff_delimiter(header_line: str) -> str:
    """Pick the delimiter that splits the header line into the most fields.

    Examples
    --------
    >>> sniff_delimiter("Crime ID;Month;Longitude")
    ';'
    >>> sniff_delimiter("a,b,c")
    ','
    """
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in _DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] > 1 else ","


def _check_line_lengths(text: str, name: str) -> None:
    """Refuse a file with a physical line over :data:`MAX_LINE_CHARS`, naming the line.

    Cheap on ordinary files: only a window of half the limit that holds no line break
    can be part of so long a line, and ``str.find`` finds the breaks in C.
    """
    step = MAX_LINE_CHARS // 2
    n = len(text)
    start = 0
    while start + step <= n:
        if text.find("\n", start, start + step) != -1:
            start += step
            continue
        begin = text.rfind("\n", 0, start) + 1
        end = text.find("\n", start)
        end = n if end == -1 else end
        if end - begin > MAX_LINE_CHARS:
            line = text.count("\n", 0, begin) + 1
            raise InputError(
                f"{name}: line {line} is {end - begin:,} characters long, over the limit of "
                f"{MAX_LINE_CHARS:,}; this is not a CSV table of incidents (or it is damaged)"
            )
        start = end + 1


def _header(text: str, delim: str, name: str) -> list[str]:
    """The header row's names, as written (pandas renames duplicates ``a``, ``a.1``)."""
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=delim), [])
    except csv.Error as exc:
        raise InputError(f"{name}: line 1 (the header) cannot be read ({exc})") from None
    return [c.strip().lstrip("\ufeff") for c in row]


def check_header(columns: list[str], name: str) -> None:
    """Refuse a header with more than :data:`MAX_COLUMNS` columns or a name given twice.

    A duplicated name would otherwise be renamed (``Month.1``) or read from the wrong
    column, unseen. Blank names are left to the reader (pandas calls them ``Unnamed``).
    """
    if len(columns) > MAX_COLUMNS:
        raise InputError(
            f"{name}: the file has {len(columns):,} columns, over the limit of "
            f"{MAX_COLUMNS:,} (every unmapped column passes through to the outputs, and a "
            "GeoPackage holds at most 2,000); keep only the columns you need"
        )
    seen: dict[str, int] = {}
    for i, col in enumerate(columns, 1):
        if not col:
            continue
        if col in seen:
            raise InputError(
                f"{name}: column {shorten(col)!r} appears twice in the header (columns "
                f"{seen[col]} and {i}); rename or remove one"
            )
        seen[col] = i


def looks_tabular(columns: list[str]) -> bool:
    """Whether a header looks like a table's column names, so an error may quote them.

    Two or more named columns, each short and printable: not the first line of a file
    the user did not mean to give (``/etc/passwd``, a key, a log), which is never echoed.

    Examples
    --------
    >>> looks_tabular(["Crime ID", "Month", "Longitude"])
    True
    >>> looks_tabular(["root:x:0:0:root:/root:/bin/bash"])
    False
    """
    named = [c for c in columns if not c.startswith("_")]
    return len(named) >= 2 and all(
        c and not c.startswith("Unnamed: ") and len(c) <= 64 and c.isprintable() for c in named
    )


def describe_columns(columns: list[str], limit: int = 12) -> str:
    """The columns for an error message: quoted when :func:`looks_tabular`, else a count."""
    named = [c for c in columns if not c.startswith("_")]
    if not looks_tabular(named):
        return f"{len(named)} column(s), not shown: its first line does not look like a CSV header"
    shown = [shorten(c) for c in named[:limit]]
    more = f" and {len(named) - limit} more" if len(named) > limit else ""
    return f"{shown}{more}"


def read_delimited(text: str, name: str, *, delimiter: str | None = None) -> pd.DataFrame:
    r"""Parse delimited text into a frame of strings (blank cells are ``""``).

    Every column is read as text so that rejected rows keep their original values.
    Adds ``_line``: the 1-based line number in the file where each row starts (header is
    line 1), right even when quoted values hold line breaks. Empty lines are skipped; a
    line of bare delimiters (``,,,``: an emptied spreadsheet row) is a row, and so is
    counted and later rejected rather than dropped unseen.

    Examples
    --------
    >>> read_delimited('a,b\n1,"two\nlines"\n3,4\n', "x.csv")["_line"].tolist()
    [2, 4]
    >>> read_delimited("a,b\n1,2\n3,4,5\n", "x.csv")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: x.csv: line 3 has 3 fields but the header has 2; ...
    """
    text = text.lstrip("\ufeff")
    if "\r" in text:  # Windows CRLF, or bare CR from old Mac exports: one line ending
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise InputError(f"{name}: the file is empty (no header row)")
    _check_line_lengths(text, name)
    first = text[: text.find("\n")] if "\n" in text else text
    try:
        delim = delimiter or sniff_delimiter(first)
    except csv.Error as exc:
        raise InputError(f"{name}: line 1 (the header) cannot be read ({exc})") from None
    check_header(_header(text, delim, name), name)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delim,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=True,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(_parse_error(text, delim, name, str(exc))) from None
    except ValueError as exc:
        raise InputError(f"{name}: cannot parse as delimited text ({shorten(exc, 200)})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = text.count("\n") + (not text.endswith("\n"))
    if len(frame) == lines - 1:  # one physical line per row: the common, fast case
        frame["_line"] = range(2, len(frame) + 2)
    else:  # blank lines or quoted line breaks: find where each record starts
        starts = _record_lines(text, delim, name)
        if len(starts) != len(frame):  # the two parsers disagree: say so, never misnumber
            raise InputError(
                f"{name}: cannot tell which line each of its {len(frame)} rows is on; "
                "re-save it as a plain CSV"
            )
        frame["_line"] = starts
    return frame


def _record_lines(text: str, delim: str, name: str) -> list[int]:
    """The line on which each data record starts, skipping empty lines as pandas does.

    A field over :data:`MAX_FIELD_CHARS` (a quoted value over many lines) is refused,
    naming the line it starts on.
    """
    physical = text.split("\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    starts, start = [], 1
    try:
        for _ in reader:
            if reader.line_num != start or physical[start - 1].strip():
                starts.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputError(
                f"{name}: a value starting on line {start} is longer than "
                f"{MAX_FIELD_CHARS:,} characters (a quote never closed?)"
            ) from None
        return []
    return starts[1:]  # the first is the header


def _parse_error(text: str, delim: str, name: str, message: str) -> str:
    """A one-line message naming the line that broke the parser and the likely cause."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        width = len(next((r for r in reader if r), []))
        start = last = reader.line_num + 1
        for record in reader:
            if len(record) > width:
                return (
                    f"{name}: line {start} has {len(record)} fields but the header has "
                    f"{width}; a value holding the delimiter {delim!r} needs quotes"
                )
            last, start = start, reader.line_num + 1
    except csv.Error:
        last = 0
    if "EOF inside string" in message and last:
        return f"{name}: a quote opened on line {last} is never closed"
    return f"{name}: cannot parse as delimited text ({shorten(message, 200)})"
