"""Month-of-year, day-of-week and hour profiles per group, and the zero-filled monthly series."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from hotspots.schema import InputError

from ._flatness import profile_p_many
from ._months import PRECISIONS, Prepared, attach_span, prepare, weekday_exposure
from ._seasons import SEASON_OF_MONTH, SEASONS

MONTH_COLUMNS: tuple[str, ...] = tuple(f"m{m:02d}" for m in range(1, 13))
DOW_COLUMNS: tuple[str, ...] = tuple(f"d{d}" for d in range(1, 8))
HOUR_COLUMNS: tuple[str, ...] = tuple(f"h{h:02d}" for h in range(24))


def monthly_series(
    incidents: pd.DataFrame,
    *,
    by: str | Sequence[str],
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    months_with_data: Iterable[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Incident counts per group and calendar month over the covered span.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``when`` plus the ``by`` columns).
    by : str or list of str
        Grouping column(s). Rows with a missing key are left out.
    period : (start, end), optional
        Inclusive months to cover (days are ignored). Default: the data's month span.
    months_with_data : iterable of dates, optional
        Months for which data was loaded. Default: months in which the dataset as a
        whole has at least one incident.

    Returns
    -------
    DataFrame
        Index: the group keys (sorted); columns: first-of-month timestamps of every month
        in the span. Counts are zero-filled in months with data and ``NaN`` in months
        without any data (a gap in the source, not a quiet month).

    Examples
    --------
    >>> inc = pd.DataFrame({
    ...     "when": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01", "2025-04-01"]),
    ...     "beat": ["A", "B", "A", "A"]})
    >>> monthly_series(inc, by="beat", months_with_data=inc["when"].tolist()
    ...                + [pd.Timestamp("2025-02-01")]).to_numpy().tolist()
    [[1.0, 0.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]
    >>> monthly_series(inc, by="beat").iloc[:, 1].tolist()
    [nan, nan]
    """
    prep = prepare(incidents, by, period, months_with_data)
    index = (
        pd.MultiIndex.from_frame(prep.groups)
        if len(prep.keys) > 1
        else pd.Index(prep.groups[prep.keys[0]])
    )
    table = pd.DataFrame(prep.counts(), index=index, columns=prep.months)
    return attach_span(table, prep)


