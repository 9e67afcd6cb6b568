"""Reading delimited text robustly: gzip, BOMs, cp1252 exports and odd delimiters."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import pandas as pd

from hotspots.schema import InputError

_DELIMITERS = ",;\t|"


def decode_bytes(raw: bytes, name: str) -> tuple[str, str]:
    """Decode file bytes as UTF-8 (with or without BOM), else Windows-1252.

    Returns the text and the encoding used. Excel on Windows saves "CSV" as cp1252,
    where "£" is byte 0xA3, which is not valid UTF-8.
    """
    if raw.startswith(b"\xff\xfe") or raw.startswith(b"\xfe\xff"):
        return raw.decode("utf-16"), "utf-16"
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


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it ends in ``.gz``."""
    data = path.read_bytes()
    if path.suffix == ".gz" or data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a valid gzip file ({exc})") from None
    return data


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
    """Parse delimited text into a frame of strings (blank cells are ``""``).

    Every column is read as text so that rejected rows keep their original values.
    Adds ``_line``: the 1-based line number in the file (header is line 1).
    """
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise InputError(f"{name}: the file is empty (no header row)")
    first = text.split("\n", 1)[0].rstrip("\r")
    delim = delimiter or sniff_delimiter(first)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delim,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{name}: cannot parse as delimited text ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["_line"] = range(2, len(frame) + 2)
    # Drop fully blank lines (trailing newlines in hand-edited files) but keep line numbers.
    data_cols = [c for c in frame.columns if c != "_line"]
    if data_cols:
        blank = (frame[data_cols] == "").all(axis=1)
        frame = frame.loc[~blank]
    return frame.reset_index(drop=True)
