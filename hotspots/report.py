"""Static report figures as PNG bytes: a printable hotspot map, a funnel plot and the
evaluation curves.

All draw results already computed (the funnel plot's control limits come from
:func:`hotspots.rates.funnel_limits`, the same test that marks areas "above" or "below"
on the map). Figures are made with matplotlib's object API on the Agg canvas, so no
window or global pyplot state is involved, and PNG metadata is left out so the same
inputs give the same bytes.
"""

from __future__ import annotations

import io
import math
import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

from hotspots._validation import require_metric_crs
from hotspots.grid import Grid
from hotspots.rates import FUNNEL_LEVELS, funnel_limits
from hotspots.schema import InputError

HOTSPOT_LINE = "#7a0019"
#: Hotspots labelled with their rank on the static map.
LABELLED_RANKS = 30
#: Colour-scale top: this percentile of positive densities (as on the interactive map).
_TOP_PERCENTILE = 99.5
#: Line styles of the evaluation curves, in method order.
_DASHES = ("-", "--", ":", "-.")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def nice_length(span_m: float) -> float:
    """A 1, 2 or 5 × 10^k metre length near a fifth of ``span_m`` (for the scale bar).

    Examples
    --------
    >>> nice_length(23_000), nice_length(1_400), nice_length(800)
    (2000.0, 200.0, 100.0)
    """
    raw = max(span_m, 1.0) / 5.0
    exp = 10.0 ** math.floor(math.log10(raw))
    return max(step * exp for step in (1.0, 2.0, 5.0) if step * exp <= raw)


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _draw_density(ax, fig: Figure, density: np.ndarray, grid: Grid) -> None:
    arr = np.asarray(density, dtype=float)
    if arr.shape != grid.shape:
        raise InputError(f"density has shape {arr.shape} but density_grid is {grid.shape}")
    positive = arr[np.isfinite(arr) & (arr > 0)]
    if positive.size == 0:
        return
    vmax = float(np.percentile(positive, _TOP_PERCENTILE))
    # Near-zero density is left clear so the boundaries stay readable.
    shown = np.ma.masked_where(~np.isfinite(arr) | (arr < 0.02 * vmax), arr)
    cmap = colormaps["YlOrRd"].with_extremes(bad=(0, 0, 0, 0))
    image = ax.imshow(
        shown,
        cmap=cmap,
        vmin=0,
        vmax=vmax,
        alpha=0.85,
        interpolation="nearest",
        extent=(grid.xmin, grid.xmax, grid.ymin, grid.ymax),
        origin="upper",
        zorder=1,
    )
    bar = fig.colorbar(
        image, ax=ax, shrink=0.6, pad=0.02, extend="max" if positive.max() > vmax else "neither"
    )
    bar.set_label("Density, incidents per km²")