def seasonal_profiles(
    incidents: pd.DataFrame,
    *,
    by: str | Sequence[str],
    period: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    months_with_data: Iterable[pd.Timestamp] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Seasonal profile of each group: monthly means, peak, significance, day and hour shape.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents: ``when``, ``precision`` and the ``by`` columns.
    by : str or list of str
        Grouping column(s) (``beat``, ``lsoa``, ``hotspot_id``, ``category`` …).
    period : (start, end), optional
        Inclusive months to cover. Default: the data's month span. The same span is
        used for every group, so a group with no incidents in a month counts zero there.
    months_with_data : iterable of dates, optional
        Months for which data exists. Default: months with any incident in ``incidents``.
        Months without data are left out of the exposure (see ``m01``…``m12``). When
        ``incidents`` is a subset (one category, one area), pass the full load's ``when``
        column, so that a quiet month of the subset counts as zero and not as a gap.
    seed : int
        Seed of the Monte-Carlo test used for small counts (see ``seasonal_p``).

    Returns
    -------
    DataFrame
        One row per group, sorted by group, with columns:

        - the ``by`` columns; ``incidents`` (in the span);
        - ``months_covered`` (months with data in the span), ``years_covered`` (÷ 12);
        - ``m01``…``m12``: mean incidents per year in that calendar month = count ÷ the
          number of times the month is covered by data, so a partial year does not fake a
          peak; ``NaN`` for a calendar month never covered;
        - ``peak_month`` (1–12, earliest on ties; nullable ``Int64``, missing — ``<NA>``,
          empty in CSV — when the group has no incidents);
        - ``peak_season`` (``winter``/``spring``/``summer``/``autumn`` = DJF/MAM/JJA/SON:
          :data:`SEASON_MONTHS`, highest mean of its months' means; ``""`` when no
          incidents);
        - ``seasonal_index_peak``: peak month mean ÷ mean of the monthly means;
        - ``top3_share``: share of the yearly total in the three highest months;
        - ``amplitude``: (highest − lowest monthly mean) ÷ mean monthly mean (0 when flat);
        - ``seasonal_p``: p-value against a flat profile with the expected count of each
          calendar month proportional to its exposure — chi-square when every expected
          count is ≥ 5, else a 9,999-draw Monte-Carlo multinomial test (``seed``); 1 when
          there are no incidents. A strong trend within the span also makes the profile
          uneven; :func:`trend_tests` reports seasonality net of trend;
        - ``dow_rows`` and ``d1``…``d7`` (Mon…Sun counts) from rows of precision ``day`` or
          ``minute`` only; ``hour_rows`` and ``h00``…``h23`` from ``minute`` rows only.
          Counts are ``NaN`` for a group without such rows: monthly police.uk data has no
          days or hours and none are invented;
        - ``peak_day`` (1–7 = Mon…Sun, earliest on ties) and ``peak_hour`` (0–23, earliest on
          ties): the busiest weekday and hour, given from a single such row on, ``NaN``
          without any — whether the peak means anything is what ``day_p``/``hour_p`` say;
        - ``day_p``: p-value of ``d1``…``d7`` against a flat week, each weekday's expected
          count proportional to how many times it occurs in the months with data in the
          span; ``hour_p``: of ``h00``…``h23`` against a flat day. Same test as
          ``seasonal_p`` (chi-square, or Monte-Carlo for small counts); ``NaN`` without rows.

    Examples
    --------
    >>> inc = pd.DataFrame({
    ...     "when": pd.to_datetime(["2024-07-01", "2025-01-01", "2025-07-01",
    ...                             "2025-07-04 22:15"], format="ISO8601"),
    ...     "precision": ["month", "month", "month", "minute"],
    ...     "beat": ["A", "A", "A", "A"]})
    >>> row = seasonal_profiles(inc, by="beat").iloc[0]
    >>> cols = ["months_covered", "m07", "m01", "peak_month", "dow_rows", "d5", "h22"]
    >>> row[cols].astype(float).tolist()
    [3.0, 1.5, 1.0, 7.0, 1.0, 1.0, 1.0]
    >>> row["peak_season"], float(row["m02"])
    ('summer', nan)
    >>> row[["peak_day", "peak_hour", "hour_p"]].astype(float).tolist()  # Friday, 22:00
    [5.0, 22.0, 1.0]
    """
    if "precision" not in incidents.columns:
        raise InputError("incidents has no 'precision' column (month/day/minute)")
    prep = prepare(incidents, by, period, months_with_data)
    counts = np.zeros((prep.n_groups, 12))
    moy = prep.month_of_year()[prep.offset]
    np.add.at(counts, (prep.code, moy), 1)
    exposure = prep.exposure()
    table = prep.groups.copy()
    table["incidents"] = counts.sum(axis=1).astype(np.int64)
    table["months_covered"] = int(prep.has_data.sum())
    table["years_covered"] = prep.has_data.sum() / 12
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(exposure > 0, counts / exposure, np.nan)
    for j, name in enumerate(MONTH_COLUMNS):
        table[name] = means[:, j]
    shape = _shape_columns(means, table["incidents"].to_numpy())
    for name, values in shape.items():
        table[name] = values
    table["seasonal_p"] = profile_p_many(counts, exposure.astype(float), seed=seed)
    for name, values in _precise_columns(prep, seed=seed).items():
        table[name] = values
    return attach_span(table, prep)


def _shape_columns(
    means: np.ndarray, incidents: np.ndarray
) -> dict[str, np.ndarray | pd.arrays.IntegerArray]:
    """Peak month and season, peak index, top-3 share and amplitude from monthly means.

    ``peak_month`` is nullable: missing for a group without incidents, which has no peak.
    """
    n = len(means)
    peak_month = np.zeros(n, np.int64)
    no_peak = np.ones(n, dtype=bool)
    out: dict[str, np.ndarray] = {
        "peak_season": np.full(n, "", dtype=object),
        "seasonal_index_peak": np.full(n, np.nan),
        "top3_share": np.full(n, np.nan),
        "amplitude": np.full(n, np.nan),
    }
    some = incidents > 0
    covered_rows = ~np.isnan(means)
    patterns, which = np.unique(covered_rows, axis=0, return_inverse=True)
    in_season = [SEASON_OF_MONTH == s for s in range(len(SEASONS))]
    for k, covered in enumerate(patterns):  # one pattern: the exposure is the same for all
        rows = np.flatnonzero(some & (which.ravel() == k))
        if len(rows) == 0 or not covered.any():
            continue
        part = means[rows]
        # C order: numpy then sums each row pairwise, exactly as it sums one row alone.
        vals = np.ascontiguousarray(part[:, covered])
        avg = vals.mean(axis=1)
        peak_month[rows] = np.nanargmax(part, axis=1) + 1
        no_peak[rows] = False
        season_means = np.column_stack(
            [
                np.nanmean(part[:, in_s], axis=1)
                if covered[in_s].any()
                else np.full(len(rows), -np.inf)
                for in_s in in_season
            ]
        )
        out["peak_season"][rows] = np.array(SEASONS, dtype=object)[season_means.argmax(axis=1)]
        top, bottom = vals.max(axis=1), vals.min(axis=1)
        out["seasonal_index_peak"][rows] = top / avg
        out["top3_share"][rows] = np.sort(vals, axis=1)[:, -3:].sum(axis=1) / vals.sum(axis=1)
        out["amplitude"][rows] = (top - bottom) / avg
    return {"peak_month": pd.arrays.IntegerArray(peak_month, mask=no_peak), **out}


def _precise_columns(prep: Prepared, *, seed: int) -> dict[str, np.ndarray]:
    """Day-of-week and hour counts, peaks and flatness p-values (see seasonal_profiles)."""
    precision = prep.rows["precision"].astype(object).to_numpy()
    unknown = sorted({str(p) for p in precision} - set(PRECISIONS))
    if unknown:
        raise InputError(
            f"incidents['precision'] has value(s) {unknown}; expected one of {list(PRECISIONS)}"
        )
    when = prep.rows["when"]
    # A month has four or five of each weekday: the flat week is weighted by how often each
    # weekday is covered by the dated rows (not by month-only rows' months).
    dated = precision != "month"
    exposure = weekday_exposure(when[dated])
    day = _cycle(prep, dated, when.dt.day_of_week, exposure, seed)
    hour = _cycle(prep, precision == "minute", when.dt.hour, np.ones(24), seed)
    return {  # counts first, as before peaks were added; then the peaks and their tests
        "dow_rows": day[0],
        **{name: day[3][:, j] for j, name in enumerate(DOW_COLUMNS)},
        "hour_rows": hour[0],
        **{name: hour[3][:, j] for j, name in enumerate(HOUR_COLUMNS)},
        "peak_day": day[1] + 1,  # Monday = 1
        "day_p": day[2],
        "peak_hour": hour[1],
        "hour_p": hour[2],
    }


def _cycle(
    prep: Prepared, use: np.ndarray, part: pd.Series, weights: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows used, peak (0-based, earliest on ties), p-value and counts per group.

    Peak, p and counts are ``NaN`` for groups without rows used.
    """
    k = len(weights)
    flat = np.bincount(
        prep.code[use] * k + part.to_numpy(np.int64)[use], minlength=prep.n_groups * k
    )
    counts = flat.reshape(prep.n_groups, k).astype(float)
    rows = counts.sum(axis=1)
    some = rows > 0
    peak = np.full(prep.n_groups, np.nan)
    p = np.full(prep.n_groups, np.nan)
    peak[some] = counts[some].argmax(axis=1)
    p[some] = profile_p_many(counts[some], weights.astype(float), seed=seed)
    counts[~some] = np.nan
    return rows.astype(np.int64), peak, p, counts
