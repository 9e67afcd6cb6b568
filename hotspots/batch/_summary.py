"""A batch's ``summary.csv`` (one row per group) and ``index.html`` (links to each group)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from hotspots.io import write_csv, write_text_atomic

#: Columns of ``summary.csv`` after the group's key columns.
SUMMARY_COLUMNS = [
    "group",
    "status",
    "error",
    "rows_read",
    "incidents",
    "rows_rejected",
    "hotspots",
    "top_hotspots_area_share",
    "top_hotspots_incident_share",
    "method",
    "pai",
    "hit_rate",
    "peak_month",
    "period",
    "seconds",
    "folder",
    "output",
]


def write_summary(table: pd.DataFrame, path: Path, *, neutralise_formulas: bool = True) -> None:
    """Write the summary with its fixed columns (key columns first); see
    :func:`hotspots.io.write_csv` for ``neutralise_formulas``."""
    keys = [c for c in table.columns if c not in SUMMARY_COLUMNS]
    write_csv(
        table.reindex(columns=keys + SUMMARY_COLUMNS), path, neutralise_formulas=neutralise_formulas
    )


def _cell(value: object, fmt: str = "{}") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(fmt.format(value))


def index_html(table: pd.DataFrame, by: Sequence[str], task: str) -> str:
    """A self-contained page: one row per group, linking to its map or backtest chart.

    Examples
    --------
    >>> t = pd.DataFrame({"force": ["A & <B>"], "group": ["A & <B>"], "status": ["ok"],
    ...     "error": [""], "incidents": [10], "hotspots": [2], "method": ["blend"],
    ...     "pai": [float("nan")], "top_hotspots_area_share": [0.004],
    ...     "peak_month": [6], "folder": ["a-b"], "output": ["map.html"]})
    >>> page = index_html(t, ["force"], "run")
    >>> '<a href="a-b/map.html">A &amp; &lt;B&gt;</a>' in page
    True
    """
    title = f"hotspots batch ({task}) by {', '.join(by)}"
    head = [
        "group",
        "status",
        "incidents",
        "hotspots",
        "top hotspots: share of area",
        "method",
        "PAI",
        "peak month",
        "error",
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}"
        ".failed{color:#a00}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<table><thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>",
    ]
    for _, r in table.iterrows():
        name = html.escape(str(r["group"]))
        if r["status"] != "failed" and isinstance(r.get("output"), str) and r["output"]:
            href = quote(f"{r['folder']}/{r['output']}")
            name = f'<a href="{html.escape(href)}">{name}</a>'
        cells = [
            name,
            _cell(r["status"]),
            _cell(r.get("incidents"), "{:,.0f}"),
            _cell(r.get("hotspots"), "{:,.0f}"),
            _cell(r.get("top_hotspots_area_share"), "{:.2%}"),
            _cell(r.get("method")),
            _cell(r.get("pai"), "{:.1f}"),
            _cell(r.get("peak_month"), "{:.0f}"),
            _cell(r.get("error")),
        ]
        cls = ' class="failed"' if r["status"] == "failed" else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</tbody></table></body></html>")
    return "\n".join(out) + "\n"


def write_index(table: pd.DataFrame, by: Sequence[str], task: str, path: Path) -> None:
    """Write :func:`index_html` atomically."""
    write_text_atomic(path, index_html(table, by, task))
