"""Hotspots as polygons: high cells of a surface, or dense clusters of incidents.

Three methods, one result (:class:`HotspotSet`):

``"threshold"`` (:func:`threshold_hotspots`)
    Cells of a score surface (a KDE surface, raw counts per cell or any blend) at or above a
    cutoff, merged with their 8 neighbours (``connectivity=8``, the default: cells touching
    at a corner join, so a hotspot along a diagonal street stays one hotspot) or with their 4
    edge neighbours only (``connectivity=4``). Each merged group is one hotspot whose polygon
    is the exact union of its cells; its members are the incidents whose cell is in the group.
    Cutoff rules: ``"quantile"`` -- the ``quantile`` (default 0.99) of the in-area cells whose
    score is above zero (empty cells are left out, else on a sparse grid the cutoff would be
    zero); ``"mean_sd"`` -- mean + ``k_sd`` x standard deviation of all in-area cells; or a
    number. Ties at the cutoff are all kept; cells scoring zero or less never are.
``"dbscan"`` (:func:`dbscan_hotspots`)
    scikit-learn DBSCAN on coordinates in metres. police.uk snaps incidents to map points, so
    many share a location: DBSCAN runs on the distinct locations with
    ``sample_weight`` = incidents there, which gives exactly the core points, clusters of
    core points and members of running it on every incident, far faster. A border location
    within ``eps_m`` of two clusters' cores joins the cluster of its nearest core location
    (plain DBSCAN gives it to whichever cluster it meets first, which depends on row order).
``"hdbscan"`` (:func:`hdbscan_hotspots`)
    ``fast_hdbscan`` on distinct locations weighted by their incidents (its core distances
    and cluster sizes count weights; this approximates, not reproduces, HDBSCAN on every
    duplicate). Without ``fast_hdbscan``, scikit-learn's HDBSCAN runs on every incident (it
    has no sample weights): exact, but its cost grows about as N^2.

Automatic defaults (each reported in ``HotspotSet.params`` with its rule, and logged)
-------------------------------------------------------------------------------------
``min_samples`` (DBSCAN) and ``min_cluster_size`` (HDBSCAN), rule ``"n/1000"``
    0.1 % of the incidents, at least 5: the rule scales with the period analysed, so a
    two-year extract does not find twice as many hotspots as a one-year one.
``eps_m`` (DBSCAN), rule ``"k-distance q0.05"``
    For each distinct location, the distance within which it gathers ``min_samples``
    incidents (itself included: its weighted k-distance). ``eps_m`` is the 5th percentile of
    those distances over distinct locations, rounded to the metre and kept within 10-1000 m,
    so that about the 5 % most crowded locations are DBSCAN core points.
``buffer_m`` (point methods)
    Half a grid cell when a grid is given; else ``eps_m / 2`` for DBSCAN (buffers of
    neighbouring core points then touch) and for HDBSCAN half the median distance from a
    distinct location to its nearest neighbour, at least 5 m.
``min_incidents``
    Hotspots with fewer member incidents are dropped: 1 for thresholds (a smoothed surface
    can exceed the cutoff where nothing happened) and for DBSCAN (every cluster is kept: one
    whose border points went to a neighbouring cluster can hold fewer than ``min_samples``),
    ``min_cluster_size`` for HDBSCAN (fast_hdbscan's weighted clusters can fall short of it).

Polygons of point methods: ``hull="concave"`` (:func:`shapely.concave_hull` of the member
locations, ``ratio`` :data:`CONCAVE_RATIO`), ``"convex"`` or ``"buffer"`` (no hull), then
buffered by ``buffer_m`` so a hotspot at one location still has an area. Polygons of
different hotspots may touch or, rarely, overlap; membership is always by ``labels``.

Modules
-------
``_find`` (:func:`find_hotspots`, the method by name), ``_threshold`` (cutoff rules and
cell groups), ``_engines`` (DBSCAN/HDBSCAN on weighted distinct locations), ``_rules``
(automatic defaults and their rules), ``_polygons`` (cell unions and hulls) and
``_result`` (:class:`HotspotSet` and its summary table). Everything public is imported
from here.
"""

# The names imported "as" themselves are not public: they are the threshold method's
# building blocks that hotspots.microplaces reuses to split the same selected cells into
# micro-places with the same result table.
from hotspots.clusters._engines import dbscan_hotspots, hdbscan_hotspots
from hotspots.clusters._find import find_hotspots
from hotspots.clusters._polygons import CONCAVE_RATIO
from hotspots.clusters._polygons import _cell_unions as _cell_unions
from hotspots.clusters._result import LEADING_COLUMNS, TOP_CATEGORIES, HotspotSet
from hotspots.clusters._result import _result as _result
from hotspots.clusters._rules import (
    EPS_QUANTILE,
    EPS_RANGE_M,
    MIN_BUFFER_M,
    auto_min_samples,
    weighted_k_distance,
)
from hotspots.clusters._rules import _min_params as _min_params
from hotspots.clusters._threshold import _cutoff as _cutoff
from hotspots.clusters._threshold import threshold_hotspots

__all__ = [
    "CONCAVE_RATIO",
    "EPS_QUANTILE",
    "EPS_RANGE_M",
    "LEADING_COLUMNS",
    "MIN_BUFFER_M",
    "TOP_CATEGORIES",
    "HotspotSet",
    "auto_min_samples",
    "dbscan_hotspots",
    "find_hotspots",
    "hdbscan_hotspots",
    "threshold_hotspots",
    "weighted_k_distance",
]
