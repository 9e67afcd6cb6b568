"""Escaping and formatting of everything the map shows as text.

Every value that comes from data goes through :func:`esc` before it is put into HTML;
the only markup taken as-is is the sparkline SVG our own seasonal code draws.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Iterable

import pandas as pd

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Display names for common area layer keys; anything else is title-cased.
AREA_TITLES = {
    "npa": "NPA",
    "lsoa": "LSOA",
    "msoa": "MSOA",
    "beat": "Beat",
    "ward": "Ward",
    "district": "District",
    "neighbourhood": "Neighbourhood",
}

_TREND_WORDS = {
    "up": ("&#8599;", "Rising"),
    "down": ("&#8600;", "Falling"),
    "none": ("&#8594;", "No clear trend"),
}
_SIGNIFICANCE_WORDS = {
    "above": "Significantly above expected",
    "below": "Significantly below expected",
    "as expected": "Within expected range",
}


def missing(value: object) -> bool:
    """True for None, NaN, NA and empty text."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def as_number(value: object) -> float | None:
    """``value`` as a float; None when it is missing or not a number (inf stays inf).

    Examples
    --------
    >>> as_number(3), as_number("2.5"), as_number(None), as_number("n/a")
    (3.0, 2.5, None, None)
    """
    if missing(value) or not isinstance(value, str | numbers.Real):
        return None
    try:
        return float(value)
    except ValueError:  # text that is not a number
        return None


#: Longest text shown for one value; longer text is cut with "…". A police.uk
#: ``Location`` or an area name is a few dozen characters: one of megabytes (a hostile or
#: broken file) would otherwise be copied into every popup that shows it.
MAX_TEXT_CHARS = 500


def esc(value: object) -> str:
    """HTML-escape any value from data ("" when missing), cut to :data:`MAX_TEXT_CHARS`.

    Examples
    --------
    >>> esc("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    >>> esc(float("nan")), esc(None), esc(3)
    ('', '', '3')
    >>> len(esc("x" * 10_000)) == MAX_TEXT_CHARS
    True
    """
    if missing(value):
        return ""
    text = str(value)
    if len(text) > MAX_TEXT_CHARS:  # cut before escaping, so no entity is split
        text = text[: MAX_TEXT_CHARS - 1] + "…"
    return html.escape(text, quote=True)


def area_title(key: str) -> str:
    """Display name of an area layer key (escaped).

    Examples
    --------
    >>> area_title("npa"), area_title("police_sector")
    ('NPA', 'Police Sector')
    """
    return esc(AREA_TITLES.get(key.lower(), key.replace("_", " ").title()))


def number(value: float) -> str:
    """A number with about three significant figures and thousands separators.

    Examples
    --------
    >>> number(1234.6), number(56.78), number(3.14159), number(0.0)
    ('1,235', '56.8', '3.14', '0')
    """
    a = abs(value)
    if a >= 100 or value == int(value):
        return f"{value:,.0f}"
    if a >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def count(value: object) -> str:
    """A count as an integer with separators ("" when missing)."""
    v = as_number(value)
    return "" if v is None or not math.isfinite(v) else f"{round(v):,}"


#: Shown for a count that is missing: the pipeline blanks small counts (``min_count``).
HIDDEN_COUNT = "small count, not shown"


def shown_count(value: object) -> str:
    """A count, or :data:`HIDDEN_COUNT` when it is missing (blanked as too small to publish).

    Examples
    --------
    >>> shown_count(1234.0), shown_count(float("nan"))
    ('1,234', 'small count, not shown')
    """
    return HIDDEN_COUNT if missing(value) else count(value)


def incidents_text(value: object) -> str:
    """``1,234 incidents``, or words saying the count is not shown.

    Examples
    --------
    >>> incidents_text(1234), incidents_text(None)
    ('1,234 incidents', 'incidents: small count, not shown')
    """
    return f"incidents: {HIDDEN_COUNT}" if missing(value) else f"{count(value)} incidents"


def rows_text(value: object, unit: str) -> str:
    """How many rows a figure rests on, ``412 dated incidents`` ("" unless a count ≥ 0).

    Examples
    --------
    >>> rows_text(412, "dated incidents"), rows_text(1.0, "dated incidents")
    ('412 dated incidents', '1 dated incident')
    >>> rows_text(float("nan"), "timed"), rows_text("<b>", "timed")
    ('', '')
    """
    n = _whole(value, 0, 10**12)
    if n is None:
        return ""
    return f"{n:,} {unit[:-1] if n == 1 and unit.endswith('incidents') else unit}"


