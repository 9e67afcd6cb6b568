"""Parsing months, dates and date-times with their precision.

police.uk gives ``YYYY-MM`` only: those rows get precision ``"month"`` and the first of
the month, never an invented day. Partner exports give UK day-first dates
(``25/11/2026``), ISO dates, date-times, or Excel serial day numbers (``45231``) where a
spreadsheet has mangled the column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Dates before this are treated as typing errors.
EARLIEST = pd.Timestamp("1990-01-01")
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_DAY_FIRST_FORMATS = ("%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d/%m/%y")
_DAY_FIRST_TIME_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%y %H:%M",
)
_MONTH_FORMATS = ("%Y-%m", "%Y/%m", "%m/%Y", "%b-%y", "%b %Y", "%B %Y")


def _latest() -> pd.Timestamp:
    return pd.Timestamp.now().normalize() + pd.Timedelta(days=1)


#: What a ``datetime64[ns]`` column can hold (pandas parses to microseconds, so
#: ``9999-12`` parses, and would overflow when stored among nanosecond values).
_NS_MIN = pd.Timestamp("1678-01-01")
_ZONED = r"(?:Z|[+-]\d{2}:?\d{2})$"  # ends in a UTC offset
_NS_MAX = pd.Timestamp("2262-01-01")


def _fits_ns(when: pd.Series) -> pd.Series:
    """Parsed values as ``datetime64[ns]``, NaT where they fall outside what it holds.

    Such dates (``9999-12``, ``01/01/1066``) are implausible anyway and become
    ``bad_date`` rejects; without this they raise ``OutOfBoundsDatetime``.
    """
    if isinstance(when.dtype, pd.DatetimeTZDtype):  # a UTC offset: UK local clock time
        when = when.dt.tz_convert("Europe/London").dt.tz_localize(None)
    when = when.where((when >= _NS_MIN) & (when <= _NS_MAX))
    return when.astype("datetime64[ns]")


def _parse_mixed(text: pd.Series) -> pd.Series:
    """Any format dateutil reads, month first; text with a UTC offset is read via UTC."""
    zoned = text.str.contains(_ZONED, regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    kw = {"errors": "coerce", "dayfirst": False, "format": "mixed"}
    if (~zoned).any():
        try:
            out[~zoned] = _fits_ns(pd.to_datetime(text[~zoned], **kw))
        except ValueError:  # an offset the pattern missed: "Mixed timezones detected"
            out[~zoned] = _fits_ns(pd.to_datetime(text[~zoned], utc=True, **kw))
    if zoned.any():
        out[zoned] = _fits_ns(pd.to_datetime(text[zoned], utc=True, **kw))
    return out


def _try_formats(text: pd.Series, formats: tuple[str, ...]) -> pd.Series:
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna()
        if not todo.any():
            break
        out[todo] = _fits_ns(pd.to_datetime(text[todo], format=fmt, errors="coerce"))
    return out


def parse_months(values: pd.Series) -> pd.Series:
    """Parse month strings to the first of the month; unparseable or implausible → NaT.

    Besides ``YYYY-MM`` this takes what Excel makes of a month column when a police.uk
    file is opened and saved again: ``Jun-25``, ``01/06/2025``, ``2025-06-01`` or the
    serial day ``45809``. Only the month is kept, whatever day such a value names.

    Examples
    --------
    >>> parse_months(pd.Series(["2021-06", "2023-13", "20X3-01", ""])).tolist()
    [Timestamp('2021-06-01 00:00:00'), NaT, NaT, NaT]
    >>> parse_months(pd.Series(["Jun-25", "01/06/2025", "2025-06-01", "45809"])).dt.month.tolist()
    [6, 6, 6, 6]
    >>> parse_months(pd.Series(["9999-12", "Jun-25"])).tolist()  # beyond datetime64[ns]
    [NaT, Timestamp('2025-06-01 00:00:00')]
    """
    text = values.astype(str).str.strip()
    out = pd.to_datetime(text, format="%Y-%m", errors="coerce")  # the police.uk fast path
    if out.isna().any():
        out = _try_formats(text, _MONTH_FORMATS)
    todo = out.isna() & (text != "")
    if todo.any():  # Excel-mangled months: a whole date, floored to its month
        days, _ = parse_dates(text[todo])
        out[todo] = days.dt.to_period("M").dt.start_time
    return _plausible(out)


def parse_dates(values: pd.Series, *, dayfirst: bool = True) -> tuple[pd.Series, pd.Series]:
    """Parse dates or date-times; return (timestamps, precision).

    Precision is ``"minute"`` where the text carries a time of day and ``"day"``
    otherwise. Excel serial numbers (days since 1899-12-30) are converted.

    Examples
    --------
    >>> texts = ["25/11/2025", "2025-11-24 18:30", "45231", "31/02/2025", "2025-06-24T17:30Z"]
    >>> when, prec = parse_dates(pd.Series(texts))
    >>> [str(w) for w in when]  # the last: 17:30 UTC is 18:30 in London in June
    ['2025-11-25 00:00:00', '2025-11-24 18:30:00', '2023-11-01 00:00:00', 'NaT',
     '2025-06-24 18:30:00']
    >>> prec.tolist()
    ['day', 'minute', 'day', '', 'minute']
    """
    text = values.astype(str).str.strip()
    has_time = text.str.contains(r"\d:\d", regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    iso = text.str.match(r"^\d{4}-\d{1,2}-\d{1,2}")
    if iso.any():
        out[iso] = _parse_iso(text[iso])
    rest = out.isna() & ~iso
    if rest.any():
        fmts = _DAY_FIRST_TIME_FORMATS + _DAY_FIRST_FORMATS if dayfirst else ()
        out[rest] = _try_formats(text[rest], fmts) if fmts else pd.NaT
    serial = out.isna() & text.str.fullmatch(r"\d{5}(\.\d+)?")
    if serial.any():
        days = pd.to_numeric(text[serial], errors="coerce")
        out[serial] = _EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
        has_time[serial] = (days % 1) != 0
    if not dayfirst:
        rest = out.isna()
        out[rest] = _parse_mixed(text[rest])
    out = _plausible(out)
    precision = pd.Series(np.where(has_time, "minute", "day"), index=text.index)
    precision[out.isna()] = ""
    out = out.where(precision != "minute", out.dt.floor("min"))
    return out, precision


def _parse_iso(text: pd.Series) -> pd.Series:
    """ISO dates and date-times; ones with a UTC offset become UK local clock time."""
    zoned = text.str.contains(_ZONED, regex=True)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    if (~zoned).any():
        out[~zoned] = _fits_ns(pd.to_datetime(text[~zoned], format="ISO8601", errors="coerce"))
    if zoned.any():
        utc = pd.to_datetime(text[zoned], format="ISO8601", errors="coerce", utc=True)
        out[zoned] = _fits_ns(utc)
    return out


def _plausible(when: pd.Series) -> pd.Series:
    return when.where((when >= EARLIEST) & (when <= _latest()))
