"""From raw input rows to the canonical incident table (see :mod:`hotspots.schema`).

Each input row is either kept or recorded as rejected with a reason code; nothing is
dropped silently. Coordinates are parsed to numbers here but checked and projected in
:mod:`hotspots.geocode`, which adds its own rejects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots._validation import category_key
from hotspots.io._categories import asb_subtypes, harmonise_categories
from hotspots.io._dates import parse_dates, parse_months
from hotspots.io._frames import (
    compact_text,
    concat_categorical,
    map_distinct,
    sorted_categorical,
)
from hotspots.io._parquet import FilterValue, is_incident_dataset
from hotspots.io._readers import ColumnMapping, RawTable, read_mapped, read_police_uk
from hotspots.io._text import ReadBudget, ReadLimits
from hotspots.schema import InputError, Reason

log = logging.getLogger("hotspots.io")

_POLICE_UK_PASS = {
    "LSOA code": "lsoa_code",
    "LSOA name": "lsoa_name",
    "Last outcome category": "outcome",
    "Falls within": "force",
}


@dataclass(frozen=True)
class InputSpec:
    """One incident input: a path (or several), a source label, and how to read it.

    ``columns=None`` means data.police.uk street-level files, or a dataset folder written
    by ``hotspots ingest`` (see :mod:`hotspots.io._parquet`): its rows were validated and
    located at ingest and are read with ``filters`` (column → value or list of values,
    e.g. ``{"force": "Leicestershire Police"}``), the period and the categories pushed
    down to the Parquet reader.
    """

    paths: tuple[str, ...]
    source: str = "police.uk"
    columns: ColumnMapping | None = None
    categories: Mapping[str, str] = field(default_factory=dict)
    filters: Mapping[str, FilterValue] = field(default_factory=dict)

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
    limits: ReadLimits | None = None,
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
    limits
        Decompression limits for the whole load (bytes per zip member or ``.gz`` file,
        bytes in all, expansion ratio); default :meth:`ReadLimits.from_env`, i.e. the
        ``MAX_*`` constants of :mod:`hotspots.io._text` unless ``HOTSPOTS_MAX_*`` is set.
        A file past them stops the load with an :class:`InputError` naming it.
    """
    budget = ReadBudget(limits)
    specs = _as_specs(inputs)
    if isinstance(categories, str):  # one name, not its letters
        categories = [categories]
    read = _read_inputs(specs, period, categories, budget)
    _require_files_in_period(read, period)
    raw = compact_text(concat_categorical(read.raws))
    checked, rejects = _validate_file_rows(read.file_rows, period, categories)
    incidents = _in_input_order(checked, read.dataset_rows)
    return LoadResult(
        _sort_categories(incidents), raw, rejects, read.files, read.skipped, read.unmapped
    )


