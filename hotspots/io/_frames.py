"""Memory-lean table helpers: text as categoricals, work once per distinct value.

Police exports repeat the same few thousand strings (months, crime types, snap-point
coordinates, LSOAs) over millions of rows; held as categoricals they take a few MB where
plain text takes GBs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

#: Rows looked at to decide whether a text column repeats enough to be a categorical.
COMPACT_SAMPLE_ROWS = 100_000


def map_distinct(values: pd.Series, func: Callable[[pd.Series], object]) -> pd.Series:
    """``func`` applied once to each distinct value of ``values``, spread back over the rows.

    Months, categories and police.uk snap-point coordinates repeat over millions of rows:
    parsing the distinct values only is faster and holds their memory only. ``func`` takes
    and returns a Series (or array) of the distinct values; a text result comes back as a
    categorical, any other as a plain column.

    Examples
    --------
    >>> map_distinct(pd.Series(["a", "b", "a"]), lambda s: s.str.upper()).tolist()
    ['A', 'B', 'A']
    >>> map_distinct(pd.Series(["1", "x", "1"]), lambda s: pd.to_numeric(s, errors="coerce"))
    0    1.0
    1    NaN
    2    1.0
    dtype: float64
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    result = func(pd.Series(np.asarray(uniques, dtype=object)))
    result = result.to_numpy() if isinstance(result, pd.Series) else np.asarray(result)
    if result.dtype == object:
        rcodes, runiques = pd.factorize(result)
        spread = pd.Categorical.from_codes(rcodes[codes], runiques.astype(str))
        return pd.Series(spread, index=values.index)
    return pd.Series(result[codes], index=values.index)


