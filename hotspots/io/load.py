"""From raw input rows to the canonical incident table (see :mod:`hotspots.schema`).

Each input row is either kept or recorded as rejected with a reason code; nothing is
dropped silently. Coordinates are parsed to numbers here but checked and projected in
:mod:`hotspots.geocode`, which adds its own rejects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.io.categories import harmonise_categories, normalise_label
from hotspots.io.dates import parse_dates, parse_months
from hotspots.io.readers import ColumnMapping, RawTable, read_mapped, read_police_uk
from hotspots.schema import InputError, Reason

_POLICE_UK_PASS = {
    "LSOA code": "lsoa_code",
    "LSOA name": "lsoa_name",
    "Last outcome category": "outcome",
    "Falls within": "force",
}


@dataclass(frozen=True)
class InputSpec:
    """One incident input: a path (or several), a source label, and how to read it.

    ``columns=None`` means data.police.uk street-level files.
    """

    paths: tuple[str, ...]
    source: str = "police.uk"
    columns: ColumnMapping | None = None
    categories: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def police_uk(cls, paths: str | Path | Iterable[str | Path]) -> InputSpec:
        if isinstance(paths, str | Path):
            paths = [paths]
        return cls(tuple(str(p) for p in paths))


@dataclass(frozen=True)
class LoadResult:
    """Canonical incidents, the raw rows they came from, and the rejected rows.

    Attributes
    ----------
    incidents
        Canonical columns plus location inputs (``lon``/``lat``, ``easting``/``northing``,
        ``postcode``) and pass-through columns; ``_row`` indexes into ``raw``.
    raw
        Every input row as text, with ``_file``, ``_line`` and ``source``.
    rejects
        ``_row``, ``reason`` and ``detail`` for each rejected row.
    """

    incidents: pd.DataFrame
    raw: pd.DataFrame
    rejects: pd.DataFrame
    files: list[dict[str, object]]
    skipped_files: list[str]
    unmapped_categories: dict[str, list[str]]

    @property
    def rows_read(self) -> int:
        return len(self.raw)


def empty_rejects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "_row": pd.Series(dtype="int64"),
            "reason": pd.Series(dtype=str),
            "detail": pd.Series(dtype=str),
        }
    )


def make_rejects(
    rows: pd.Series | np.ndarray, reason: Reason, detail: pd.Series | str
) -> pd.DataFrame:
    """A rejects frame for ``rows`` (values of ``_row``) with one reason."""
    rows = np.asarray(rows, dtype="int64")
    if isinstance(detail, pd.Series):
        detail = detail.astype(str).to_numpy()
    return pd.DataFrame({"_row": rows, "reason": str(reason), "detail": detail})


def load_incidents(
    inputs: Sequence[InputSpec] | InputSpec | str | Path,
    *,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    categories: Sequence[str] | None = None,
) -> LoadResult:
    """Read every input and return canonical incidents plus rejects.

    Parameters
    ----------
    inputs
        Input specs, or a path to data.police.uk files.
    period
        Optional inclusive (start, end) on ``when``; police.uk files whose name month is
        outside it are skipped unread, other rows outside it are rejected ``out_of_period``.
    categories
        Optional harmonised categories to keep (case- and space-insensitive); other rows
        are rejected ``filtered_category``.
    """
    if isinstance(inputs, str | Path):
        inputs = [InputSpec.police_uk(inputs)]
    elif isinstance(inputs, InputSpec):
        inputs = [inputs]
    if not inputs:
        raise InputError("no incident inputs given")
    raws, frames, files, skipped, unmapped = [], [], [], [], {}
    offset = 0
    for spec in inputs:
        months = None
        if period is not None:
            months = (period[0].strftime("%Y-%m"), period[1].strftime("%Y-%m"))
        if spec.columns is None:
            table = read_police_uk(list(spec.paths), months=months)
        else:
            table = _read_mapped_all(spec)
        raw = table.frame
        raw.index = pd.RangeIndex(offset, offset + len(raw), name="_row")
        raw.insert(0, "source", spec.source)
        offset += len(raw)
        canon = (_canon_police_uk if spec.columns is None else _canon_mapped)(raw, spec)
        canon["category"], un = harmonise_categories(canon["category"], spec.categories)
        if un:
            unmapped[spec.source] = un
        raws.append(raw)
        frames.append(canon)
        files.extend(table.files)
        skipped.extend(table.skipped_files)
    raw_all = pd.concat(raws) if len(raws) > 1 else raws[0]
    incidents = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    incidents, rejects = _validate(incidents, period, categories)
    return LoadResult(incidents, raw_all, rejects, files, skipped, unmapped)


def _read_mapped_all(spec: InputSpec) -> RawTable:
    tables = [read_mapped(p, spec.columns) for p in spec.paths]  # type: ignore[arg-type]
    if len(tables) == 1:
        return tables[0]
    return RawTable(
        pd.concat([t.frame for t in tables], ignore_index=True),
        [r for t in tables for r in t.files],
    )


def _file_line_ids(raw: pd.DataFrame) -> pd.Series:
    short = {f: Path(str(f).split("!")[-1]).name for f in raw["_file"].unique()}
    return raw["_file"].map(short) + ":" + raw["_line"].astype(str)


def _canon_police_uk(raw: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    ids = raw["Crime ID"].str.strip() if "Crime ID" in raw else pd.Series("", index=raw.index)
    out = pd.DataFrame(
        {
            "_row": raw.index.to_numpy(),
            "incident_id": ids.where(ids != "", _file_line_ids(raw)).to_numpy(),
            "_has_id": (ids != "").to_numpy(),
            "when": parse_months(raw["Month"]).to_numpy(),
            "precision": "month",
            "category": raw["Crime type"].to_numpy(),
            "source": spec.source,
            "location": raw.get("Location", pd.Series("", index=raw.index)).to_numpy(),
            "lon": pd.to_numeric(raw["Longitude"], errors="coerce").to_numpy(),
            "lat": pd.to_numeric(raw["Latitude"], errors="coerce").to_numpy(),
            "_coord_text": (raw["Longitude"].str.strip() + raw["Latitude"].str.strip()).to_numpy(),
        }
    )
    for col, name in _POLICE_UK_PASS.items():
        if col in raw:
            out[name] = raw[col].to_numpy()
    return out


def _canon_mapped(raw: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    m: ColumnMapping = spec.columns  # type: ignore[assignment]
    blank = pd.Series("", index=raw.index)
    ids = raw[m.id].str.strip() if m.id else blank
    if m.month:
        when = parse_months(raw[m.month])
        precision = pd.Series(np.where(when.notna(), "month", ""), index=raw.index)
    else:
        when, precision = parse_dates(raw[m.datetime or m.date], dayfirst=m.dayfirst)
    out = pd.DataFrame(
        {
            "_row": raw.index.to_numpy(),
            "incident_id": ids.where(ids != "", _file_line_ids(raw)).to_numpy(),
            "_has_id": (ids != "").to_numpy(),
            "when": when.to_numpy(),
            "precision": precision.to_numpy(),
            "category": (raw[m.category] if m.category else blank).to_numpy(),
            "source": spec.source,
            "location": (raw[m.location] if m.location else blank).to_numpy(),
        }
    )
    text = pd.Series("", index=raw.index)
    if m.lon:
        out["lon"] = pd.to_numeric(raw[m.lon], errors="coerce").to_numpy()
        out["lat"] = pd.to_numeric(raw[m.lat], errors="coerce").to_numpy()
        text = text + raw[m.lon].str.strip() + raw[m.lat].str.strip()
    if m.easting:
        out["easting"] = pd.to_numeric(raw[m.easting], errors="coerce").to_numpy()
        out["northing"] = pd.to_numeric(raw[m.northing], errors="coerce").to_numpy()
        text = text + raw[m.easting].str.strip() + raw[m.northing].str.strip()
    if "_geom_x" in raw:
        geographic = str(raw["_geom_crs"].iloc[0]) in ("EPSG:4326", "OGC:CRS84")
        a, b = ("lon", "lat") if geographic else ("easting", "northing")
        out[a] = raw["_geom_x"].to_numpy(dtype=float)
        out[b] = raw["_geom_y"].to_numpy(dtype=float)
        text = text + np.where(np.isfinite(out[a]), "g", "")
    if m.postcode:
        out["postcode"] = raw[m.postcode].str.strip().to_numpy()
        text = text + out["postcode"]
    out["_coord_text"] = text.to_numpy()
    used = {
        c
        for c in (
            m.id,
            m.date,
            m.datetime,
            m.month,
            m.category,
            m.lon,
            m.lat,
            m.easting,
            m.northing,
            m.postcode,
            m.location,
        )
        if c
    }
    for col in raw.columns:
        if col not in used and not col.startswith("_") and col != "source":
            out[m.extra.get(col, col)] = raw[col].to_numpy()
    return out


def _validate(
    inc: pd.DataFrame,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    parts = []
    checks: list[tuple[pd.Series, Reason, pd.Series | str]] = [
        (inc["when"].isna(), Reason.BAD_DATE, "unparseable or implausible date"),
        (inc["_coord_text"] == "", Reason.NO_LOCATION, "blank location"),
        (inc["category"].str.strip() == "", Reason.NO_CATEGORY, "blank category"),
    ]
    dup = inc["_has_id"] & inc.duplicated(["source", "incident_id"], keep="first")
    checks.append((dup, Reason.DUPLICATE_ID, inc["incident_id"]))
    if period is not None:
        start, end = period
        outside = (inc["when"] < start) | (inc["when"] > end)
        checks.append((outside, Reason.OUT_OF_PERIOD, inc["when"].astype(str)))
    if categories:
        wanted = {normalise_label(c) for c in categories}
        other = ~inc["category"].map(normalise_label).isin(wanted)
        checks.append((other, Reason.FILTERED_CATEGORY, inc["category"]))
    bad = pd.Series(False, index=inc.index)
    for mask, reason, detail in checks:
        hit = mask & ~bad
        if hit.any():
            d = detail[hit] if isinstance(detail, pd.Series) else detail
            parts.append(make_rejects(inc.loc[hit, "_row"], reason, d))
            bad |= hit
    kept = inc.loc[~bad].drop(columns=["_has_id", "_coord_text"]).reset_index(drop=True)
    rejects = pd.concat(parts, ignore_index=True) if parts else empty_rejects()
    return kept, rejects