def month_name(value: object, *, short: bool = False) -> str:
    """Month name of 1–12 ("" for missing: a group without incidents has no peak month).

    Examples
    --------
    >>> month_name(7), month_name(7.0, short=True), month_name(float("nan")), month_name(0)
    ('July', 'Jul', '', '')
    """
    v = as_number(value)
    if v is None or not 1 <= v < 13:
        return ""
    m = int(v)
    return MONTHS[m - 1][:3] if short else MONTHS[m - 1]


def _whole(value: object, low: int, high: int) -> int | None:
    """``value`` as a whole number in low..high, else None (missing, text, out of range)."""
    v = as_number(value)
    if v is None or not low <= v <= high or v != int(v):
        return None
    return int(v)


def weekday_name(value: object) -> str:
    """Weekday name of 1–7 = Monday…Sunday ("" when missing or out of range).

    Examples
    --------
    >>> weekday_name(6), weekday_name(1.0), weekday_name(float("nan")), weekday_name(8)
    ('Saturday', 'Monday', '', '')
    """
    d = _whole(value, 1, 7)
    return "" if d is None else WEEKDAYS[d - 1]


def hour_text(value: object) -> str:
    """The start of an hour 0–23 as ``HH:00`` ("" when missing or out of range).

    Examples
    --------
    >>> hour_text(22), hour_text(7.0), hour_text(None), hour_text(24)
    ('22:00', '07:00', '', '')
    """
    h = _whole(value, 0, 23)
    return "" if h is None else f"{h:02d}:00"


def p_text(value: object) -> str:
    """A p-value to two significant figures, ``p < 0.001`` below that ("" when missing).

    Examples
    --------
    >>> p_text(0.00312), p_text(0.01), p_text(0.4567), p_text(1.0), p_text(2e-9)
    ('p 0.0031', 'p 0.01', 'p 0.46', 'p 1', 'p < 0.001')
    >>> p_text(float("nan")), p_text("x")
    ('', '')
    """
    p = as_number(value)
    if p is None:
        return ""
    return "p < 0.001" if p < 0.001 else f"p {p:.2g}"


def area_text(area_m2: object) -> str:
    """Area in hectares below 1 km², else in km².

    Examples
    --------
    >>> area_text(45_000), area_text(2_500_000), area_text(None)
    ('4.5 ha', '2.50 km²', '')
    """
    a = as_number(area_m2)
    if a is None:
        return ""
    return f"{a / 1e4:,.1f} ha" if a < 1e6 else f"{a / 1e6:,.2f} km²"


def trend_html(trend: object, slope: object = None, *, short: bool = False) -> str:
    """Arrow and words for a trend class, with the Sen slope when given.

    Examples
    --------
    >>> trend_html("up", 2.5)
    '&#8599; Rising (+2.5 incidents a month, per year)'
    >>> trend_html("none", short=True), trend_html(None)
    ('&#8594;', '')
    """
    if missing(trend):
        return ""
    arrow, word = _TREND_WORDS.get(str(trend), ("", esc(trend)))
    if short:
        return arrow or word
    text = f"{arrow} {word}".strip()
    per_year = as_number(slope)
    if per_year is not None and str(trend) != "none":
        text += f" ({per_year:+.1f} incidents a month, per year)"
    return text


def signed(value: object) -> str:
    """A change with its sign ("" when missing; text is escaped).

    Examples
    --------
    >>> signed(12), signed(-3.25), signed("n/a")
    ('+12', '-3.2', 'n/a')
    """
    if missing(value):
        return ""
    v = as_number(value)
    if v is None:
        return esc(value)
    return f"{v:+,.0f}" if v.is_integer() else f"{v:+,.1f}"


def significance(value: object) -> str:
    """Words for a funnel-plot significance class."""
    return "" if missing(value) else _SIGNIFICANCE_WORDS.get(str(value), esc(value))


def spark(svg: object) -> str:
    """The sparkline markup, which our own code drew; anything not an SVG is dropped."""
    if isinstance(svg, str) and svg.lstrip().startswith("<svg"):
        return f'<div class="hs-spark">{svg}</div>'
    return ""


def table(rows: Iterable[tuple[str, str]]) -> str:
    """A two-column table of (escaped heading, escaped value) pairs, skipping empty values."""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v != "")
    return f'<table class="hs-kv">{body}</table>'


def param_text(value: object) -> str:
    """A parameter value as escaped text (dicts as ``key: value; …``).

    Examples
    --------
    >>> param_text({"rule": "silverman", "bandwidth_m": 180})
    'rule: silverman; bandwidth_m: 180'
    >>> param_text(0.25), param_text(True)
    ('0.25', 'yes')
    """
    if isinstance(value, dict):
        return "; ".join(f"{esc(k)}: {param_text(v)}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isfinite(value):
        return esc(f"{value:g}")
    if isinstance(value, list | tuple):
        return ", ".join(param_text(v) for v in value)
    return esc(value)
