r"""Fuzzy similarity and fuzzy kappa of two hot/cold/not-significant maps on one grid.

The comparison of ArcGIS Pro's *Hot Spot Analysis Comparison* tool, after Hagen-Zanker
(2009, *IJGIS* 23:61-73, "An improved fuzzy kappa statistic that accounts for spatial
autocorrelation"), on the three classes of each period's grid Gi* (``gi_bin`` > 0 hot,
< 0 cold, 0 not significant):

* **membership.** Cell *i* belongs to class *k* of map A to the degree
  :math:`\mu_{A,i}(k) = \max_j m(d_{ij})\,[a_j = k]` over the in-area cells *j* within
  ``radius_cells`` of *i* (centre to centre, in cells), with the distance decay
  :math:`m(d) = 2^{-d/h}` (``h`` = ``halving_cells``): a class found in the cell itself
  counts 1, one cell away 0.5, a diagonal neighbour 0.375, two cells away 0.25 (defaults
  ``radius_cells=2``, ``halving_cells=1``: the Gi* default neighbourhood of 13 cells).
* **per-cell similarity** (two-way, so that it is symmetric):
  :math:`s_i = \min(\mu_{B,i}(a_i),\ \mu_{A,i}(b_i))`: 1 where both periods give the cell
  the same class, partial where the other period has that class nearby, 0 where neither
  has the other's class within the radius. ``radius_cells=0`` is the crisp comparison
  (1 for the same class, else 0).
* **overall similarity** :math:`S` is the mean of :math:`s_i` over the in-area cells;
  ``similarity_significant`` is the mean over the cells hot or cold in either period (the
  "exclude not-significant features" option of ArcGIS), which is not swamped by the
  many cells that are not significant in either.
* **fuzzy kappa** :math:`\kappa = (S - E) / (1 - E)`, where E is the expected similarity
  of two maps with the same class frequencies and no association: the mean of S over
  ``permutations`` random rearrangements of map B's classes among the in-area cells
  (seeded). For the crisp comparison E is exact, :math:`E = \sum_k p_A(k) p_B(k)`, and
  kappa is Cohen's kappa. Kappa near 0 means the maps agree no more than chance given how
  much of each is hot, cold or not significant; negative, less.

What this does not reproduce of ArcGIS: the partial credit between confidence levels (90,
95, 99 %) of one sign; here a hot spot is a hot spot. Per-cell (local) kappa is not given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hotspots.schema import InputError

#: Neighbourhood radius of the fuzzy comparison, in cells (the Gi* default band).
DEFAULT_RADIUS_CELLS = 2
#: Distance, in cells, at which a neighbour's class counts half.
DEFAULT_HALVING_CELLS = 1.0
#: Random rearrangements of the second map that estimate the expected similarity.
DEFAULT_PERMUTATIONS = 99
#: Class codes and names.
CLASSES = {1: "hot", 0: "not significant", -1: "cold"}
_CODES = (-1, 0, 1)


@dataclass(frozen=True, eq=False, kw_only=True)
class FuzzySimilarity:
    """Result of :func:`fuzzy_similarity`.

    Attributes
    ----------
    cells
        Per-cell similarity ``s_i`` (grid shape; NaN outside the study area).
    similarity
        Mean of ``cells`` over the in-area cells.
    similarity_significant
        Mean over the cells hot or cold in either period (NaN if there are none).
    expected
        Expected similarity E under no association.
    kappa
        Fuzzy kappa ``(S - E) / (1 - E)`` (NaN when E is 1).
    radius_cells, halving_cells, permutations, seed
        The parameters; ``expected_rule`` says how E was found.
    n_cells
        In-area cells compared.
    """

    cells: np.ndarray = field(repr=False)
    similarity: float
    similarity_significant: float
    expected: float
    kappa: float
    radius_cells: float
    halving_cells: float
    permutations: int
    seed: int
    expected_rule: str
    n_cells: int

    def params(self) -> dict[str, object]:
        """The overall figures and the parameters, for ``change.json``."""
        return {
            "similarity": _round(self.similarity),
            "similarity_significant": _round(self.similarity_significant),
            "expected_similarity": _round(self.expected),
            "fuzzy_kappa": _round(self.kappa),
            "radius_cells": self.radius_cells,
            "halving_cells": self.halving_cells,
            "permutations": self.permutations,
            "seed": self.seed,
            "expected_rule": self.expected_rule,
            "cells": self.n_cells,
        }


def hot_cold(gi_bin: np.ndarray) -> np.ndarray:
    """Gi* bins (+3..-3) as classes +1 hot, 0 not significant, -1 cold (int8).

    Examples
    --------
    >>> hot_cold(np.array([3, 1, 0, -2])).tolist()
    [1, 1, 0, -1]
    """
    return np.sign(np.asarray(gi_bin)).astype(np.int8)


def fuzzy_similarity(
    before: np.ndarray,
    after: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    radius_cells: float = DEFAULT_RADIUS_CELLS,
    halving_cells: float = DEFAULT_HALVING_CELLS,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> FuzzySimilarity:
    """Per-cell and overall fuzzy similarity, and fuzzy kappa, of two class grids.

    Parameters
    ----------
    before, after
        Gi* bins or hot/cold classes of the two periods on the same grid (sign is used).
    mask
        In-area cells (default all).
    radius_cells, halving_cells
        The neighbourhood and the distance decay (module notes); ``radius_cells=0`` is
        crisp.
    permutations, seed
        How the expected similarity is estimated (fuzzy case only).

    Examples
    --------
    One row of three cells, a hot spot that moved one cell east:

    >>> r = fuzzy_similarity(np.array([[1, 0, 0]]), np.array([[0, 1, 0]]), radius_cells=1)
    >>> r.cells.tolist(), round(r.similarity, 4)
    ([[0.5, 0.5, 1.0]], 0.6667)
    """
    a, b, mask = _check(before, after, mask)
    for name, value in (("radius_cells", radius_cells), ("halving_cells", halving_cells)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise InputError(f"{name} must be a number of cells ≥ 0, got {value!r}")
    if halving_cells == 0 and radius_cells > 0:
        raise InputError("halving_cells must be above 0 when radius_cells is above 0")
    if isinstance(permutations, bool) or not isinstance(permutations, int) or permutations < 0:
        raise InputError(f"permutations must be a whole number ≥ 0, got {permutations!r}")
    offsets = _offsets(float(radius_cells), float(halving_cells))
    cells = _similarity(a, b, mask, offsets)
    n = int(mask.sum())
    sim = float(cells[mask].mean()) if n else math.nan
    sig = mask & ((a != 0) | (b != 0))
    sim_sig = float(cells[sig].mean()) if sig.any() else math.nan
    if len(offsets) == 1:  # crisp: the expectation under random arrangement is exact
        pa = np.array([(a[mask] == k).mean() for k in _CODES]) if n else np.zeros(3)
        pb = np.array([(b[mask] == k).mean() for k in _CODES]) if n else np.zeros(3)
        expected = float(pa @ pb)
        rule = "exact: sum over classes of p_before(k) x p_after(k) (Cohen)"
        used = 0
    elif permutations == 0:
        expected, rule, used = math.nan, "not estimated (permutations=0)", 0
    else:
        rng = np.random.default_rng(seed)
        values = b[mask]
        sims = []
        for _ in range(permutations):
            shuffled = b.copy()
            shuffled[mask] = rng.permutation(values)
            sims.append(_similarity(a, shuffled, mask, offsets)[mask].mean())
        expected = float(np.mean(sims))
        rule = (
            f"mean similarity over {permutations} random rearrangements of the after "
            f"period's classes among the in-area cells (seed {seed})"
        )
        used = permutations
    kappa = (sim - expected) / (1 - expected) if expected < 1 else math.nan
    return FuzzySimilarity(
        cells=cells,
        similarity=sim,
        similarity_significant=sim_sig,
        expected=expected,
        kappa=float(kappa),
        radius_cells=float(radius_cells),
        halving_cells=float(halving_cells),
        permutations=used,
        seed=int(seed),
        expected_rule=rule,
        n_cells=n,
    )


def _check(before, after, mask):
    a = hot_cold(before)
    b = hot_cold(after)
    if a.ndim != 2 or a.shape != b.shape:
        raise InputError(
            f"before and after must be grids of the same shape, got {a.shape} and {b.shape}"
        )
    if mask is None:
        mask = np.ones(a.shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != a.shape:
        raise InputError(f"mask has shape {mask.shape}, the grids {a.shape}")
    return a, b, mask


def _offsets(radius: float, halving: float) -> list[tuple[int, int, float]]:
    """(row, column, decay) of every cell within ``radius`` cells, the centre first."""
    r = int(math.floor(radius + 1e-9))
    out = [(0, 0, 1.0)]
    for dr in range(-r, r + 1):
        for dc in range(-r, r + 1):
            d = math.hypot(dr, dc)
            if (dr or dc) and d <= radius + 1e-9:
                out.append((dr, dc, 2.0 ** (-d / halving)))
    return out


def _shift(values: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``out[i, j] = values[i + dr, j + dc]`` (0 beyond the grid)."""
    out = np.zeros_like(values)
    nr, nc = values.shape
    rs = slice(max(0, -dr), min(nr, nr - dr))
    cs = slice(max(0, -dc), min(nc, nc - dc))
    rt = slice(max(0, dr), min(nr, nr + dr))
    ct = slice(max(0, dc), min(nc, nc + dc))
    out[rs, cs] = values[rt, ct]
    return out


def _membership(classes: np.ndarray, mask: np.ndarray, offsets) -> np.ndarray:
    """``mu[k, i, j]``: the degree to which cell (i, j) belongs to class ``_CODES[k]``."""
    mu = np.zeros((len(_CODES), *classes.shape))
    for k, code in enumerate(_CODES):
        present = ((classes == code) & mask).astype(float)
        for dr, dc, w in offsets:
            np.maximum(mu[k], w * _shift(present, dr, dc), out=mu[k])
    return mu


def _similarity(a: np.ndarray, b: np.ndarray, mask: np.ndarray, offsets) -> np.ndarray:
    mu_a = _membership(a, mask, offsets)
    mu_b = _membership(b, mask, offsets)
    ia = (a + 1).astype(np.intp)[None]  # class code -1/0/1 -> index 0/1/2
    ib = (b + 1).astype(np.intp)[None]
    s = np.minimum(np.take_along_axis(mu_b, ia, axis=0)[0], np.take_along_axis(mu_a, ib, axis=0)[0])
    return np.where(mask, s, np.nan)


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else round(float(v), 6)
