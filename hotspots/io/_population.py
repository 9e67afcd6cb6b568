"""Reading population tables (any area id → residents) and the 2011→2021 LSOA change tables.

The shipped default is Census 2011 usual residents for every 2011 LSOA in England and Wales
(``hotspots/_data/population/``, see its README for provenance and licence).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd

from hotspots.io._text import decode_bytes, read_bytes, read_delimited
from hotspots.schema import InputError, MissingFileError

_DATA = Path(__file__).resolve().parents[1] / "_data"
#: Census 2011 usual residents per 2011 LSOA, England and Wales (shipped, 34,753 rows).
DEFAULT_POPULATION = _DATA / "population" / "census2011_lsoa_residents_ew.csv.gz"
#: The shipped table's vintage and credit (run.json, log, docs/rates.md).
POPULATION_VINTAGE = "Census 2011 usual residents (27 March 2011), 2011 LSOAs"
POPULATION_ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v.3.0"
)
#: The 2011→2021 LSOA change tables shipped beside some forces' boundaries.
CHANGE_TABLES = "boundaries/*/lsoa2011_to_2021_changed_*.csv"
_CHANGE_COLUMNS = ("LSOA11CD", "LSOA21CD", "share_of_2011_area")


def read_population(
    path: str | Path | None = None,
    *,
    id_field: str = "lsoa11_code",
    residents_field: str = "all_usual_residents",
) -> pd.Series:
    """Residents per area id from a CSV; ids must be unique and residents numbers ≥ 0.

    With no ``path``, the shipped Census 2011 table of every England and Wales LSOA.

    Examples
    --------
    >>> pop = read_population()
    >>> len(pop), int(pop.sum()), int(pop["E01013600"])
    (34753, 56075912, 1921)
    """
    if path is None and (id_field, residents_field) == ("lsoa11_code", "all_usual_residents"):
        return _default_population().copy()
    return _read_population(
        Path(path) if path is not None else DEFAULT_POPULATION, id_field, residents_field
    )


@cache
def _default_population() -> pd.Series:
    return _read_population(DEFAULT_POPULATION, "lsoa11_code", "all_usual_residents")


def _read_population(p: Path, id_field: str, residents_field: str) -> pd.Series:
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
    return pd.Series(values.to_numpy(float), index=ids.to_numpy(), name="residents")


def read_lsoa_changes(paths: list[str | Path] | None = None) -> pd.DataFrame:
    """The 2011→2021 LSOA change rows (``LSOA11CD``, ``LSOA21CD``, ``share_of_2011_area``).

    With no ``paths``, every change table shipped with the boundaries (Leicestershire,
    Lincolnshire and Cambridgeshire: derived from polygon overlap, not the ONS lookup).
    Codes are national, so the tables are simply stacked (duplicate pairs dropped).

    Examples
    --------
    >>> ch = read_lsoa_changes()
    >>> ch.loc[ch["LSOA21CD"] == "E01034010", ["LSOA11CD", "share_of_2011_area"]].values.tolist()
    [['E01013607', 0.267]]
    """
    if paths is None:
        return _shipped_changes().copy()
    return _read_changes(tuple(Path(p) for p in paths))


@cache
def _shipped_changes() -> pd.DataFrame:
    return _read_changes(tuple(sorted(_DATA.glob(CHANGE_TABLES))))


def _read_changes(paths: tuple[Path, ...]) -> pd.DataFrame:
    parts = []
    for p in paths:
        if not p.exists():
            raise MissingFileError(f"{p}: no such LSOA change table")
        text, _ = decode_bytes(read_bytes(p), str(p))
        frame = read_delimited(text, str(p))
        absent = [c for c in _CHANGE_COLUMNS if c not in frame.columns]
        if absent:
            raise InputError(f"{p}: column(s) {absent} not found; it has {list(frame.columns)}")
        share = pd.to_numeric(frame["share_of_2011_area"], errors="coerce")
        bad = share.isna() | (share < 0) | (share > 1)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(
                f"{p}: column 'share_of_2011_area', line {frame['_line'].iloc[i]}: "
                f"{frame['share_of_2011_area'].iloc[i]!r} is not a share in [0, 1]"
            )
        parts.append(
            pd.DataFrame(
                {
                    "LSOA11CD": frame["LSOA11CD"].str.strip().to_numpy(),
                    "LSOA21CD": frame["LSOA21CD"].str.strip().to_numpy(),
                    "share_of_2011_area": share.to_numpy(float),
                }
            )
        )
    if not parts:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=float if c.startswith("share") else object)
                for c in _CHANGE_COLUMNS
            }
        )
    out = pd.concat(parts, ignore_index=True).drop_duplicates(["LSOA11CD", "LSOA21CD"])
    return out.sort_values(["LSOA21CD", "LSOA11CD"]).reset_index(drop=True)
