"""Disclosure control under ``min_count``: what every published output shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import geopandas as gpd
import numpy as np
import pandas as pd

from hotspots.density import QUARTIC_PER_GAUSSIAN, DensitySurface
from hotspots.grid import bin_counts
from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, MONTH_COLUMNS


def suppress_small(values: pd.Series, k: int) -> pd.Series:
    """Disclosure control: counts between 1 and k-1 become NaN (shown as suppressed)."""
    if k <= 1:
        return values
    return values.where((values == 0) | (values >= k))


#: Counts per area, hotspot or place (of incidents, or of repeat callers): under
#: ``min_count`` k each is blanked on its own where it is 1 to k-1.
SMALL_COUNT_COLUMNS = (
    "incidents",
    "dow_rows",
    *DOW_COLUMNS,
    "hour_rows",
    *HOUR_COLUMNS,
    "repeat_caller_incidents",
    "repeat_callers",
    "incidents_from_repeat_callers",
    "max_in_window",
)
#: Blanked with a small count: they read back to it (monthly means, rates, density, share,
#: score, category shares, the sparkline's month values) or describe only those incidents.
BLANKED_WITH = {
    "incidents": (
        *MONTH_COLUMNS,
        "peak_month",
        "seasonal_p",
        "trend_slope_per_year",
        "trend_p",
        "spark_svg",
        "rate_per_1000",
        "rate_low",
        "rate_high",
        "p_vs_overall",
        "score",
        "density_km2",
        "share",
        "cumulative_incident_share",
        "top_categories",
        "harm",
        "incident_share",
        "incidents_per_ha",
        "top_point_share",
        "persistence",
    ),
    "dow_rows": ("peak_day", "day_p"),
    "hour_rows": ("peak_hour", "hour_p"),
}
#: Totals and their parts (days of ``dow_rows``, hours of ``hour_rows``): a part blanked
#: alone would be the total minus the parts shown.
PARTS_OF = {"dow_rows": DOW_COLUMNS, "hour_rows": HOUR_COLUMNS}


def disclosure_control(
    table: pd.DataFrame,
    k: int,
    *,
    month_counts: np.ndarray | None = None,
    hide: pd.Series | None = None,
) -> pd.DataFrame:
    """A table as published under ``min_count`` k (areas, hotspots, patrol list, places).

    With k > 1: each count in :data:`SMALL_COUNT_COLUMNS` from 1 to k-1 is blanked (0 stays:
    it discloses no incident); where a row's ``incidents``, ``dow_rows`` or ``hour_rows`` is
    blanked, so are the columns :data:`BLANKED_WITH` lists for it; where a day (or hour) of
    a shown ``dow_rows`` (``hour_rows``) is blanked, more of that row's days (hours) are
    blanked, smallest first, until its blanks cannot be worked out from the total and the
    days shown (see :func:`_complementary`); rows that are one place (repeat locations,
    ``incidents_total``) are dropped below k. With k <= 1 the table itself is returned.

    Parameters
    ----------
    table
        The table as computed.
    k
        ``min_count``.
    month_counts
        Incidents of each row in each calendar month (rows × 12): ``m01``…``m12`` are
        means per year, so each times its years of data is that count. Given, each month
        whose count is 1 to k-1 is blanked, with more months of the row as for days;
        without it the months are blanked only with ``incidents``.
    hide
        Rows whose ``incidents`` is blanked whatever its size (chosen by
        :func:`cross_layer_hidden` so that a parent's total minus its children shown does
        not give a child's count).

    Examples
    --------
    >>> t = pd.DataFrame({"incidents": [0, 3, 17], "score": [0, 3, 17], "dow_rows": [0, 3, 17],
    ...     "peak_day": [None, 5, 1], "d1": [0, 0, 9], "d2": [0, 1, 2], "d3": [0, 2, 6]})
    >>> disclosure_control(t, 5)  # d3 = 6 goes with d2 = 2: else d2 = 17 - 9 - 6
       incidents  score  dow_rows  peak_day  d1   d2   d3
    0        0.0    0.0       0.0       NaN   0  0.0  0.0
    1        NaN    NaN       NaN       NaN   0  NaN  NaN
    2       17.0   17.0      17.0       1.0   9  NaN  NaN
    >>> disclosure_control(t, 1) is t
    True
    """
    if k <= 1:
        return table
    small = {
        c: _small(pd.to_numeric(table[c], errors="coerce"), k)
        for c in SMALL_COUNT_COLUMNS
        if c in table.columns
    }
    if hide is not None and "incidents" in small:
        small["incidents"] = small["incidents"] | hide.reindex(table.index, fill_value=False)
    parts = {
        total: (cols, table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(float))
        for total, names in PARTS_OF.items()
        if (cols := [c for c in names if c in table.columns])
    }
    months = [c for c in MONTH_COLUMNS if c in table.columns]
    if month_counts is not None and len(months) == len(MONTH_COLUMNS):
        counts = np.asarray(month_counts, dtype=float)
        parts["incidents"] = (months, counts)
        small.update(
            {c: _small(pd.Series(counts[:, j], table.index), k) for j, c in enumerate(months)}
        )
    out = table.copy()
    for total, (cols, values) in parts.items():
        if total in small:
            hidden = _complementary(
                values,
                np.column_stack([small[c].to_numpy(bool) for c in cols]),
                total_shown=(~small[total]).to_numpy(bool),
            )
            small.update({c: pd.Series(hidden[:, j], table.index) for j, c in enumerate(cols)})
    for c, hidden_rows in small.items():
        out[c] = out[c].where(~hidden_rows)
    for key, blanked in BLANKED_WITH.items():
        if key in small:
            for c in (c for c in blanked if c in out.columns):
                out[c] = out[c].where(~small[key], "" if c == "spark_svg" else np.nan)
    if "spark_svg" in out.columns:  # its bars are titled with each month's exact count
        out["spark_svg"] = ""
    if "incidents_total" in out.columns:  # a repeat location: its count is the row
        out = out[~_small(pd.to_numeric(out["incidents_total"], errors="coerce"), k)]
    return out


def _small(values: pd.Series, k: int) -> pd.Series:
    """True where a count is between 1 and k-1 (False for 0, k or more, and missing)."""
    return values.notna() & suppress_small(values, k).isna()


def _complementary(
    values: np.ndarray, hidden: np.ndarray, *, total_shown: np.ndarray
) -> np.ndarray:
    """``hidden`` (rows × parts) with more parts hidden in each row whose total is shown,
    the smallest shown first (non-zero before zero; the first on ties), until the row's
    hidden parts cannot be worked out: at least two, and not all 1 (two or more 1s that
    sum to the total minus the parts shown are each 1).

    Examples
    --------
    >>> values = np.array([[9, 2, 6, 0], [1, 0, 1, 8], [1, 1, 1, 1]], dtype=float)
    >>> hidden = values == 2
    >>> hidden[1:] = values[1:] == 1
    >>> _complementary(values, hidden, total_shown=np.array([True, True, False])).astype(int)
    array([[0, 1, 1, 0],
           [1, 0, 1, 1],
           [1, 1, 1, 1]])
    """
    hidden = hidden.copy()
    for i in np.flatnonzero(total_shown & hidden.any(axis=1)):
        row, hid = values[i], hidden[i]  # hid is a view: setting it hides in ``hidden``
        for j in np.lexsort((row, row == 0)):  # smallest first, zeros last
            if hid.sum() >= 2 and not (row[hid] == 1).all():
                break
            hid[j] = True
    return hidden


def cross_layer_hidden(
    areas: Mapping[str, pd.DataFrame], incidents: pd.DataFrame, k: int
) -> dict[str, pd.Series]:
    """Rows of each area table whose ``incidents`` must be blanked so that no blanked count
    is a parent's count minus its children shown.

    A child area *nests* in a parent area when all its incidents are in that parent (an
    NPA's beats; a district's LSOAs); every area nests in the whole (the run's row count is
    published in run.json). For each shown parent, its nested children and the rest of it
    (its incidents in no nested child, unknown unless 0) are its parts; where its hidden
    parts could be worked out from its total and the parts shown (one hidden part, or only
    1s), more children are blanked, smallest first (:func:`_complementary`). Repeated
    until nothing changes, since a child blanked for one parent can expose another.

    Parameters
    ----------
    areas
        Layer → area table (``name``, ``incidents``), as computed.
    incidents
        The run's incidents, with one column per layer naming each row's area ("" none).
    k
        ``min_count``.

    Returns
    -------
    dict
        Layer → boolean Series on its table's index (True: blank it), including the
        counts from 1 to k-1 themselves.

    Examples
    --------
    Beat B1 (3 incidents) is blanked; NPA N (20) minus B2 (17) would give it, so B2 goes too:

    >>> inc = pd.DataFrame({"beat": ["B1"] * 3 + ["B2"] * 17, "npa": ["N"] * 20})
    >>> areas = {"beat": pd.DataFrame({"name": ["B1", "B2"], "incidents": [3, 17]}),
    ...          "npa": pd.DataFrame({"name": ["N"], "incidents": [20]})}
    >>> {k: v.tolist() for k, v in cross_layer_hidden(areas, inc, 5).items()}
    {'beat': [True, True], 'npa': [False]}
    """
    counts = {n: pd.to_numeric(t["incidents"], errors="coerce") for n, t in areas.items()}
    hidden = {n: _small(c, k) for n, c in counts.items()}
    if k <= 1:
        return hidden
    relations = [
        (child, parent, _nesting(incidents, child, parent))
        for child in areas
        for parent in (*areas, None)  # the whole last: fewest extra blanks
        if parent != child
        and child in incidents.columns
        and (parent is None or parent in incidents.columns)
    ]
    for _ in range(100):  # each pass only adds blanks: it ends long before
        changed = False
        for child, parent, nest in relations:
            t = areas[child]
            where = pd.Series(t.index, index=t["name"].astype(str))
            for p, names in nest.items():
                if parent is not None and _parent_hidden(areas[parent], hidden[parent], p):
                    continue
                rows = where.reindex([n for n in names if n in where.index]).to_numpy()
                values = counts[child].loc[rows].to_numpy(float)
                rest = float(_parent_total(incidents, parent, p) - np.nansum(values))
                part_values = np.append(values, rest)[None, :]
                part_hidden = np.append(hidden[child].loc[rows].to_numpy(bool), rest > 0)
                if not part_hidden[:-1].any():
                    continue
                new = _complementary(
                    part_values, part_hidden[None, :], total_shown=np.ones(1, bool)
                )
                add = new[0, :-1] & ~part_hidden[:-1]
                if add.any():
                    hidden[child].loc[rows[add]] = True
                    changed = True
        if not changed:
            break
    return hidden


def _nesting(incidents: pd.DataFrame, child: str, parent: str | None) -> dict[str, list[str]]:
    """Parent area → the child areas all of whose incidents are in it (``None``: the whole)."""
    inside = incidents.loc[
        incidents[child].astype(str) != "", [child] + ([parent] if parent else [])
    ]
    if parent is None:
        return {"": sorted(inside[child].astype(str).unique())}
    pairs = inside.astype(str).drop_duplicates()
    one = pairs.groupby(child)[parent].agg(["size", "first"])
    one = one.loc[(one["size"] == 1) & (one["first"] != "")]
    return {p: sorted(g.index) for p, g in one.groupby("first")}


def _parent_total(incidents: pd.DataFrame, parent: str | None, name: str) -> int:
    return len(incidents) if parent is None else int((incidents[parent].astype(str) == name).sum())


def _parent_hidden(table: pd.DataFrame, hidden: pd.Series, name: str) -> bool:
    return bool(hidden[table["name"].astype(str) == name].any())


def month_counts(table: pd.DataFrame, incidents: pd.DataFrame, layer: str) -> np.ndarray:
    """Each area's incidents in each calendar month (rows of ``table`` × 12)."""
    month = incidents["when"].dt.month
    grid = pd.crosstab(incidents[layer].astype(str), month)
    grid = grid.reindex(index=table["name"].astype(str), columns=range(1, 13), fill_value=0)
    return grid.fillna(0).to_numpy(float)


def published_surface(
    surface: DensitySurface, x: np.ndarray, y: np.ndarray, k: int
) -> DensitySurface:
    """The density surface as published under ``min_count`` k: withheld where it rests on
    fewer than k incidents, rounded elsewhere.

    A cell's value depends only on the incidents within the kernel's reach of its centre
    (the quartic radius; for the Gaussian, the quartic radius it is equivalent to,
    :data:`~hotspots.density.QUARTIC_PER_GAUSSIAN` σ). Incidents are counted in the cells
    lying wholly within that reach (so never more than are there): where fewer than k, the
    cell is withheld (NaN, the GeoTIFF's nodata). Every other value is rounded to the
    nearest multiple of the density of k incidents spread over the kernel's disc, so the
    surface summed over an area does not give back its count. With k <= 1 the surface
    itself is returned.

    Examples
    --------
    >>> from hotspots.density import kde_surface
    >>> xs, ys = np.r_[np.full(9, 500.0), 2500.0], np.full(10, 500.0)  # 9 here, 1 there
    >>> s = kde_surface(np.c_[xs, ys], cell_size_m=100, bandwidth_m=300)
    >>> pub = published_surface(s, xs, ys, 5)
    >>> (r, c, _), (r1, c1, _) = s.grid.cell_of(xs[:1], ys[:1]), s.grid.cell_of(xs[-1:], ys[-1:])
    >>> bool(pub.values[r[0], c[0]] > 0), bool(np.isnan(pub.values[r1[0], c1[0]]))
    (True, True)
    """
    if k <= 1:
        return surface
    from scipy.signal import fftconvolve

    reach_m = surface.bandwidth_m * (1.0 if surface.kernel == "quartic" else QUARTIC_PER_GAUSSIAN)
    cell = surface.grid.cell_size_m
    n = int(reach_m // cell) + 1
    offsets = np.arange(-n, n + 1) * cell
    # a cell lies wholly within the reach when its farthest corner does
    far = np.hypot(np.abs(offsets)[:, None] + cell / 2, np.abs(offsets)[None, :] + cell / 2)
    disc = (far <= reach_m).astype(float)
    counts = bin_counts(surface.grid, np.asarray(x, float), np.asarray(y, float))
    support = np.rint(fftconvolve(counts, disc, mode="same")) if disc.any() else counts
    step = k / (np.pi * (reach_m / 1000.0) ** 2)  # incidents per km²
    with np.errstate(invalid="ignore"):
        values = np.where(support >= k, np.round(surface.values / step) * step, np.nan)
    return replace(surface, values=values)


#: GeoTIFF tags left out under ``min_count``: the incident total is a count of its own.
WITHHELD_TAGS = ("n_points", "total_weight")


@dataclass(frozen=True)
class Published:
    """A run's tables and surface as every output shows them, under its ``min_count``: the
    tables through :func:`disclosure_control` (with :func:`cross_layer_hidden` and each
    area's monthly counts), the surface through :func:`published_surface` (all as computed
    when it is 1 or less)."""

    hotspots: gpd.GeoDataFrame
    areas: dict[str, gpd.GeoDataFrame]
    patrol: pd.DataFrame
    repeats: pd.DataFrame
    seasonal_hotspots: dict[str, gpd.GeoDataFrame]
    surface: DensitySurface
    min_count: int

    def surface_tags(self) -> dict:
        """The GeoTIFF's tags: the surface's parameters, less :data:`WITHHELD_TAGS` under
        disclosure control, with the rule applied."""
        tags = self.surface.params()
        if self.min_count > 1:
            for name in WITHHELD_TAGS:
                tags.pop(name, None)
            tags["disclosure"] = (
                f"min_count {self.min_count}: withheld where under {self.min_count} "
                "incidents are within the kernel's reach; rounded elsewhere"
            )
        return tags


def published(result) -> Published:
    """The run's outputs as published (see :class:`Published`)."""
    a, k = result.analysis, result.config.output.min_count
    inc = result.prepared.incidents
    if k <= 1:
        areas = dict(a.areas)
    else:
        extra = cross_layer_hidden(a.areas, inc, k)
        areas = {
            name: disclosure_control(
                t, k, month_counts=month_counts(t, inc, name), hide=extra[name]
            )
            for name, t in a.areas.items()
        }
    return Published(
        hotspots=disclosure_control(a.hotspots, k),
        areas=areas,
        patrol=disclosure_control(a.patrol, k),
        repeats=disclosure_control(a.repeats, k),
        seasonal_hotspots={n: disclosure_control(t, k) for n, t in a.seasonal_hotspots.items()},
        surface=published_surface(a.surface, inc["x"].to_numpy(), inc["y"].to_numpy(), k),
        min_count=k,
    )
