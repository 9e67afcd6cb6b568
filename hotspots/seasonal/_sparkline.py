"""A tiny self-contained SVG bar chart of a monthly profile, for map popups."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from hotspots.schema import InputError

from ._seasons import MONTH_ABBREVIATIONS

_LETTERS = "".join(m[0] for m in MONTH_ABBREVIATIONS)
_BAR = "#9aa5b1"
_PEAK = "#d9480f"
_LABEL_H = 8.0


def _n(v: float) -> str:
    """A coordinate with one decimal, trailing zeros dropped (deterministic text)."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def sparkline_svg(
    values: Sequence[float],
    *,
    width: int = 120,
    height: int = 30,
    highlight: int | None = None,
    labels: bool = True,
) -> str:
    """An inline SVG bar chart of ``values`` (typically the 12 monthly means).

    The SVG has no scripts, styles or external references; every text node and attribute
    is produced from numbers and fixed month names and escaped all the same. Coordinates
    are rounded to 0.1 px so the same input gives the same bytes.

    Parameters
    ----------
    values : sequence of float
        Bar heights, ≥ 0; ``NaN`` draws no bar (a month never covered).
    width, height : int
        Size in pixels.
    highlight : int, optional
        Index of the bar drawn in the highlight colour; default the highest bar (the
        first on ties; none when every value is 0 or missing).
    labels : bool
        Month initials J F M … under the bars; needs exactly 12 values.

    Examples
    --------
    >>> svg = sparkline_svg([1, 2, 3, 4, 5, 6, 9, 7, 5, 3, 2, 1])
    >>> svg.startswith("<svg") and svg.count("<rect") == 12 and "Jul: 9" in svg
    True
    >>> sparkline_svg([1, 2], labels=False, width=10, height=10)  # doctest: +ELLIPSIS
    '<svg ...><title>Peak: bar 2 (2)</title><rect x="0.5" y="5.5" width="4" height="4.5" ...'
    """
    try:
        vals = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"values must be numbers: {exc}") from exc
    if vals.ndim != 1 or len(vals) == 0:
        raise InputError(f"values must be a non-empty 1-D sequence, got shape {vals.shape}")
    if (vals[np.isfinite(vals)] < 0).any() or np.isinf(vals).any():
        raise InputError("values must be finite and ≥ 0 (NaN for missing)")
    if labels and len(vals) != 12:
        raise InputError(f"labels=True needs 12 monthly values, got {len(vals)}")
    for name, size in (("width", width), ("height", height)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 4:
            raise InputError(f"{name} must be a whole number of pixels ≥ 4, got {size!r}")
    finite = np.where(np.isfinite(vals), vals, 0.0)
    top = float(finite.max())
    peak = int(finite.argmax()) if top > 0 else -1
    if highlight is None:
        highlight = peak
    elif (
        isinstance(highlight, bool)
        or not isinstance(highlight, int)
        or not 0 <= highlight < len(vals)
    ):
        raise InputError(f"highlight must be a bar index 0..{len(vals) - 1}, got {highlight!r}")
    names = MONTH_ABBREVIATIONS if len(vals) == 12 else [f"bar {i + 1}" for i in range(len(vals))]
    plot_h = height - (_LABEL_H if labels else 0.0) - 1.0
    step = width / len(vals)
    gap = min(1.0, step / 4)
    summary = f"Peak: {names[peak]} ({_n(top)})" if peak >= 0 else "No incidents"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(summary)}">',
        f"<title>{escape(summary)}</title>",
    ]
    for i, v in enumerate(vals):
        if not np.isfinite(v):
            continue
        h = plot_h * v / top if top > 0 else 0.0
        # A 1 px stub keeps zero months visible as months.
        h = max(h, 1.0)
        parts.append(
            f'<rect x="{_n(i * step + gap / 2)}" y="{_n(1.0 + plot_h - h)}" '
            f'width="{_n(step - gap)}" height="{_n(h)}" '
            f'fill="{_PEAK if i == highlight else _BAR}">'
            f"<title>{escape(names[i])}: {escape(_n(v))}</title></rect>"
        )
    if labels:
        for i, letter in enumerate(_LETTERS):
            parts.append(
                f'<text x="{_n((i + 0.5) * step)}" y="{_n(height - 1.0)}" font-size="7" '
                f'font-family="sans-serif" text-anchor="middle" fill="#555">{letter}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
