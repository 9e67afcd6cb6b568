"""Repeat callers and victims: persons with several incidents in a window, counted per area.

Person ids are used only to count. No returned table holds an id or any free text: persons
are numbered 1, 2, ... in the order of their first incident, a number that means nothing
outside this result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hotspots.schema import InputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RepeatCallers:
    """Result of :func:`repeat_callers`.

    Attributes
    ----------
    flags
        Aligned to the input's index: ``_person`` (opaque number, <NA> where the row has no
        person id) and ``_repeat_caller`` (True where the incident lies in a window in which
        its person has at least ``min_incidents`` incidents).
    persons
        One row per person: ``person`` (the opaque number), ``incidents``,
        ``max_in_window`` and ``repeat_caller``. For internal use: small counts about one
        person are not for publishing.
    per_area
        ``layer``, ``area``, ``repeat_callers`` (persons with a flagged incident there) and
        ``incidents_from_repeat_callers``; every non-blank area of the input, zeros
        included. Without area columns: one row, layer and area ``"all"``.
    params
        The threshold and the counts behind it.
    """

    flags: pd.DataFrame
    persons: pd.DataFrame
    per_area: pd.DataFrame
    params: dict[str, Any]


def repeat_callers(
    incidents: pd.DataFrame,
    *,
    person_column: str,
    min_incidents: int = 3,
    window_months: int = 12,
    area_columns: Sequence[str] = (),
    across_sources: bool = True,
) -> RepeatCallers:
    """Find persons with at least ``min_incidents`` incidents in any ``window_months`` window.

    A window runs from one of the person's incidents to the same day ``window_months``
    later (exclusive), as for repeat locations: three incidents on 1 January, in June and
    on 31 December are three in 12 months; spread over 13 months they are not. Blank or
    missing ids are not persons. Pass de-duplicated incidents (``LinkResult.kept``) so that
    one incident reported to two agencies counts once.

    Parameters
    ----------
    incidents
        Incidents with ``when`` and the person column (any other columns are ignored).
    person_column
        Column holding a caller or victim id.
    min_incidents, window_months
        The threshold: this many incidents within this many months (default 3 in 12).
    area_columns
        Area columns (``beat``, ``lsoa``...) to count repeat callers in.
    across_sources
        True: equal ids in different sources are one person (ids from a shared system,
        e.g. a hashed phone number). False: ids are only compared within a source.

    Examples
    --------
    >>> inc = pd.DataFrame({
    ...     "when": pd.to_datetime(["2025-01-01", "2025-06-10", "2025-12-31", "2025-03-01",
    ...                             "2025-03-02"]),
    ...     "caller": ["A17", "A17", "A17", "B02", " "], "beat": ["N1", "N1", "N2", "N1", "N2"]})
    >>> r = repeat_callers(inc, person_column="caller", area_columns=["beat"])
    >>> r.flags["_repeat_caller"].tolist(), r.flags["_person"].tolist()
    ([True, True, True, False, False], [1, 1, 1, 2, <NA>])
    >>> print(r.per_area.to_string(index=False))
    layer area  repeat_callers  incidents_from_repeat_callers
     beat   N1               1                              2
     beat   N2               1                              1
    """
    _check(incidents, person_column, min_incidents, window_months, area_columns)
    ids = incidents[person_column].astype("string").str.strip()
    valid = (ids.fillna("") != "").to_numpy(dtype=bool)
    key = ids[valid]
    if not across_sources and "source" in incidents:
        key = incidents.loc[valid, "source"].astype(str) + "\x1f" + key
    when = pd.DatetimeIndex(incidents["when"])[valid]
    start = when.to_numpy().astype("datetime64[s]").astype(np.int64)
    end = (
        (when + pd.DateOffset(months=window_months))
        .to_numpy()
        .astype("datetime64[s]")
        .astype(np.int64)
    )
    where = np.flatnonzero(valid)
    # Persons are numbered by first incident (time, then position): the number says
    # nothing about the id.
    first = np.lexsort((where, start))
    code = np.empty(len(key), dtype=np.int64)
    code[first] = pd.factorize(key.to_numpy()[first])[0]
    order = np.lexsort((start, code))
    code_s, start_s, end_s = code[order], start[order], end[order]
    t0 = start_s.min() if len(start_s) else 0
    span = (end_s.max() - t0 + 1) if len(end_s) else 1
    sorted_key = code_s * span + (start_s - t0)
    stop = np.searchsorted(sorted_key, code_s * span + (end_s - t0), side="left")
    count = stop - np.arange(len(order))
    busy = count >= min_incidents
    # Every incident inside a busy window is flagged: +1 where one opens, -1 after it.
    cover = np.zeros(len(order) + 1, dtype=np.int64)
    np.add.at(cover, np.flatnonzero(busy), 1)
    np.add.at(cover, stop[busy], -1)
    flagged_s = np.cumsum(cover)[:-1] > 0
    flagged = np.zeros(len(incidents), dtype=bool)
    flagged[where[order]] = flagged_s
    person = pd.array(np.full(len(incidents), pd.NA), dtype="Int64")
    person[where] = code + 1
    flags = pd.DataFrame({"_person": person, "_repeat_caller": flagged}, index=incidents.index)
    persons = (
        pd.DataFrame({"person": code_s + 1, "n": count})
        .groupby("person")
        .agg(incidents=("n", "size"), max_in_window=("n", "max"))
        .reset_index()
    )
    persons["repeat_caller"] = persons["max_in_window"] >= min_incidents
    per_area = _per_area(incidents, flags, area_columns)
    params = {
        "person_column": person_column,
        "min_incidents": min_incidents,
        "window_months": window_months,
        "across_sources": across_sources,
        "rows_without_person": int((~valid).sum()),
        "persons": len(persons),
        "repeat_callers": int(persons["repeat_caller"].sum()),
        "incidents_from_repeat_callers": int(flagged.sum()),
    }
    log.info(
        "%d of %d persons made %d or more reports in %d months (%d incidents)",
        params["repeat_callers"],
        len(persons),
        min_incidents,
        window_months,
        params["incidents_from_repeat_callers"],
    )
    return RepeatCallers(flags, persons, per_area, params)


def _check(
    incidents: pd.DataFrame,
    person_column: str,
    min_incidents: int,
    window_months: int,
    area_columns: Sequence[str],
) -> None:
    missing = [c for c in ("when", person_column, *area_columns) if c not in incidents.columns]
    if missing:
        raise InputError(f"incidents lack column(s) {missing} (person_column / area_columns)")
    for name, value in (("min_incidents", min_incidents), ("window_months", window_months)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise InputError(f"{name} must be a whole number of at least 1, got {value!r}")
    if incidents["when"].isna().any():
        raise InputError("incidents: column 'when' has blank dates")


def _per_area(
    incidents: pd.DataFrame, flags: pd.DataFrame, area_columns: Sequence[str]
) -> pd.DataFrame:
    layers = [(c, incidents[c].astype("string").fillna("").str.strip()) for c in area_columns]
    if not layers:
        layers = [("all", pd.Series("all", index=incidents.index, dtype="string"))]
    parts = []
    for layer, area in layers:
        f = flags.assign(area=area.to_numpy())
        f = f[f["area"] != ""]
        hit = f[f["_repeat_caller"]]
        table = pd.DataFrame(index=pd.Index(sorted(f["area"].unique()), name="area"))
        table["repeat_callers"] = hit.groupby("area")["_person"].nunique()
        table["incidents_from_repeat_callers"] = hit.groupby("area").size()
        parts.append(table.fillna(0).astype(np.int64).reset_index().assign(layer=layer))
    out = pd.concat(parts, ignore_index=True)
    return out[["layer", "area", "repeat_callers", "incidents_from_repeat_callers"]]
