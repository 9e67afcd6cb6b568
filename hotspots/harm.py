"""Harm weights per incident: from a column of the data or from a table by category.

``harm_weights(incidents, column="harm")`` reads one non-negative number per incident
(e.g. Cambridge Crime Harm Index days or ONS Crime Severity Score weights that a force's
records system attaches to each crime); ``harm_weights(incidents, table={...})`` looks each
incident's ``category`` up in a table of weights (case and spacing ignored). The weights
feed ``kde_surface(weights=...)``, the ``harm`` score of ``rank_hotspots`` ("harm spots")
and the harm-weighted counts of ``impact``. Source, vintage and caveats: ``docs/harm.md``.

No built-in table is shipped. Both published indices weigh *offences* (Home Office offence
codes: several hundred), while police.uk publishes 14 broad categories; a weight per
category would be an average over the offences inside it, weighted by how often each
occurs, which needs offence-level counts the open data do not have, and neither index's
per-offence values were available to this project offline to derive and check it. Give a
table you hold (``table=``) or a column.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hotspots.schema import InputError

#: The column name used for harm unless told otherwise.
HARM_COLUMN = "harm"
#: Built-in harm tables by police.uk category: none (see the module notes).
BUILTIN_TABLES: dict[str, dict[str, float]] = {}


def _label(text: object) -> str:
    return " ".join(str(text).split()).casefold()


def harm_weights(
    incidents: pd.DataFrame,
    *,
    column: str | None = None,
    table: Mapping[str, float] | None = None,
    default: float | None = None,
) -> np.ndarray:
    """One harm weight per incident (float array, ≥ 0), from ``column`` or ``table``.

    Parameters
    ----------
    incidents
        Canonical incidents (``category`` for ``table``, or the ``column``).
    column
        A column of numbers ≥ 0 (text such as ``"1,234.5"`` is read; blanks take
        ``default``, or are an error without one).
    table
        Weights by category (``{"Burglary": 51.0, ...}``); a category not in it takes
        ``default``, or is an error without one.
    default
        Weight for a blank value or an unlisted category; None: those are errors.

    Examples
    --------
    >>> inc = pd.DataFrame({"category": ["Burglary", "anti-social  behaviour"],
    ...                     "harm": ["20", "1.5"]})
    >>> harm_weights(inc, column="harm").tolist()
    [20.0, 1.5]
    >>> harm_weights(inc, table={"Burglary": 10, "Anti-social behaviour": 0.5}).tolist()
    [10.0, 0.5]
    """
    if (column is None) == (table is None):
        raise InputError("harm weights need a column or a table (one of them)")
    if default is not None and not (
        isinstance(default, int | float) and not isinstance(default, bool) and default >= 0
    ):
        raise InputError(f"harm default must be a number ≥ 0, got {default!r}")
    if column is not None:
        return _from_column(incidents, column, default)
    assert table is not None  # exactly one of column/table, checked above
    return _from_table(incidents, table, default)


def _from_column(incidents: pd.DataFrame, column: str, default: float | None) -> np.ndarray:
    if column not in incidents.columns:
        raise InputError(
            f"harm column {column!r} is not in the incidents; columns are "
            f"{sorted(map(str, incidents.columns))}"
        )
    raw = incidents[column]
    if pd.api.types.is_numeric_dtype(raw):
        values = raw.to_numpy(float)
        blank = np.isnan(values)
        bad = np.zeros(len(values), dtype=bool)
    else:
        text = raw.astype("string").str.strip().str.replace(",", "", regex=False)
        blank = (text.isna() | (text == "")).to_numpy()
        values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(float)
        bad = np.isnan(values) & ~blank
    bad |= ~blank & ~(np.isfinite(values) & (values >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"harm column {column!r}: row {i + 1} has {raw.iloc[i]!r}, not a number ≥ 0 "
            f"({int(bad.sum())} such row(s))"
        )
    if blank.any():
        if default is None:
            i = int(np.flatnonzero(blank)[0])
            raise InputError(
                f"harm column {column!r}: row {i + 1} is blank ({int(blank.sum())} blank "
                "row(s)); fill them or give a default weight"
            )
        values = np.where(blank, float(default), values)
    return values


def _from_table(
    incidents: pd.DataFrame, table: Mapping[str, float], default: float | None
) -> np.ndarray:
    if "category" not in incidents.columns:
        raise InputError("a harm table needs a 'category' column in the incidents")
    weights: dict[str, float] = {}
    for name, w in dict(table).items():
        if isinstance(w, bool) or not isinstance(w, int | float) or not (np.isfinite(w) and w >= 0):
            raise InputError(f"harm table: {name!r} has weight {w!r}, not a number ≥ 0")
        key = _label(name)
        if key in weights and weights[key] != float(w):
            raise InputError(f"harm table: {name!r} is given twice with different weights")
        weights[key] = float(w)
    cats = incidents["category"].astype("string").fillna("")
    uniques = pd.Series(cats.unique())
    looked = uniques.map(lambda c: weights.get(_label(c), np.nan))
    missing = uniques[looked.isna()].tolist()
    if missing and default is None:
        raise InputError(
            f"harm table has no weight for {len(missing)} categor(y/ies): "
            f"{', '.join(map(repr, sorted(missing)[:10]))}; add them or give a default"
        )
    lookup = dict(zip(uniques, looked.fillna(default if default is not None else 0.0), strict=True))
    return cats.map(lookup).to_numpy(float)
