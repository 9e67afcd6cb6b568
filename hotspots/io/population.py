"""Reading population tables (any area id → residents)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hotspots.io.text import decode_bytes, read_bytes, read_delimited
from hotspots.schema import InputError, MissingFileError

#: Census 2011 usual residents per 2011 LSOA, Leicestershire Police area (shipped).
DEFAULT_POPULATION = (
    Path(__file__).resolve().parents[1]
    / "_data"
    / "population"
    / "census2011_lsoa_leicestershire.csv"
)


def read_population(
    path: str | Path | None = None,
    *,
    id_field: str = "lsoa11_code",
    residents_field: str = "all_usual_residents",
) -> pd.Series:
    """Residents per area id from a CSV; ids must be unique and residents numbers ≥ 0."""
    p = Path(path) if path is not None else DEFAULT_POPULATION
    if not p.exists():
        raise MissingFileError(f"{p}: no such population table")
    text, _ = decode_bytes(read_bytes(p), str(p))
    frame = read_delimited(text, str(p))
    for col in (id_field, residents_field):
        if col not in frame.columns:
            raise InputError(
                f"{p}: column {col!r} not found; the table has "
                f"{[c for c in frame.columns if c != '_line']}"
            )
    values = pd.to_numeric(frame[residents_field].str.replace(",", ""), errors="coerce")
    bad = values.isna() | (values < 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(
            f"{p}: column {residents_field!r}, line {frame['_line'].iloc[i]}: "
            f"{frame[residents_field].iloc[i]!r} is not a number of residents"
        )
    ids = frame[id_field].str.strip()
    if ids.duplicated().any():
        raise InputError(f"{p}: column {id_field!r} repeats {ids[ids.duplicated()].iloc[0]!r}")
    return pd.Series(values.to_numpy(), index=ids.to_numpy(), name="residents")