@dataclass
class _ReadInputs:
    """Every input read and made canonical, before the file rows are validated."""

    raws: list[pd.DataFrame] = field(default_factory=list)  # each input's rows as text
    file_rows: list[pd.DataFrame] = field(default_factory=list)  # canonical, to validate
    dataset_rows: list[pd.DataFrame] = field(default_factory=list)  # checked at ingest
    files: list[dict[str, object]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    unmapped: dict[str, list[str]] = field(default_factory=dict)


def _as_specs(inputs: Sequence[InputSpec] | InputSpec | str | Path) -> Sequence[InputSpec]:
    """The inputs as a list of specs: a path is police.uk files; none is an error."""
    if isinstance(inputs, str | Path):
        inputs = [InputSpec.police_uk(inputs)]
    elif isinstance(inputs, InputSpec):
        inputs = [inputs]
    if not inputs:
        raise InputError("no incident inputs given")
    return inputs


def _read_inputs(
    specs: Sequence[InputSpec],
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
    budget: ReadBudget,
) -> _ReadInputs:
    """Read each input in turn, numbering its rows on from the last (``_row``), and
    harmonise its categories."""
    read = _ReadInputs()
    offset = 0
    for spec in specs:
        dataset = _is_dataset_spec(spec)
        if dataset:
            table, raw, canon = _read_datasets(spec, period, categories, offset)
        else:
            table, raw, canon = _read_files(spec, period, budget, offset, several=len(specs) > 1)
        offset += len(raw)
        if not dataset or spec.categories:  # datasets were harmonised at ingest
            unmapped = _harmonise(canon, spec)
            if unmapped:
                read.unmapped[spec.source] = unmapped
        read.raws.append(raw)
        (read.dataset_rows if dataset else read.file_rows).append(canon)
        read.files.extend(table.files)
        read.skipped.extend(table.skipped_files)
    return read


def _read_files(
    spec: InputSpec,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    budget: ReadBudget,
    offset: int,
    *,
    several: bool,
) -> tuple[RawTable, pd.DataFrame, pd.DataFrame]:
    """One input of files (police.uk or mapped): the table read, its rows as text
    (indexed ``_row`` from ``offset``, with ``source``) and their canonical columns."""
    if spec.filters:
        raise InputError(
            f"{spec.paths}: filters apply to ingested datasets only; "
            "give a folder written by `hotspots ingest`"
        )
    if spec.columns is None:
        months = None
        if period is not None:
            months = (period[0].strftime("%Y-%m"), period[1].strftime("%Y-%m"))
        # Among several inputs, one holding only months outside the period is no error.
        table = read_police_uk(list(spec.paths), months=months, allow_empty=several, budget=budget)
    else:
        table = _read_mapped_all(spec, budget)
    raw = compact_text(table.frame)
    raw.index = pd.RangeIndex(offset, offset + len(raw), name="_row")
    raw.insert(0, "source", _constant(spec.source, len(raw)))
    canon = (_canon_police_uk if spec.columns is None else _canon_mapped)(raw, spec)
    return table, raw, canon


def _harmonise(canon: pd.DataFrame, spec: InputSpec) -> list[str]:
    """Harmonise ``canon``'s categories in place (ASB subtypes kept in ``asb_type``);
    return the input's names that no rule maps."""
    subtypes = asb_subtypes(canon["category"], spec.categories)
    canon["category"], unmapped = harmonise_categories(canon["category"], spec.categories)
    if (subtypes != "").any():
        canon["asb_type"] = subtypes.array
    return unmapped


def _require_files_in_period(
    read: _ReadInputs, period: tuple[pd.Timestamp, pd.Timestamp] | None
) -> None:
    if read.skipped and not read.files:
        raise InputError(
            f"no files left to read: all are outside the period {_period_text(period)} "
            f"(skipped {len(read.skipped)}: {', '.join(Path(f).name for f in read.skipped[:3])}…)"
        )


def _validate_file_rows(
    file_rows: list[pd.DataFrame],
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The file inputs' rows kept (``None`` when there are none) and those rejected."""
    if not file_rows:
        return None, empty_rejects()
    rows = concat_categorical(file_rows, ignore_index=True)
    return _reject_invalid_rows(rows, period, categories)


def _in_input_order(checked: pd.DataFrame | None, dataset_rows: list[pd.DataFrame]) -> pd.DataFrame:
    """The kept file rows and the dataset rows as one table, in input (``_row``) order."""
    parts = dataset_rows if checked is None else [checked, *dataset_rows]
    incidents = concat_categorical(parts, ignore_index=True)
    if checked is not None and len(parts) > 1:  # files and datasets: back to input order
        incidents = incidents.sort_values("_row", kind="stable").reset_index(drop=True)
    return incidents


def _sort_categories(incidents: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns with their categories in text order, so that sorting and
    grouping by them follow the text."""
    for col in incidents.columns:
        if isinstance(incidents[col].dtype, pd.CategoricalDtype):
            incidents[col] = sorted_categorical(incidents[col])
    return incidents


def restrict_loaded(
    load: LoadResult,
    *,
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    categories: Sequence[str] | None = None,
) -> LoadResult:
    """Move loaded incidents outside ``period`` or ``categories`` to the rejects.

    For filters known only once rows are read (the last N months of exports whose file
    names carry no month). Reasons as in loading: ``out_of_period`` first, then
    ``filtered_category``.
    """
    inc, parts = load.incidents, [load.rejects]
    if period is not None:
        outside = ((inc["when"] < period[0]) | (inc["when"] > period[1])).to_numpy()
        rows = inc.loc[outside]
        parts.append(make_rejects(rows["_row"], Reason.OUT_OF_PERIOD, rows["when"].astype(str)))
        inc = inc.loc[~outside]
    if categories:
        other = ~_in_categories(inc["category"], categories).to_numpy()
        rows = inc.loc[other]
        parts.append(make_rejects(rows["_row"], Reason.FILTERED_CATEGORY, rows["category"]))
        inc = inc.loc[~other]
    rejects = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else load.rejects
    )
    return replace(load, incidents=inc.reset_index(drop=True), rejects=rejects)


def _in_categories(values: pd.Series, categories: Sequence[str]) -> pd.Series:
    """Whether each category is one of ``categories`` (case- and space-insensitive)."""
    wanted = {category_key(c) for c in categories}
    return map_distinct(values, lambda s: s.map(category_key).isin(wanted))


def _period_text(period: tuple[pd.Timestamp, pd.Timestamp] | None) -> str:
    return "" if period is None else f"{period[0]:%Y-%m} to {period[1]:%Y-%m}"


def _is_dataset_spec(spec: InputSpec) -> bool:
    found = [is_incident_dataset(p) for p in spec.paths]
    if any(found) and not all(found):
        raise InputError(
            f"{spec.paths}: mix of ingested datasets and other files in one "
            "input; give them as separate inputs"
        )
    return spec.columns is None and bool(found) and all(found)


def _read_datasets(
    spec: InputSpec,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
    offset: int,
) -> tuple[RawTable, pd.DataFrame, pd.DataFrame]:
    """Rows of ingested datasets, filters pushed down; validated at ingest, so not again.

    ``raw`` is the stored rows (``file``/``line`` as ``_file``/``_line``) so later rejects
    (outside the study area) name the original file and line. Coordinates are handed on as
    easting/northing with the stored ``loc_precision_m`` and ``geocode_note``, which
    :func:`hotspots.geocode.locate_incidents` keeps: a point found from a postcode sector at
    ingest stays as imprecise, and is said to be, as in a run on the original files.
    """
    from hotspots.io._parquet import read_incident_dataset

    frames, records = [], []
    for path in spec.paths:
        frame = read_incident_dataset(
            path, filters=spec.filters, period=period, categories=categories, categorical=False
        )
        frames.append(frame)
        records.append(
            {
                "file": str(path),
                "rows": len(frame),
                "format": "hotspots dataset",
                "filters": {k: v for k, v in sorted(spec.filters.items())},
            }
        )
    raw = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    raw = raw.drop(columns=["year"], errors="ignore").rename(
        columns={"file": "_file", "line": "_line"}
    )
    raw.index = pd.RangeIndex(offset, offset + len(raw), name="_row")
    canon = pd.DataFrame(
        {
            "_row": raw.index.to_numpy(),
            "incident_id": raw["incident_id"].array,
            "when": raw["when"].array,
            "precision": raw["precision"].array,
            "category": raw["category"].array,
            "source": raw["source"].array,
            "location": raw["location"].array,
            "easting": raw["x"].array,
            "northing": raw["y"].array,
        }
    )
    skip = {
        "incident_id",
        "when",
        "precision",
        "category",
        "source",
        "location",
        "x",
        "y",
        "_file",
        "_line",
    }
    for col in raw.columns:
        if col not in skip:
            canon[col] = raw[col].array
    return RawTable(raw, records), raw, canon


def _read_mapped_all(spec: InputSpec, budget: ReadBudget) -> RawTable:
    tables = [
        read_mapped(p, spec.columns, budget=budget)  # type: ignore[arg-type]
        for p in spec.paths
    ]
    if len(tables) == 1:
        return tables[0]
    return RawTable(
        concat_categorical([t.frame for t in tables], ignore_index=True),
        [r for t in tables for r in t.files],
    )


def _file_line_ids(raw: pd.DataFrame) -> pd.Series:
    short = {f: Path(str(f).split("!")[-1]).name for f in raw["_file"].unique()}
    return raw["_file"].map(short).astype(str) + ":" + raw["_line"].astype(str)


def _ids(raw: pd.DataFrame, col: str | None) -> pd.Series:
    """Ids as text, "" where blank or written as a null (``NULL``, ``N/A``…)."""
    if col is None:
        return pd.Series("", index=raw.index)
    ids = raw[col].str.strip()
    return ids.where(~ids.isin(_MISSING), "")


def _constant(value: str, n: int) -> pd.Categorical:
    """The same text on ``n`` rows, as one category (not ``n`` strings)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype="int8"), [value])


def _canon_police_uk(raw: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    ids = _ids(raw, "Crime ID" if "Crime ID" in raw else None)
    out = pd.DataFrame(
        {
            "_row": raw.index.to_numpy(),
            "incident_id": ids.where(ids != "", _file_line_ids(raw.loc[ids == ""])).array,
            "_has_id": (ids != "").array,
            "when": map_distinct(raw["Month"], parse_months).array,
            "_date_text": raw["Month"].array,
            "precision": _constant("month", len(raw)),
            "category": raw["Crime type"].array,
            "source": _constant(spec.source, len(raw)),
            "location": raw.get("Location", pd.Series("", index=raw.index)).array,
        }
    )
    coords = {"lon": "Longitude", "lat": "Latitude"}
    _add_coordinates(out, raw, coords)
    out["_has_location"] = _has_text(raw, list(coords.values()))
    for col, name in _POLICE_UK_PASS.items():
        if col in raw:
            out[name] = raw[col].array
    return out


def _canon_mapped(raw: pd.DataFrame, spec: InputSpec) -> pd.DataFrame:
    m: ColumnMapping = spec.columns  # type: ignore[assignment]
    blank = pd.Series("", index=raw.index)
    ids = _ids(raw, m.id)
    date_col = m.month or m.datetime or m.date
    if m.month:
        when = map_distinct(raw[m.month], parse_months)
        precision = pd.Series(np.where(when.notna(), "month", ""), index=raw.index)
    else:
        when, precision = parse_dates(raw[date_col], dayfirst=m.dayfirst)
        precision = _midnight_is_a_day(when, precision, f"{spec.source} {date_col!r}")
    out = pd.DataFrame(
        {
            "_row": raw.index.to_numpy(),
            "incident_id": ids.where(ids != "", _file_line_ids(raw.loc[ids == ""])).array,
            "_has_id": (ids != "").array,
            "when": when.array,
            "_date_text": raw[date_col].array,
            "precision": precision.astype("category").array,
            "category": (raw[m.category] if m.category else blank).array,
            "source": _constant(spec.source, len(raw)),
            "location": (raw[m.location] if m.location else blank).array,
        }
    )
    coords: dict[str, str] = {}  # canonical name → the export's column
    if m.lon and m.lat:  # ColumnMapping gives both or neither
        coords.update(lon=m.lon, lat=m.lat)
    if m.easting and m.northing:
        coords.update(easting=m.easting, northing=m.northing)
    _add_coordinates(out, raw, coords)
    has_location = _has_text(raw, list(coords.values()))
    for a, b in (("lon", "lat"), ("x", "y")):
        if f"_geom_{a}" not in raw:
            continue
        # The geometry gives the location where the mapped columns give none.
        ca, cb = ("lon", "lat") if a == "lon" else ("easting", "northing")
        ga = raw[f"_geom_{a}"].to_numpy(dtype=float)
        gb = raw[f"_geom_{b}"].to_numpy(dtype=float)
        has = np.isfinite(ga) & np.isfinite(gb)
        if ca in out:
            has &= np.isnan(out[ca].to_numpy(float)) & np.isnan(out[cb].to_numpy(float))
            out[ca] = np.where(has, ga, out[ca])
            out[cb] = np.where(has, gb, out[cb])
        else:
            out[ca], out[cb] = np.where(has, ga, np.nan), np.where(has, gb, np.nan)
        has_location |= has
    if m.postcode:
        out["postcode"] = raw[m.postcode].str.strip().array
        has_location |= ~_is_missing(out["postcode"])
    out["_has_location"] = has_location
    used = set(m.columns_used())
    for col in raw.columns:
        if col not in used and not col.startswith("_") and col != "source":
            out[m.extra.get(col, col)] = raw[col].array
    return out


def _midnight_is_a_day(when: pd.Series, precision: pd.Series, where: str) -> pd.Series:
    """Day precision for a source whose every time of day is 00:00.

    Spreadsheets and databases write a date-only field as ``03/03/2025 00:00:00``; taken
    as a time it would invent a midnight peak in the hour-of-day profile.
    """
    timed = (precision == "minute").to_numpy()
    if not timed.any() or (when[timed].dt.hour.any() or when[timed].dt.minute.any()):
        return precision
    log.info("%s: every time of day is 00:00, so its rows are dates, not times", where)
    return precision.where(~timed, "day")


#: Cell text meaning "no value": blanks written out by databases, pandas and Excel.
_MISSING = frozenset({"", "nan", "NaN", "NAN", "null", "NULL", "None", "N/A", "n/a", "#N/A", "-"})


def _is_missing(values: pd.Series) -> np.ndarray:
    """Whether each cell is blank or a written null, once per distinct value."""
    blank = map_distinct(values, lambda s: s.astype(str).str.strip().isin(_MISSING))
    return blank.to_numpy(dtype=bool)


def _add_coordinates(out: pd.DataFrame, raw: pd.DataFrame, coords: Mapping[str, str]) -> None:
    """Parse coordinate columns to floats; note text that is present but not a number.

    ``_coord_bad`` holds, per row, the first coordinate cell that is written but is not a
    number (``Longitude '-1,13'``), so that the reject says what was wrong.
    """
    bad = pd.Series("", index=raw.index, dtype=object)
    for name, col in coords.items():
        missing = _is_missing(raw[col])
        value = map_distinct(
            raw[col], lambda s: pd.to_numeric(s.astype(str).str.strip(), errors="coerce")
        ).to_numpy(dtype=float)
        out[name] = np.where(missing, np.nan, value)
        wrong = np.isnan(value) & ~missing & (bad == "").to_numpy()
        bad[wrong] = col + " " + raw.loc[wrong, col].astype(str).str.strip().map(repr)
    out["_coord_bad"] = bad.array


def _has_text(raw: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Whether any of ``cols`` holds a value (not blank, not a written null) in each row."""
    has = np.zeros(len(raw), dtype=bool)
    for col in cols:
        has |= ~_is_missing(raw[col])
    return has


def _reject_invalid_rows(
    inc: pd.DataFrame,
    period: tuple[pd.Timestamp, pd.Timestamp] | None,
    categories: Sequence[str] | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split canonical rows into kept rows and rejects, the first failing check winning.

    Each check's detail text is built for its rejected rows only: at millions of rows a
    message for every row would hold GBs of strings that are never written.
    """
    # A coordinate that is written but is not a number, with no postcode to fall back on.
    no_fallback = _is_missing(inc["postcode"].fillna("")) if "postcode" in inc else True
    checks: list[tuple[pd.Series, Reason, Callable[[pd.DataFrame], pd.Series | str]]] = [
        (inc["when"].isna(), Reason.BAD_DATE, _date_detail),
        (~inc["_has_location"], Reason.NO_LOCATION, lambda _: "blank location"),
        (
            (inc["_coord_bad"] != "") & no_fallback,
            Reason.BAD_COORDINATES,
            lambda rows: "not a number: " + rows["_coord_bad"],
        ),
        (
            pd.Series(_is_missing(inc["category"]), index=inc.index),
            Reason.NO_CATEGORY,
            lambda _: "blank category",
        ),
    ]
    dup = inc["_has_id"] & inc.duplicated(["source", "incident_id"], keep="first")
    checks.append((dup, Reason.DUPLICATE_ID, lambda rows: rows["incident_id"]))
    if period is not None:
        start, end = period
        outside = (inc["when"] < start) | (inc["when"] > end)
        checks.append((outside, Reason.OUT_OF_PERIOD, lambda rows: rows["when"].astype(str)))
    if categories:
        other = ~_in_categories(inc["category"], categories)
        checks.append((other, Reason.FILTERED_CATEGORY, lambda rows: rows["category"]))
    parts = []
    bad = pd.Series(False, index=inc.index)
    for mask, reason, detail in checks:
        hit = mask & ~bad
        if hit.any():
            rows = inc.loc[hit]
            parts.append(make_rejects(rows["_row"], reason, detail(rows)))
            bad |= hit
    private = ["_has_id", "_has_location", "_coord_bad", "_date_text"]
    kept = inc.drop(columns=private).loc[~bad].reset_index(drop=True)
    rejects = pd.concat(parts, ignore_index=True) if parts else empty_rejects()
    return kept, rejects


def _date_detail(rows: pd.DataFrame) -> pd.Series:
    text = rows["_date_text"].astype(str).str.strip()
    return ("unparseable or implausible date " + text.map(repr)).where(text != "", "blank date")
