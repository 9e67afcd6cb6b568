"""When incidents happen: seasonal profiles, trends, emerging patterns and before/after change.

All functions take the canonical incident table (see :mod:`hotspots.schema`) and a
grouping (``by="beat"``, ``["lsoa", "category"]``, ``"hotspot_id"`` …) and return one
row per group, sorted by group, with fixed documented columns.

Months are the unit: police.uk data is monthly only. The covered span is the data's
month span (or ``period``), the same for every group; a month in which the dataset as a
whole has no incident is treated as a gap in the source (missing), not as zero; when
analysing a subset, pass ``months_with_data=all_incidents["when"]`` so that the gaps are
those of the load, not of the subset.
Day-of-week and hour profiles use only rows whose ``precision`` allows them, and say how
many rows that was. See ``docs/seasonal.md`` for the methods and their sources.
"""

from ._change import period_change
from ._decompose import decompose
from ._emerging import CLASSES, emerging_classes
from ._profiles import DOW_COLUMNS, HOUR_COLUMNS, MONTH_COLUMNS, monthly_series, seasonal_profiles
from ._seasons import MONTH_ABBREVIATIONS, SEASON_MONTHS, SEASONS, season_label, season_of
from ._sparkline import sparkline_svg
from ._trend import trend_tests, trending_up, trending_up_rows

__all__ = [
    "CLASSES",
    "DOW_COLUMNS",
    "HOUR_COLUMNS",
    "MONTH_ABBREVIATIONS",
    "MONTH_COLUMNS",
    "SEASONS",
    "SEASON_MONTHS",
    "decompose",
    "emerging_classes",
    "monthly_series",
    "period_change",
    "season_label",
    "season_of",
    "seasonal_profiles",
    "sparkline_svg",
    "trend_tests",
    "trending_up",
    "trending_up_rows",
]
