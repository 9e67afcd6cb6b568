"""The two kernels: their formulas, reach and spread; ``bandwidth_m`` is the kernel's parameter.

``"quartic"`` (biweight; the crime-mapping default of ArcGIS and QGIS)
    ``K(d) = 3 / (pi h²) · (1 - (d/h)²)²`` for ``d < h``, else 0; ``h = bandwidth_m`` is the
    search radius. Its per-axis standard deviation is ``h / sqrt(8)``.
``"gaussian"``
    ``K = exp(-d² / 2σ²) / (2 pi σ²)`` with ``σ = bandwidth_m``, truncated to the square
    ``|dx|, |dy| <= 4σ`` (which contains the 4σ disc) and divided by the mass kept,
    ``erf(4 / sqrt 2)² = 0.99987``, so that every incident still counts once.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import erf

KERNELS: tuple[str, ...] = ("quartic", "gaussian")

#: The Gaussian is cut at this many σ along each axis and renormalised.
GAUSSIAN_TRUNCATE = 4.0
_GAUSSIAN_MASS_KEPT = float(erf(GAUSSIAN_TRUNCATE / math.sqrt(2.0)) ** 2)
#: Quartic radius equivalent to a Gaussian σ: the ratio of canonical bandwidths
#: (R(K)/μ₂(K)²)^(1/6) in two dimensions, (2304/5)^(1/6) ≈ 2.779 (Marron & Nolan 1988).
QUARTIC_PER_GAUSSIAN = (2304.0 / 5.0) ** (1.0 / 6.0)


def kernel_sd_m(kernel: str, bandwidth_m: float) -> float:
    """Per-axis standard deviation of the kernel, metres (σ; quartic radius / √8).

    Examples
    --------
    >>> kernel_sd_m("gaussian", 100.0), round(kernel_sd_m("quartic", 100.0), 2)
    (100.0, 35.36)
    """
    return bandwidth_m if kernel == "gaussian" else bandwidth_m / math.sqrt(8.0)


def support_radius_m(kernel: str, bandwidth_m: float) -> float:
    """How far the kernel reaches along an axis: the quartic radius or 4σ.

    Examples
    --------
    >>> support_radius_m("quartic", 250.0), support_radius_m("gaussian", 250.0)
    (250.0, 1000.0)
    """
    return bandwidth_m if kernel == "quartic" else GAUSSIAN_TRUNCATE * bandwidth_m


def kernel_2d(kernel: str, bw: float, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Kernel density per m² at displacements (dx, dy), broadcasting."""
    if kernel == "quartic":
        u = np.maximum(1.0 - (dx * dx + dy * dy) / (bw * bw), 0.0)
        return 3.0 / (math.pi * bw * bw) * u * u
    return gauss_1d(bw, dx) * gauss_1d(bw, dy)


def gauss_1d(sigma: float, d: np.ndarray) -> np.ndarray:
    """One axis of the truncated, renormalised Gaussian (product of two is the 2-D kernel)."""
    d = np.asarray(d, dtype=float)
    g = np.exp(-0.5 * (d / sigma) ** 2) / (sigma * math.sqrt(2.0 * math.pi))
    g = g / math.sqrt(_GAUSSIAN_MASS_KEPT)
    return np.where(np.abs(d) <= GAUSSIAN_TRUNCATE * sigma, g, 0.0)
