"""Harmonising category wording across sources.

Every source's category text is matched, ignoring case and spacing, against the source's
own mapping table (source wording → common category) and then against the police.uk
crime types, which are the common vocabulary. Text that matches neither is kept as
written (tidied) and listed as *unmapped* in the run metadata, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from hotspots._validation import category_key
from hotspots.io._frames import map_distinct

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
#: A mapping target may name one, as ``"nuisance"`` or ``"Anti-social behaviour: nuisance"``:
#: the category becomes "Anti-social behaviour" and the sub-type goes to ``asb_type``.
ASB_SUBTYPES: tuple[str, ...] = ("personal", "nuisance", "environmental")
_ASB = "Anti-social behaviour"


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
    lookup = {category_key(c): c for c in POLICE_UK_CATEGORIES}
    lookup.update({category_key(k): v for k, v in (mapping or {}).items()})
    unmapped: set[str] = set()

    def harmonise(uniques: pd.Series) -> pd.Series:
        uniques = uniques.astype(str)
        mapped = uniques.map(category_key).map(lookup)
        tidy = uniques.str.strip().str.replace(r"[\s_]+", " ", regex=True)
        unmapped.update(
            t for t, m in zip(tidy, mapped, strict=True) if pd.isna(m) and isinstance(t, str) and t
        )
        return mapped.fillna(tidy).map(lambda m: split_asb_subtype(m)[0]).astype(object)

    return map_distinct(values, harmonise), sorted(unmapped)


def split_asb_subtype(target: str) -> tuple[str, str]:
    """(category, ASB sub-type) of a mapping target; the sub-type is "" when none is named.

    Examples
    --------
    >>> split_asb_subtype("Anti-social behaviour: nuisance"), split_asb_subtype("Personal")
    (('Anti-social behaviour', 'nuisance'), ('Anti-social behaviour', 'personal'))
    >>> split_asb_subtype("Burglary")
    ('Burglary', '')
    """
    key = category_key(target).replace("asb", "anti-social behaviour")
    key = key.replace("(", ":").replace(")", "").replace(" - ", ": ")
    for sub in ASB_SUBTYPES:
        if key in (sub, f"anti-social behaviour: {sub}", f"{sub} anti-social behaviour"):
            return _ASB, sub
    return str(target), ""


def asb_subtypes(values: pd.Series, mapping: Mapping[str, str] | None = None) -> pd.Series:
    """The ASB sub-type each source wording maps to ("" where none), for ``asb_type``.

    Examples
    --------
    >>> asb_subtypes(pd.Series(["Noise", "Fly tipping", "Burglary"]),
    ...              {"Noise": "ASB: nuisance", "Fly tipping": "environmental"}).tolist()
    ['nuisance', 'environmental', '']
    """
    lookup = {category_key(k): split_asb_subtype(v)[1] for k, v in (mapping or {}).items()}

    def subtype(uniques: pd.Series) -> pd.Series:
        return uniques.astype(str).map(lambda v: lookup.get(category_key(v), "")).astype(object)

    return map_distinct(values, subtype)
