"""The run's patrol plan and per-NPA briefings, from the published tables.

A briefing's map is the street map (OpenStreetMap tiles, when the run has online tiles)
over the static outline PNG, its fallback; with ``--offline-map`` only the PNG.

Everything here reads :func:`~hotspots.pipeline._disclosure.published` tables, so under
``min_count`` the plan and the briefings show only what every other output shows.
"""

from __future__ import annotations

from collections.abc import Iterator

import geopandas as gpd
import pandas as pd

from hotspots.io import unique_slugs
from hotspots.patrol import PatrolDose, patrol_plan, plan_summary
from hotspots.report_briefing import briefing_html, briefing_map_png

#: Area layer the briefings are split by, when the run has it (else one briefing).
BRIEFING_LAYER = "npa"


def dose_of(config) -> PatrolDose:
    """The visit dose of a run's ``[patrol]`` settings."""
    return PatrolDose(
        minutes_per_visit=config.patrol.minutes_per_visit,
        visit_interval_h=config.patrol.visit_interval_h,
        peak_window_h=config.patrol.peak_window_h,
        days_per_week=config.patrol.days_per_week,
    )


def patrol_ranks(pub) -> set[int]:
    """Ranks of the patrol hotspots: the published patrol list."""
    return {int(r) for r in pd.to_numeric(pub.patrol["rank"], errors="coerce").dropna()}


def with_patrol_flag(hotspots: gpd.GeoDataFrame, pub) -> gpd.GeoDataFrame:
    """Hotspots with a boolean ``patrol`` column (kept when the analysis made one)."""
    if "patrol" in hotspots.columns:
        return hotspots
    return hotspots.assign(patrol=hotspots["rank"].isin(patrol_ranks(pub)))


def run_plan(result, pub) -> tuple[pd.DataFrame, dict]:
    """The patrol plan (one row per patrol hotspot) and its summary for run.json."""
    cfg = result.config
    dose = dose_of(cfg)
    hot = pd.DataFrame(pub.hotspots.drop(columns=pub.hotspots.geometry.name))
    hot = hot[hot["rank"].isin(patrol_ranks(pub))]
    plan = patrol_plan(
        hot,
        dose=dose,
        patrol_hours=cfg.patrol.hours,
        total_incidents=len(result.prepared.incidents),
    )
    return plan, plan_summary(plan, dose, cfg.patrol.hours)


def briefings(result, pub, plan: pd.DataFrame, summary: dict) -> Iterator[tuple[str, str]]:
    """``(file name, HTML)`` of one briefing per NPA holding patrol hotspots (or one for
    all when the run has no NPA layer); names are safe slugs of the NPA names."""
    cfg = result.config
    by = BRIEFING_LAYER if BRIEFING_LAYER in plan.columns else None
    names = plan[by].fillna("").astype(str) if by else pd.Series("", index=plan.index)
    groups = sorted(n for n in names.unique() if n) if by else []
    if not groups:
        groups, names = ["all"], pd.Series("all", index=plan.index)
        kind = ""
    else:
        kind = "NPA"
    beats = pub.areas.get("beat")
    if beats is None and pub.areas:
        beats = next(iter(pub.areas.values()))
    slugs = unique_slugs(groups, default="npa")
    online = cfg.output.online_tiles and not cfg.output.offline_map
    for slug, group in zip(slugs, groups, strict=True):
        rows = plan[(names == group).to_numpy()]
        hot = pub.hotspots[pub.hotspots["rank"].isin(rows["rank"])]
        png = None
        if len(hot):
            png = briefing_map_png(
                hotspots=hot,
                areas_layer=beats,
                density=None,  # outlines and beats read better in print than the shading
                density_grid=None,
                title=f"{cfg.output.title}: {group if kind else 'patrol hotspots'}",
                attribution=result.attribution,
            )
        yield (
            f"{slug}.html",
            briefing_html(
                area_name=group if kind else "all patrol hotspots",
                area_kind=kind,
                plan=rows,
                map_png=png,
                title=cfg.output.title,
                period=result.period_text,
                plan_note=summary["rule"],
                attribution=result.attribution,
                online_map=online,
                hotspots=hot,  # the street map (when online), the PNG its fallback
                areas_layer=beats,
            ),
        )
