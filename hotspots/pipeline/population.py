"""Residents per area for every area layer of a run (for rates per 1,000).

Default: Census 2011 LSOA residents (shipped for Leicestershire) apportioned to each layer
by area overlap (see :mod:`hotspots.rates`). ``population_file`` with ``population_layer``
gives a user's own table keyed by that layer's area names instead.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from hotspots.boundaries import AreaLayer, load_areas
from hotspots.io.population import read_population
from hotspots.rates import apportion_population


def residents_by_layer(
    layers: list[AreaLayer],
    *,
    population_file: str | None = None,
    population_layer: str | None = None,
    id_field: str = "lsoa11_code",
    residents_field: str = "all_usual_residents",
) -> dict[str, pd.Series]:
    """Residents per area name for each layer (layers with no population are absent)."""
    if population_file and population_layer:
        table = read_population(population_file, id_field=id_field, residents_field=residents_field)
        return {population_layer: table}
    pop = read_population(population_file, id_field=id_field, residents_field=residents_field)
    lsoa = load_areas("leicestershire/lsoa2011")[0].polygons
    src = gpd.GeoDataFrame(
        {"residents": lsoa["name"].map(pop).fillna(0.0).to_numpy()},
        geometry=lsoa.geometry.values,
        crs=lsoa.crs,
    )
    out = {}
    for layer in layers:
        people = apportion_population(src, layer.polygons)
        if people.sum() > 0:
            out[layer.layer] = people
    return out