def compact_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn repetitive text columns into categoricals (in place; returns ``frame``).

    A column is converted when fewer than half of the values in its first
    :data:`COMPACT_SAMPLE_ROWS` rows are distinct (:func:`repetitive_text_columns`):
    months, crime types, locations and LSOAs are, ids are not. Deciding on a sample keeps
    the check from hashing millions of ids.

    Examples
    --------
    >>> f = compact_text(pd.DataFrame({"id": ["a", "b", "c"], "month": ["m", "m", "m"]}))
    >>> f.dtypes.astype(str).tolist()
    ['str', 'category']
    """
    for col in repetitive_text_columns(frame):
        frame[col] = as_categorical(frame[col])
    return frame


def repetitive_text_columns(frame: pd.DataFrame) -> list[str]:
    """The text columns :func:`compact_text` turns into categoricals, in column order.

    Examples
    --------
    >>> frame = pd.DataFrame({"id": ["a", "b", "c"], "m": ["x", "x", "x"], "n": [1, 1, 1]})
    >>> repetitive_text_columns(frame)
    ['m']
    """
    chosen = []
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_string_dtype(
            values
        ):
            continue
        sample = values.iloc[:COMPACT_SAMPLE_ROWS]
        if sample.nunique() < 0.5 * len(sample):
            chosen.append(col)
    return chosen


#: Rows of consecutive files whose text :class:`CompactFiles` holds before converting it.
COMPACT_RUN_ROWS = 200_000


class CompactFiles:
    """Files' tables with each file's repetitive text as categoricals, converted in runs.

    The result equals :func:`compact_text` applied to each file then
    :func:`concat_categorical` of them: every file decides which of its columns to convert
    from its own rows, as alone. Converting consecutive files with the same columns and the
    same decision together (up to :data:`COMPACT_RUN_ROWS` rows, so memory stays bounded)
    hashes each value once per run rather than once per file: monthly exports repeat the
    same months, crime types and snap points.

    Examples
    --------
    >>> files = CompactFiles()
    >>> files.add(pd.DataFrame({"id": ["a", "b", "c"], "m": ["x", "x", "x"]}))
    >>> files.add(pd.DataFrame({"id": ["d", "e", "f"], "m": ["y", "x", "y"]}))
    >>> table = files.table()
    >>> table["m"].cat.categories.tolist(), table["id"].tolist()
    (['x', 'y'], ['a', 'b', 'c', 'd', 'e', 'f'])
    """

    def __init__(self, max_rows: int = COMPACT_RUN_ROWS) -> None:
        self.max_rows = max_rows
        self.rows: list[int] = []  # each file's rows, in the order added
        self._runs: list[pd.DataFrame] = []  # converted runs
        self._run_files: list[list[int]] = []  # the rows of each run's files
        self._pending: list[pd.DataFrame] = []  # files read, their text not yet converted
        self._key: tuple[object, ...] = ()  # the pending files' columns, types and decision
        self._convert: list[str] = []  # the pending files' columns to convert
        self._layouts: set[tuple[object, ...]] = set()

    def add(self, frame: pd.DataFrame) -> None:
        """Take one file's table (text columns as read); it is converted with its run."""
        layout = (tuple(frame.columns), tuple(map(str, frame.dtypes)))
        convert = repetitive_text_columns(frame)
        key = (*layout, tuple(convert))
        pending_rows = sum(len(f) for f in self._pending)
        if self._pending and (key != self._key or pending_rows + len(frame) > self.max_rows):
            self._convert_pending()
        self._pending.append(frame)
        self._key, self._convert = key, convert
        self._layouts.add(layout)
        self.rows.append(len(frame))

    def table(self) -> pd.DataFrame:
        """Every file's rows as one table (a fresh 0..n-1 index)."""
        self._convert_pending()
        if len(self._layouts) > 1:
            # Files with different columns: pandas types a column that some files lack
            # from each file's categories, so hand it the files one by one, as converted alone.
            return concat_categorical(self._by_file(), ignore_index=True)
        return concat_categorical(self._runs, ignore_index=True)

    def _convert_pending(self) -> None:
        if not self._pending:
            return
        frames, self._pending = self._pending, []
        run = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        for col in self._convert:
            run[col] = as_categorical(run[col])
        self._runs.append(run)
        self._run_files.append([len(f) for f in frames])

    def _by_file(self) -> list[pd.DataFrame]:
        """Each file's rows again, its categoricals holding only its own values in order
        of appearance (as :func:`as_categorical` of the file's text gives them)."""
        files = []
        for run, sizes in zip(self._runs, self._run_files, strict=True):
            for start, stop in zip(np.cumsum([0, *sizes[:-1]]), np.cumsum(sizes), strict=True):
                part = run.iloc[start:stop].reset_index(drop=True)
                for col in part.columns:
                    if isinstance(part[col].dtype, pd.CategoricalDtype):
                        codes, used = pd.factorize(part[col].cat.codes.to_numpy())
                        categories = part[col].cat.categories.take(used)
                        part[col] = pd.Categorical.from_codes(codes, categories)
                files.append(part)
        return files


def as_categorical(values: pd.Series | pd.api.extensions.ExtensionArray) -> pd.Categorical:
    """``values`` as a categorical, categories in order of appearance.

    Factorizing is several times faster than ``astype("category")`` on Arrow-backed text.
    """
    if isinstance(getattr(values, "dtype", None), pd.CategoricalDtype):
        return pd.Categorical(values)
    codes, uniques = pd.factorize(values)
    return pd.Categorical.from_codes(codes, pd.Index(uniques))


def sorted_categorical(values: pd.Series) -> pd.Series:
    """``values`` as a categorical whose categories are the used values in text order.

    Sorting or grouping by it then orders rows as the text would, and ``value_counts``
    lists no value that no row has.

    Examples
    --------
    >>> s = sorted_categorical(pd.Series(pd.Categorical(["b", "a"], categories=["z", "b", "a"])))
    >>> s.cat.categories.tolist(), s.sort_values().tolist()
    (['a', 'b'], ['a', 'b'])
    """
    values = values.astype("category")
    categorical = values.array
    # The used categories from a count of each code (the -1 of a missing value shifted to
    # 0): ``remove_unused_categories`` finds them by sorting every row's code.
    n_categories = len(categorical.categories)
    used = np.flatnonzero(np.bincount(categorical.codes + 1, minlength=n_categories + 1)[1:])
    if len(used) < n_categories:
        new_code = np.full(n_categories + 1, -1, dtype=np.int64)
        new_code[used + 1] = np.arange(len(used))
        categorical = pd.Categorical.from_codes(
            new_code[categorical.codes + 1],
            categorical.categories.take(used),
            ordered=categorical.ordered,
        )
        values = pd.Series(categorical, index=values.index, name=values.name)
    return values.cat.reorder_categories(sorted(values.cat.categories))


