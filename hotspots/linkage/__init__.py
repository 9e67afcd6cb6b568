"""Partnership data: the same incident reported twice, and repeat callers.

A resident who calls the police and also reports to the council produces two records.
:func:`link_duplicates` links records from different sources that are the same incident
and keeps one per group; :func:`repeat_callers` counts persons (callers, victims) with
several incidents in a window without returning their ids. ``tests/partner_pairs.py`` (a
test and benchmark aid, outside the package) builds a police/council export pair from real
police.uk rows, to try and test all this. See ``docs/partnership.md`` for the rules,
defaults and measured precision and recall.
"""

from hotspots.linkage._duplicates import (
    DEFAULT_FAMILIES,
    KEEP_RULE,
    LINK_COLUMNS,
    PAIR_ORDER,
    LinkResult,
    link_duplicates,
)
from hotspots.linkage._evidence import POSTCODE_RULE, PROBABILITY_RULE
from hotspots.linkage._repeats import RepeatCallers, repeat_callers

__all__ = [
    "DEFAULT_FAMILIES",
    "KEEP_RULE",
    "LINK_COLUMNS",
    "PAIR_ORDER",
    "POSTCODE_RULE",
    "PROBABILITY_RULE",
    "LinkResult",
    "RepeatCallers",
    "link_duplicates",
    "repeat_callers",
]
