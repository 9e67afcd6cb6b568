"""hotspots: crime and anti-social-behaviour hotspot analysis for UK community-safety analysts.

One public verb per stage (imported lazily, so ``import hotspots`` stays fast)::

    import hotspots as hs
    loaded = hs.load_incidents(hs.embedded_police_uk())      # io: canonical table + rejects
    located = hs.locate_incidents(loaded.incidents)          # geocode: EPSG:27700 x/y
    beats = hs.load_areas("leicestershire/beats")            # boundaries: beat + NPA layers
    incidents, outside = hs.assign_areas(located.incidents, beats)
    surface = hs.kde_surface(incidents[["x", "y"]].to_numpy(), cell_size_m=100)
    found = hs.find_hotspots(incidents, scores=surface.values, grid=surface.grid)
    ranked = hs.rank_hotspots(found)

or the whole pipeline: ``hs.run(hs.demo_config(out="outputs"))``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "load_incidents": "hotspots.io",
    "embedded_police_uk": "hotspots.io",
    "InputSpec": "hotspots.io",
    "ColumnMapping": "hotspots.io",
    "load_areas": "hotspots.boundaries",
    "list_boundaries": "hotspots.boundaries",
    "locate_incidents": "hotspots.geocode",
    "assign_areas": "hotspots.assign",
    "make_grid": "hotspots.grid",
    "Grid": "hotspots.grid",
    "kde_surface": "hotspots.density",
    "DensitySurface": "hotspots.density",
    "relative_surface": "hotspots.density",
    "cell_scores": "hotspots.scoring",
    "find_hotspots": "hotspots.clusters",
    "HotspotSet": "hotspots.clusters",
    "gistar_grid": "hotspots.gistar",
    "gistar_polygons": "hotspots.gistar",
    "rank_hotspots": "hotspots.rank",
    "patrol_list": "hotspots.rank",
    "repeat_locations": "hotspots.rank",
    "seasonal_profiles": "hotspots.seasonal",
    "trend_tests": "hotspots.seasonal",
    "trending_up": "hotspots.seasonal",
    "emerging_classes": "hotspots.seasonal",
    "period_change": "hotspots.seasonal",
    "area_rates": "hotspots.rates",
    "hit_rate_pai": "hotspots.evaluate",
    "rolling_backtest": "hotspots.evaluate",
    "patrol_map": "hotspots.maps",
    "map_html": "hotspots.maps",
    "run": "hotspots.pipeline",
    "RunConfig": "hotspots.pipeline",
    "demo_config": "hotspots.pipeline",
    "load_config": "hotspots.pipeline",
    "HotspotsError": "hotspots.schema",
    "InputError": "hotspots.schema",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'hotspots' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])