def static_map_png(
    *,
    hotspots: gpd.GeoDataFrame,
    areas_layer: gpd.GeoDataFrame,
    density: np.ndarray | None = None,
    density_grid: Grid | None = None,
    title: str,
    attribution: str,
) -> bytes:
    """A printable map (PNG bytes): density, numbered hotspot outlines and area boundaries.

    With a scale bar in km, a (grid) north arrow, a legend and the attribution text.
    Everything is drawn in EPSG:27700, whose grid north is within a degree of true north
    across Leicestershire.

    Parameters
    ----------
    hotspots
        Hotspot polygons with ``rank`` (1 = top); the top 30 are numbered.
    areas_layer
        One area layer (e.g. beats) drawn as boundaries; ``name`` labels up to 40 areas.
    density, density_grid
        Optional density surface (incidents per km², row 0 northmost) and its grid.

    Examples
    --------
    >>> import shapely
    >>> hot = gpd.GeoDataFrame({"rank": [1]}, geometry=[shapely.box(0, 0, 300, 300)],
    ...                        crs=27700)
    >>> area = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.box(-1000, -1000, 2000, 2000)],
    ...                         crs=27700)
    >>> static_map_png(hotspots=hot, areas_layer=area, title="T", attribution="x")[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    for frame, what in ((hotspots, "hotspots"), (areas_layer, "areas_layer")):
        if not isinstance(frame, gpd.GeoDataFrame):
            raise InputError(f"{what} must be a GeoDataFrame, got {type(frame).__name__}")
        require_metric_crs(frame.crs, what)
    if "rank" not in hotspots.columns:
        raise InputError(f"hotspots lacks column 'rank'; it has {list(hotspots.columns)}")
    if (density is None) != (density_grid is None):
        raise InputError("density and density_grid must be given together")

    extent_src = areas_layer if len(areas_layer) else hotspots
    if len(extent_src) == 0:
        raise InputError("nothing to map: hotspots and areas_layer are both empty")
    x0, y0, x1, y1 = extent_src.total_bounds
    aspect = (y1 - y0) / max(x1 - x0, 1.0)
    fig = Figure(figsize=(10, min(max(8 * aspect, 4), 14) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    pad = 0.02 * max(x1 - x0, y1 - y0, 100.0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.add_patch(
        Rectangle(
            (0, 0), 1, 1, transform=ax.transAxes, facecolor="#f4f4f0", edgecolor="#333333", zorder=0
        )
    )

    if density is not None and density_grid is not None:  # both or neither: checked above
        _draw_density(ax, fig, density, density_grid)
    if len(areas_layer):
        areas_layer.boundary.plot(ax=ax, color="#555555", linewidth=0.7, zorder=2)
        if "name" in areas_layer.columns and len(areas_layer) <= 40:
            pts = areas_layer.geometry.representative_point()
            for p, name in zip(pts, areas_layer["name"], strict=True):
                ax.annotate(
                    str(name),
                    (p.x, p.y),
                    fontsize=6,
                    color="#333333",
                    ha="center",
                    va="center",
                    zorder=3,
                )
    if len(hotspots):
        hotspots.boundary.plot(ax=ax, color=HOTSPOT_LINE, linewidth=1.4, zorder=4)
        top = hotspots[hotspots["rank"] <= LABELLED_RANKS].sort_values("rank")
        for p, rank in zip(top.geometry.representative_point(), top["rank"], strict=True):
            ax.annotate(
                str(int(rank)),
                (p.x, p.y),
                fontsize=7,
                color="white",
                fontweight="bold",
                ha="center",
                va="center",
                zorder=5,
                bbox={"boxstyle": "circle,pad=0.25", "fc": HOTSPOT_LINE, "ec": "white"},
            )

    length = nice_length(x1 - x0)
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            length,
            _length_text(length),
            "lower left",
            pad=0.5,
            frameon=True,
            size_vertical=length / 25,
        )
    )
    ax.annotate(
        "N",
        xy=(0.95, 0.96),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=12,
        fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12},
    )
    handles = [
        Patch(
            facecolor="none",
            edgecolor=HOTSPOT_LINE,
            linewidth=1.4,
            label="Hotspot (number = priority rank)",
        ),
        Line2D([], [], color="#555555", linewidth=0.7, label="Area boundary"),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
    ax.set_title(title)
    fig.text(
        0.01, 0.01, attribution, fontsize=7, color="#444444", ha="left", va="bottom", wrap=True
    )
    return _png(fig)


#: Funnel plots name at most this many areas (the most extreme beyond 99.8%).
MAX_FUNNEL_LABELS = 12


def funnel_plot_png(
    areas: pd.DataFrame,
    *,
    overall_rate_per_1000: float,
    title: str,
) -> bytes:
    """Funnel plot (PNG bytes): rate per 1,000 residents against residents.

    Exact Poisson control limits at 95% and 99.8% around the overall rate show how far
    an area's rate can stray by chance alone for its population; areas outside the
    99.8% limits are named.

    Parameters
    ----------
    areas
        ``name``, ``incidents`` and ``residents`` per area; areas without residents, and
        areas whose count is missing (blanked as a small count), are left out and counted in
        a note.
    overall_rate_per_1000
        The force-wide rate the limits are drawn around.

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["A", "B", "C"], "incidents": [50, 12, 30],
    ...                   "residents": [1000, 1500, 3000]})
    >>> funnel_plot_png(t, overall_rate_per_1000=10.0, title="ASB")[:4]
    b'\\x89PNG'
    """
    if not isinstance(areas, pd.DataFrame):
        raise InputError(f"areas must be a DataFrame, got {type(areas).__name__}")
    absent = [c for c in ("name", "incidents", "residents") if c not in areas.columns]
    if absent:
        raise InputError(f"areas lacks column(s) {absent}; it has {list(areas.columns)}")
    if not (isinstance(overall_rate_per_1000, int | float) and overall_rate_per_1000 > 0):
        raise InputError(
            f"overall_rate_per_1000 must be a positive number, got {overall_rate_per_1000!r}"
        )
    pop = pd.to_numeric(areas["residents"], errors="coerce").to_numpy(float)
    n = pd.to_numeric(areas["incidents"], errors="coerce").to_numpy(float)
    has_pop = np.isfinite(pop) & (pop > 0)
    ok = has_pop & np.isfinite(n)
    pop, n, names = pop[ok], n[ok], areas["name"].astype(str).to_numpy()[ok]
    rate = n / pop * 1000.0
    per_resident = overall_rate_per_1000 / 1000.0

    fig = Figure(figsize=(9, 6), layout="constrained")
    ax = fig.add_subplot()
    if pop.size:
        xs = np.linspace(max(pop.min() * 0.8, 1.0), pop.max() * 1.1, 400)
        for level, style in zip(FUNNEL_LEVELS, ("--", "-"), strict=True):
            lo, hi = funnel_limits(xs, per_resident, level)
            label = f"{level:.1%} limits".replace(".0%", "%")
            ax.plot(xs, hi, style, color="#555555", linewidth=1, label=label)
            ax.plot(xs, lo, style, color="#555555", linewidth=1)
    ax.axhline(
        overall_rate_per_1000,
        color="#08519c",
        linewidth=1,
        label=f"Overall rate ({overall_rate_per_1000:.1f} per 1,000)",
    )
    warn_lo, warn_hi = funnel_limits(pop, per_resident, FUNNEL_LEVELS[0])
    alarm_lo, alarm_hi = funnel_limits(pop, per_resident, FUNNEL_LEVELS[-1])
    outside_warn = (rate > warn_hi) | (rate < warn_lo)
    outside_alarm = (rate > alarm_hi) | (rate < alarm_lo)
    colour = np.where(outside_alarm, "#cb181d", np.where(outside_warn, "#fd8d3c", "#636363"))
    ax.scatter(pop, rate, c=colour, s=18, zorder=3, edgecolors="white", linewidths=0.4)
    # Name only the most extreme alarms (furthest from the overall rate in interval widths):
    # with force-wide counts most areas lie outside the limits, and all names would overlap.
    spread = np.maximum(alarm_hi - alarm_lo, 1e-9)
    extremity = np.where(outside_alarm, np.abs(rate - overall_rate_per_1000) / spread, -1.0)
    for i in np.argsort(-extremity, kind="stable")[:MAX_FUNNEL_LABELS]:
        if extremity[i] < 0:
            break
        ax.annotate(
            names[i], (pop[i], rate[i]), xytext=(4, 3), textcoords="offset points", fontsize=7
        )
    ax.set_xlabel("Residents")
    ax.set_ylabel("Incidents per 1,000 residents")
    ax.set_title(textwrap.fill(title, 90), fontsize=10)
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    # A missing count is one blanked by disclosure control: its point would give it back.
    skipped = [
        f"{m} area(s) {why} not shown"
        for m, why in (
            (int((~has_pop).sum()), "without residents"),
            (int((has_pop & ~ok).sum()), "with a small count"),
        )
        if m
    ]
    if skipped:
        fig.text(0.01, 0.01, "; ".join(skipped), fontsize=7)
    return _png(fig)


def curve_png(table: pd.DataFrame, *, title: str = "") -> bytes:
    """PNG of hit rate and PAI against the share of area selected, one line per method.

    ``table`` has ``method``, ``area_share``, ``hit_rate`` and ``pai`` (an
    :class:`~hotspots.evaluate.Evaluation` table); shares above 20 % are not drawn.

    Examples
    --------
    >>> table = pd.DataFrame({"method": ["kde"] * 2, "area_share": [0.01, 0.05],
    ...                       "hit_rate": [0.2, 0.4], "pai": [20.0, 8.0]})
    >>> curve_png(table, title="Backtest")[:4]
    b'\x89PNG'
    """
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_hit, ax_pai = fig.subplots(1, 2)
    groups = table.loc[table["area_share"] <= 0.2].groupby("method", sort=False)
    for i, (method, rows) in enumerate(groups):
        # Methods often coincide over long stretches: vary the dash so none is hidden.
        style = {
            "label": method,
            "linestyle": _DASHES[i % len(_DASHES)],
            "linewidth": 2.2 - 0.4 * (i % 3),
        }
        pct = rows["area_share"].to_numpy() * 100
        ax_hit.plot(pct, rows["hit_rate"].to_numpy() * 100, **style)
        ax_pai.plot(pct, rows["pai"].to_numpy(), **style)
    ax_hit.set(
        xlabel="share of study area selected (%)",
        ylabel="test incidents captured (%)",
        title="Hit rate",
    )
    ax_pai.set(
        xlabel="share of study area selected (%)",
        ylabel="PAI (log scale)",
        title="Predictive Accuracy Index",
        yscale="log",
    )
    for ax in (ax_hit, ax_pai):
        ax.set_xlim(0, 20)
        ax.grid(alpha=0.3)
    ax_pai.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return buf.getvalue()
