"""Reading delimited text robustly: gzip, BOMs, cp1252 exports and odd delimiters."""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from pathlib import Path

import pandas as pd

from hotspots.schema import InputError

_DELIMITERS = ",;\t|"


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


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it ends in ``.gz`` or starts like gzip."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        return gunzip(data, str(path))
    return data


def gunzip(data: bytes, name: str) -> bytes:
    """Decompress gzip bytes, naming the file when they are damaged or not gzip at all."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"{name}: not a valid gzip file ({exc}); was the download cut short?"
        ) from None


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
    first = text.split("\n", 1)[0]
    delim = delimiter or sniff_delimiter(first)
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
        reason = " ".join(str(exc).split())
        raise InputError(f"{name}: cannot parse as delimited text ({reason})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = text.count("\n") + (not text.endswith("\n"))
    if len(frame) == lines - 1:  # one physical line per row: the common, fast case
        frame["_line"] = range(2, len(frame) + 2)
    else:  # blank lines or quoted line breaks: find where each record starts
        starts = _record_lines(text, delim)
        if len(starts) != len(frame):  # the two parsers disagree: say so, never misnumber
            raise InputError(
                f"{name}: cannot tell which line each of its {len(frame)} rows is on; "
                "re-save it as a plain CSV"
            )
        frame["_line"] = starts
    return frame


def _record_lines(text: str, delim: str) -> list[int]:
    """The line on which each data record starts, skipping empty lines as pandas does."""
    physical = text.split("\n")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    starts, start = [], 1
    try:
        for _ in reader:
            if reader.line_num != start or physical[start - 1].strip():
                starts.append(start)
            start = reader.line_num + 1
    except csv.Error:
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
    return f"{name}: cannot parse as delimited text ({' '.join(message.split())})"