def mode_per_group(
    groups: pd.Series | np.ndarray,
    values: pd.Series | np.ndarray,
    *,
    weights: pd.Series | np.ndarray | None = None,
) -> pd.Series:
    """The most frequent value of ``values`` within each group (ties: the lowest value).

    The one rule for "the value most of a group's rows have": a location's text and areas,
    a hotspot's majority beat, an LSOA's district, a beat's NPA (by overlap area). Rows
    whose group or value is missing are left out. With ``weights``, the value with the
    largest total weight wins instead of the most rows. "Lowest" is the values' sort order
    (a categorical's category order), so the result never depends on row order.

    Parameters
    ----------
    groups, values
        One group key and one value per row (Series are taken by position).
    weights
        Optional weight per row (e.g. overlap area in m²).

    Returns
    -------
    pandas.Series
        Indexed by the groups that have a value, sorted; the winning value of each, in the
        dtype of ``values``.

    Examples
    --------
    >>> mode_per_group([1, 1, 1, 2, 2], ["b", "a", "b", "x", "w"]).to_dict()
    {1: 'b', 2: 'w'}
    >>> mode_per_group(["A", "A"], ["p", "q"], weights=[1.0, 3.0]).to_dict()
    {'A': 'q'}
    """
    frame = pd.DataFrame(
        {
            "group": _by_position(groups),
            "value": _by_position(values),
            "n": 1 if weights is None else _by_position(weights),
        }
    ).dropna(subset=["group", "value"])
    totals = frame.groupby(["group", "value"], sort=False, observed=True)["n"].sum()
    ranked = totals.reset_index().sort_values(
        ["group", "n", "value"], ascending=[True, False, True], kind="stable"
    )
    best = ranked.drop_duplicates("group").set_index("group")["value"]
    return best.rename_axis(None).rename(None)


def _by_position(column: pd.Series | np.ndarray) -> pd.Series:
    """A column as a Series with a fresh 0..n-1 index (its dtype kept, e.g. categorical)."""
    return pd.Series(column).reset_index(drop=True)


def concat_categorical(
    frames: Sequence[pd.DataFrame], *, ignore_index: bool = False
) -> pd.DataFrame:
    """``pd.concat`` that keeps categorical columns categorical.

    pandas turns categoricals with different categories (or a categorical beside a text
    column) into plain object columns when concatenating; giving each the union of the
    categories first keeps them as codes.
    """
    if len(frames) == 1:
        return frames[0].reset_index(drop=True) if ignore_index else frames[0]
    shared = set.intersection(*(set(f.columns) for f in frames))
    joined = {}
    for col in shared:
        if any(isinstance(f[col].dtype, pd.CategoricalDtype) for f in frames):
            parts = [as_categorical(f[col]) for f in frames]
            union = pd.Index(np.concatenate([p.categories.to_numpy(object) for p in parts]))
            union = union.unique()
            codes = np.concatenate([p.set_categories(union).codes for p in parts])
            joined[col] = pd.Categorical.from_codes(codes, union)
    table = pd.concat([f.drop(columns=list(joined)) for f in frames], ignore_index=ignore_index)
    for col, values in joined.items():
        table[col] = values
    return table[
        [c for c in frames[0].columns if c in table.columns]
        + [c for c in table.columns if c not in frames[0].columns]
    ]
