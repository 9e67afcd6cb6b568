"""Popup and tooltip HTML for each kind of feature (all data text escaped)."""

from __future__ import annotations

from collections.abc import Mapping

from hotspots.maps._text import (
    area_text,
    area_title,
    as_number,
    esc,
    hour_text,
    incidents_text,
    missing,
    month_name,
    number,
    p_text,
    rows_text,
    shown_count,
    signed,
    significance,
    spark,
    table,
    trend_html,
    weekday_name,
)


def day_hour_line(row: Mapping) -> str:
    """``Peak day: Saturday (p 0.003, 412 dated incidents) · peak hour: 22:00 (p 0.01, 380
    timed)``, each part only when the row has it (data with days or times; never police.uk's
    months), with the rows it rests on (``dow_rows``, ``hour_rows``) when given; "" when
    neither part is there.

    Examples
    --------
    >>> line = day_hour_line({"peak_day": 6.0, "day_p": 0.003, "dow_rows": 412,
    ...                       "peak_hour": 22, "hour_p": 0.0123, "hour_rows": 380})
    >>> print(*line.split(" · "), sep="\\n")
    <div>Peak day: Saturday (p 0.003, 412 dated incidents)
    peak hour: 22:00 (p 0.012, 380 timed)</div>
    >>> day_hour_line({"peak_day": 1, "day_p": float("nan")}), day_hour_line({"peak_month": 7})
    ('<div>Peak day: Monday</div>', '')
    """
    parts = []
    for label, peak, p, rows in (
        (
            "peak day",
            weekday_name(row.get("peak_day")),
            p_text(row.get("day_p")),
            rows_text(row.get("dow_rows"), "dated incidents"),
        ),
        (
            "peak hour",
            hour_text(row.get("peak_hour")),
            p_text(row.get("hour_p")),
            rows_text(row.get("hour_rows"), "timed"),
        ),
    ):
        if peak:
            notes = ", ".join(t for t in (p, rows) if t)
            parts.append(f"{label}: {esc(peak)}" + (f" ({esc(notes)})" if notes else ""))
    if not parts:
        return ""
    text = " · ".join(parts)
    return f"<div>{text[0].upper()}{text[1:]}</div>"


def hotspot_title(row: Mapping) -> str:
    """``Hotspot 3 · Market Street`` (escaped)."""
    label = esc(row.get("label")) or esc(row.get("hotspot_id"))
    return f"Hotspot {int(row['rank'])}" + (f" · {label}" if label else "")


def hotspot_tooltip(row: Mapping) -> str:
    peak = month_name(row.get("peak_month"))
    return f"<b>{hotspot_title(row)}</b><br>{incidents_text(row['incidents'])}" + (
        f" · peak {peak}" if peak else ""
    )


def _share(value: object) -> str:
    share = as_number(value)
    if share is None:
        return ""
    v = 100 * share
    if 0 < v < 0.01:
        return "under 0.01%"
    return f"{v:.1f}%" if v >= 0.95 else f"{v:.2f}%"


def _patrol_text(row: Mapping) -> str:
    """``14 visits a week × 15 min`` from the plan columns merged into the row."""
    visits = as_number(row.get("plan_visits_per_week"))
    if visits is None:
        return ""
    v = int(visits)
    if v == 0:
        return "not visited (over the hours budget)"
    return f"{v} visit{'s' * (v != 1)} a week × {number(float(row['plan_minutes_per_visit']))} min"


def artefact_html(row: Mapping) -> str:
    """The artefact warning (escaped), when the row is flagged."""
    note = esc(row.get("artefact_note"))
    flagged = row.get("artefact")
    if not note and (missing(flagged) or flagged in (False, 0, "False", "false", "")):
        return ""
    text = note or "check whether this is a recording address"
    return f'<div class="hs-note">&#9888; {text}</div>'


def hotspot_popup(row: Mapping, area_cols: list[str]) -> str:
    density = as_number(row.get("density_km2"))
    share = row.get("incident_share")
    share = row.get("share") if missing(share) else share
    if missing(row.get("incidents")):  # blanked by disclosure control: so is its share
        share = None
    rows = [
        ("Rank", f"{int(row['rank'])}"),
        ("Patrol", _patrol_text(row)),
        ("When", esc(row.get("plan_when"))),
        ("Incidents", shown_count(row["incidents"])),
        ("Share of all incidents", _share(share)),
        ("Area", area_text(row.get("area_m2"))),
        ("Share of the area", _share(row.get("area_share"))),
        ("Density", "" if density is None else f"{number(density)} incidents per km²"),
        *[(area_title(c), esc(row.get(c))) for c in area_cols],
        ("Main categories", esc(row.get("top_categories"))),
        ("Peak month", month_name(row.get("peak_month"))),
        ("Trend", trend_html(row.get("trend"), row.get("trend_slope_per_year"))),
        ("Pattern", esc(row.get("class"))),
        ("Id", esc(row.get("hotspot_id"))),
    ]
    return (
        f'<div class="hs-pop"><h4>{hotspot_title(row)}</h4>{artefact_html(row)}{table(rows)}'
        f"{day_hour_line(row)}{spark(row.get('spark_svg'))}</div>"
    )


def area_tooltip(row: Mapping, key: str, value_text: str) -> str:
    return f"<b>{area_title(key)} {esc(row['name'])}</b><br>{value_text}"


def area_popup(row: Mapping, key: str) -> str:
    rate = as_number(row.get("rate_per_1000"))
    change = signed(row.get("change"))
    pct = as_number(row.get("change_pct"))
    if change and pct is not None:
        change += f" ({pct:+.0f}%)"
    rows = [
        ("Incidents", shown_count(row["incidents"])),
        ("Rate per 1,000 residents", "" if rate is None else number(rate)),
        ("Compared with the force", significance(row.get("significance"))),
        ("Change", change),
        ("Peak month", month_name(row.get("peak_month"))),
        ("Trend", trend_html(row.get("trend"), row.get("trend_slope_per_year"))),
        ("Hotspots inside", esc(row.get("top_hotspots"))),
    ]
    return (
        f'<div class="hs-pop"><h4>{area_title(key)} {esc(row["name"])}</h4>{table(rows)}'
        f"{day_hour_line(row)}{spark(row.get('spark_svg'))}</div>"
    )
