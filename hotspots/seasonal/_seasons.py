"""Month names and the seasons, defined once for profiles, the patrol plan and the map.

Seasons are meteorological (as the Met Office reports them): winter December–February,
spring March–May, summer June–August, autumn September–November.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from hotspots.schema import InputError

MONTH_ABBREVIATIONS: tuple[str, ...] = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip
#: Season → its months (1–12), in the year's order from winter.
SEASON_MONTHS: Mapping[str, tuple[int, ...]] = MappingProxyType(
    {
        "winter": (12, 1, 2),
        "spring": (3, 4, 5),
        "summer": (6, 7, 8),
        "autumn": (9, 10, 11),
    }
)
SEASONS: tuple[str, ...] = tuple(SEASON_MONTHS)
#: Index into :data:`SEASONS` of each month, by month - 1 (vectorised look-ups).
SEASON_OF_MONTH = np.array(
    [next(i for i, ms in enumerate(SEASON_MONTHS.values()) if m in ms) for m in range(1, 13)]
)
SEASON_OF_MONTH.flags.writeable = False


def season_of(month: int) -> str:
    """Meteorological season of a month number: DJF winter, MAM spring, JJA summer, SON autumn.

    Examples
    --------
    >>> season_of(7), season_of(12), season_of(3)
    ('summer', 'winter', 'spring')
    >>> season_of(13)
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: month must be a whole number 1-12, got 13
    """
    if isinstance(month, bool) or not isinstance(month, int | np.integer) or not 1 <= month <= 12:
        raise InputError(f"month must be a whole number 1-12, got {month!r}")
    return SEASONS[SEASON_OF_MONTH[int(month) - 1]]


def season_label(season: str) -> str:
    """A season's display name with its first and last month, as the map's layers show it.

    Examples
    --------
    >>> [season_label(s) for s in SEASONS]
    ['Winter (Dec–Feb)', 'Spring (Mar–May)', 'Summer (Jun–Aug)', 'Autumn (Sep–Nov)']
    >>> season_label("monsoon")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: season 'monsoon' is not one of winter, spring, summer, autumn
    """
    if season not in SEASON_MONTHS:
        raise InputError(f"season {season!r} is not one of {', '.join(SEASONS)}")
    months = SEASON_MONTHS[season]
    first, last = MONTH_ABBREVIATIONS[months[0] - 1], MONTH_ABBREVIATIONS[months[-1] - 1]
    return f"{season.capitalize()} ({first}–{last})"
