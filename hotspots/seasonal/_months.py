"""Input checks, month arithmetic and grouping shared by the seasonal functions.

Months are handled as integers ``year * 12 + month - 1`` so that spans, gaps and
month-of-year arithmetic stay exact and independent of day or time zone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.schema import InputError

log = logging.getLogger("hotspots.seasonal")

PRECISIONS = ("month", "day", "minute")


def month_number(when: object, what: str) -> int:
    """The integer month of one timestamp-like value (``year * 12 + month - 1``)."""
    try:
        ts = pd.Timestamp(when)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be a date, got {when!r}") from exc
    if pd.isna(ts):
        raise InputError(f"{what} must be a date, got {when!r}")
    return ts.year * 12 + ts.month - 1


def month_numbers(dates: Iterable[object], what: str) -> np.ndarray:
    """Sorted unique month numbers of many dates (vectorised: a whole ``when`` column is fine)."""
    values = dates if isinstance(dates, pd.Series | pd.Index | np.ndarray) else list(dates)
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(values))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} must be dates: {exc}") from exc
    if idx.hasnans:
        raise InputError(f"{what} has missing dates")
    return np.unique(idx.year.to_numpy(np.int64) * 12 + idx.month.to_numpy(np.int64) - 1)


def month_start(number: int | np.ndarray) -> pd.DatetimeIndex:
    """First-of-month timestamps for integer month numbers."""
    n = np.atleast_1d(np.asarray(number, dtype=np.int64))
    return pd.DatetimeIndex(pd.to_datetime({"year": n // 12, "month": n % 12 + 1, "day": 1}))


def month_range(bounds: object, what: str) -> tuple[int, int]:
    """``(start, end)`` month numbers of an inclusive ``(start, end)`` pair of dates."""
    if not isinstance(bounds, Sequence) or isinstance(bounds, str) or len(bounds) != 2:
        raise InputError(f"{what} must be a (start, end) pair of dates, got {bounds!r}")
    start = month_number(bounds[0], f"{what}[0]")
    end = month_number(bounds[1], f"{what}[1]")
    if end < start:
        raise InputError(f"{what} ends ({bounds[1]}) before it starts ({bounds[0]})")
    return start, end


def group_keys(incidents: pd.DataFrame, by: str | Sequence[str]) -> list[str]:
    """Validate ``by`` against the columns of ``incidents`` and return it as a list."""
    keys = [by] if isinstance(by, str) else list(by)
    if not keys or not all(isinstance(k, str) for k in keys):
        raise InputError(f"by must be a column name or a non-empty list of names, got {by!r}")
    missing = [k for k in keys if k not in incidents.columns]
    if missing:
        raise InputError(
            f"by names column(s) {missing} that incidents does not have; "
            f"columns are {list(incidents.columns)}"
        )
    return keys


def incident_months(incidents: pd.DataFrame) -> np.ndarray:
    """Month number of every row, after checking the ``when`` column."""
    if not isinstance(incidents, pd.DataFrame):
        raise InputError(f"incidents must be a pandas DataFrame, got {type(incidents).__name__}")
    if "when" not in incidents.columns:
        raise InputError("incidents has no 'when' column (the canonical incident date)")
    when = incidents["when"]
    if not pd.api.types.is_datetime64_any_dtype(when):
        raise InputError(f"incidents['when'] must be datetime64, got dtype {when.dtype}")
    bad = when.isna().to_numpy()
    if bad.any():
        raise InputError(
            f"incidents['when'] has {int(bad.sum())} missing date(s), first at row "
            f"{incidents.index[bad.argmax()]!r}; drop or fix them first"
        )
    return (when.dt.year.to_numpy(np.int64) * 12 + when.dt.month.to_numpy(np.int64)) - 1


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """Incidents reduced to integer group codes and month offsets within the covered span.

    Attributes
    ----------
    keys : list of str
        The grouping columns.
    groups : DataFrame
        One row per group (every key combination present in the input), sorted.
    code, offset : ndarray
        Group code and month offset from ``start`` of each row kept (inside the span,
        all keys present).
    rows : DataFrame
        ``when`` and ``precision`` (if present) of the kept rows, aligned with ``code``.
    start : int
        Month number of the first covered month.
    has_data : ndarray of bool
        Per covered month: whether the dataset as a whole has any data that month.
    """

    keys: list[str]
    groups: pd.DataFrame
    code: np.ndarray
    offset: np.ndarray
    rows: pd.DataFrame
    start: int
    has_data: np.ndarray

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_months(self) -> int:
        return len(self.has_data)

    @property
    def months(self) -> pd.DatetimeIndex:
        return month_start(self.start + np.arange(self.n_months)).rename("month")

    def month_of_year(self) -> np.ndarray:
        """Month of year (0 = January) of each covered month."""
        return (self.start + np.arange(self.n_months)) % 12

    def exposure(self) -> np.ndarray:
        """How many months with data each calendar month (Jan..Dec) has in the span."""
        return np.bincount(self.month_of_year()[self.has_data], minlength=12)

    def counts(self) -> np.ndarray:
        """Group × covered-month counts, ``NaN`` for months without any data."""
        flat = np.bincount(
            self.code * self.n_months + self.offset, minlength=self.n_groups * self.n_months
        )
        out = flat.reshape(self.n_groups, self.n_months).astype(float)
        out[:, ~self.has_data] = np.nan
        return out


def prepare(
    incidents: pd.DataFrame,
    by: str | Sequence[str],
    period: object = None,
    months_with_data: Iterable[object] | None = None,
) -> Prepared:
    """Validate the inputs, fix the covered span and reduce rows to codes and offsets."""
    month = incident_months(incidents)
    keys = group_keys(incidents, by)
    if period is not None:
        start, end = month_range(period, "period")
    elif len(month):
        start, end = int(month.min()), int(month.max())
    else:
        raise InputError("incidents is empty and no period was given: nothing to cover")
    in_span = (month >= start) & (month <= end)
    n_months = end - start + 1
    seen = np.bincount(month[in_span] - start, minlength=n_months) > 0
    if months_with_data is None:
        has_data = seen
    else:
        listed = month_numbers(months_with_data, "months_with_data")
        has_data = np.isin(start + np.arange(n_months), listed)
        stray = seen & ~has_data
        if stray.any():
            raise InputError(
                "incidents has rows in month(s) not listed in months_with_data: "
                f"{[str(m.date()) for m in month_start(start + np.flatnonzero(stray))]}"
            )
    grouped = incidents.groupby(keys, sort=True, dropna=True, observed=True)
    code = grouped.ngroup().to_numpy(dtype=float, na_value=np.nan)
    no_key = np.isnan(code)
    if no_key.any():
        log.info("%d incident(s) without a value in %s left out of the groups", no_key.sum(), keys)
    keep = in_span & ~no_key
    if period is None:
        log.info(
            "Covered period set to %s..%s automatically (rule: month span of the data): "
            "%d months, %d with data; months without any incident are treated as missing",
            month_start(start)[0].strftime("%Y-%m"),
            month_start(end)[0].strftime("%Y-%m"),
            n_months,
            int(has_data.sum()),
        )
    return Prepared(
        keys=keys,
        groups=grouped.size().index.to_frame(index=False),
        code=code[keep].astype(np.int64),
        offset=month[keep] - start,
        rows=incidents.loc[keep, [c for c in ("when", "precision") if c in incidents.columns]],
        start=start,
        has_data=has_data,
    )


def attach_span(table: pd.DataFrame, prep: Prepared) -> pd.DataFrame:
    """Record the covered span and the missing months in ``table.attrs`` (for run.json)."""
    months = prep.months
    table.attrs["covered_period"] = (
        months[0].strftime("%Y-%m") if len(months) else None,
        months[-1].strftime("%Y-%m") if len(months) else None,
    )
    table.attrs["months_without_data"] = [m.strftime("%Y-%m") for m in months[~prep.has_data]]
    return table


def weekday_exposure(dated: pd.Series) -> np.ndarray:
    """How many times each weekday (Mon..Sun) is covered by dated rows.

    Coverage is every day of the months that hold a dated row, from the first dated day to
    the last: months known only to the month (police.uk) say nothing about weekdays, and a
    part month counts only its part. A stretch of D days starting on weekday w has D // 7
    of every weekday plus one more of the D % 7 weekdays from w on.

    Examples
    --------
    >>> weekday_exposure(pd.Series(pd.to_datetime(["2024-02-01", "2024-02-29"]))).tolist()
    [4, 4, 4, 5, 4, 4, 4]
    >>> weekday_exposure(pd.Series(pd.to_datetime(["2024-02-05", "2024-02-11"]))).tolist()
    [1, 1, 1, 1, 1, 1, 1]
    """
    days = dated.to_numpy("datetime64[ns]").astype("datetime64[D]")
    out = np.zeros(7, dtype=np.int64)
    if len(days) == 0:
        return out
    first, last = days.min(), days.max()
    for month in np.unique(days.astype("datetime64[M]")):  # a few hundred at most
        start = max(month.astype("datetime64[D]"), first)
        end = min((month + 1).astype("datetime64[D]") - 1, last)
        n = int((end - start).astype(int)) + 1
        weekday = (int(start.astype(int)) + 3) % 7  # 1970-01-01 was a Thursday
        out += n // 7 + ((np.arange(7) - weekday) % 7 < n % 7)
    return out
