"""Harmonising category wording across sources.

Every source's category text is matched, ignoring case and spacing, against the source's
own mapping table (source wording → common category) and then against the police.uk
crime types, which are the common vocabulary. Text that matches neither is kept as
written (tidied) and listed as *unmapped* in the run metadata, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

#: The police.uk street-level crime types (the common vocabulary).
POLICE_UK_CATEGORIES: tuple[str, ...] = (
    "Anti-social behaviour",
    "Bicycle theft",
    "Burglary",
    "Criminal damage and arson",
    "Drugs",
    "Other crime",
    "Other theft",
    "Possession of weapons",
    "Public order",
    "Robbery",
    "Shoplifting",
    "Theft from the person",
    "Vehicle crime",
    "Violence and sexual offences",
)

#: ASB sub-types used by councils and case systems (Home Office ASB categories, 2012).
ASB_SUBTYPES: dict[str, str] = {
    "personal": "Anti-social behaviour",
    "nuisance": "Anti-social behaviour",
    "environmental": "Anti-social behaviour",
}

_SPACES = re.compile(r"[\s_]+")


def normalise_label(text: str) -> str:
    """Lower-case, trim and collapse spacing so that wording variants compare equal.

    Examples
    --------
    >>> normalise_label("  Anti-Social   Behaviour ")
    'anti-social behaviour'
    """
    return _SPACES.sub(" ", str(text)).strip().lower()


def harmonise_categories(
    values: pd.Series, mapping: Mapping[str, str] | None = None
) -> tuple[pd.Series, list[str]]:
    """Map category text to the common vocabulary.

    Returns the harmonised categories and the sorted list of source wordings that
    matched nothing (kept as written, tidied of stray spaces).

    Examples
    --------
    >>> cats, unmapped = harmonise_categories(
    ...     pd.Series(["Youth nuisance", "anti-social behaviour", "Fly tipping "]),
    ...     {"Youth nuisance": "Anti-social behaviour"})
    >>> cats.tolist(), unmapped
    (['Anti-social behaviour', 'Anti-social behaviour', 'Fly tipping'], ['Fly tipping'])
    """
    lookup = {normalise_label(c): c for c in POLICE_UK_CATEGORIES}
    lookup.update({normalise_label(k): v for k, v in (mapping or {}).items()})
    uniques = pd.Series(values.astype(str).unique())
    keys = uniques.map(normalise_label)
    mapped = keys.map(lookup)
    tidy = uniques.str.strip().str.replace(_SPACES, " ", regex=True)
    unmapped = sorted({t for t, m in zip(tidy, mapped, strict=True) if pd.isna(m) and t})
    result = dict(zip(uniques, mapped.fillna(tidy), strict=True))
    return values.astype(str).map(result), unmapped
