"""Kernel density surfaces (KDE) of incidents on the analysis grid.

One verb, :func:`kde_surface`, turns incident points into a :class:`DensitySurface`:
incidents per km² at the centre of every grid cell (NaN outside the study area), with
the kernel, bandwidth, cell size and the rules that chose them. :func:`relative_surface`
compares two surfaces (dual KDE: ratio or difference). Full notes: ``docs/density.md``.

Kernels (``bandwidth_m`` is always the kernel's own parameter): ``"quartic"`` (radius
``h``, the crime-mapping default of ArcGIS and QGIS) and ``"gaussian"`` (σ, truncated at
4σ and renormalised). Values are incidents (or summed weights) per km² at cell centres,
computed by sub-cell binning and FFT convolution (under 1 % error where the density is
above 1 % of its maximum).

The ideas live in private modules: ``_kernels`` (formulas, reach, spread), ``_bandwidth``
(automatic bandwidth rules and the location-spacing check), ``_binned`` (the binned-FFT
engine), ``_inputs`` (incidents, extent and grid) and ``_surface`` (the results and the
verbs). Import from ``hotspots.density``.
"""

from ._bandwidth import (
    BANDWIDTH_RULES,
    LCV_MAX_CELLS,
    MAX_BANDWIDTH_M,
    bandwidth_arcgis,
    bandwidth_lcv,
    bandwidth_normal_reference,
    location_spacing_m,
)
from ._binned import MAX_FINE_CELLS, MAX_SUBCELL_FACTOR, SUBCELL_SD_RATIO
from ._kernels import (
    GAUSSIAN_TRUNCATE,
    KERNELS,
    QUARTIC_PER_GAUSSIAN,
    kernel_sd_m,
    support_radius_m,
)
from ._surface import (
    RATIO_FLOOR_SHARE,
    DensitySurface,
    RelativeSurface,
    kde_surface,
    relative_surface,
)

__all__ = [
    "BANDWIDTH_RULES",
    "GAUSSIAN_TRUNCATE",
    "KERNELS",
    "LCV_MAX_CELLS",
    "MAX_BANDWIDTH_M",
    "MAX_FINE_CELLS",
    "MAX_SUBCELL_FACTOR",
    "QUARTIC_PER_GAUSSIAN",
    "RATIO_FLOOR_SHARE",
    "SUBCELL_SD_RATIO",
    "DensitySurface",
    "RelativeSurface",
    "bandwidth_arcgis",
    "bandwidth_lcv",
    "bandwidth_normal_reference",
    "kde_surface",
    "kernel_sd_m",
    "location_spacing_m",
    "relative_surface",
    "support_radius_m",
]
