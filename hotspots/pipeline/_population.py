"""Residents per area for every area layer of a run (for rates per 1,000), or a reason why not.

Default population: Census 2011 usual residents of every England and Wales 2011 LSOA
(shipped). Each layer gets its residents by the first rule that fits (docs/rates.md):

1. **LSOA layers** (named by LSOA codes, e.g. the rows' own ``LSOA code``): by code. A 2011
   code, or a 2021 code that kept its 2011 code, has its 2011 residents; a 2021 code split
   or merged from 2011 LSOAs gets them through the shipped 2011→2021 change tables, by area
   share (:func:`hotspots.rates.lsoa_weights`); any other code has none.
2. **Layers made of such LSOAs** (the district and force derived from the rows): the sum
   of their LSOAs' residents, each 2011 LSOA counted once.
3. **Any other polygon layer** (beats, NPAs, wards): residents apportioned by area from the
   shipped 2011 LSOA polygons (:func:`hotspots.rates.apportion_with_coverage`).

An area gets residents, hence a rate, only when at least ``coverage_min`` of its area lies in
LSOAs with known residents (:func:`hotspots.rates.apply_coverage`); otherwise they are blank
with a reason (:data:`REASONS`), counted per layer in the log and ``run.json``.

``population_file`` with ``population_layer`` gives a user's own table keyed by that layer's
area names instead; ``population_file`` alone replaces the Census table (keyed by LSOA code).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from hotspots.boundaries import AreaLayer, load_areas, registry
from hotspots.io import (
    POPULATION_ATTRIBUTION,
    POPULATION_VINTAGE,
    read_lsoa_changes,
    read_population,
)
from hotspots.rates import (
    COVERAGE_MIN,
    apply_coverage,
    apportion_with_coverage,
    lsoa_weights,
    weighted_residents,
)
from hotspots.schema import CRS_METRIC

log = logging.getLogger("hotspots.pipeline")

#: An England (E01…) or Wales (W01…) LSOA code.
LSOA_CODE = re.compile(r"^[EW]01\d{6}$")
#: Why an area has no residents (``rate_blank_reason`` in areas.csv; counted in run.json).
REASONS = {
    "partial_coverage": "under the coverage threshold: part of the area lies outside the "
    "LSOAs with known residents, so its residents would be a sliver of its people",
    "outside_lsoa_polygons": "no part of the area lies in the shipped 2011 LSOA polygons "
    "(shipped for Leicestershire, Lincolnshire and Cambridgeshire only); give the layer "
    "your own population table, or run by LSOA",
    "lsoa_code_without_residents": "the LSOA code is not a 2011 LSOA of the census table "
    "and no shipped 2011→2021 change table maps it (a 2021 LSOA split or merged from "
    "2011 LSOAs outside Leicestershire, Lincolnshire and Cambridgeshire, or not an LSOA)",
    "not_in_population_table": "the area is not in your population table",
    "no_residents": "the population table gives it 0 residents",
}
#: How 2021 LSOA codes get 2011 residents (run.json, docs/rates.md).
LSOA2021_RULE = (
    "2021 LSOAs that kept their 2011 code: 1:1; split or merged ones: by share_of_2011_area "
    "in the shipped 2011->2021 change tables (derived from polygon overlap, Leicestershire, "
    "Lincolnshire and Cambridgeshire only; no national lookup is shipped); any other new "
    "2021 code: no residents (lsoa_code_without_residents)"
)


@dataclass(frozen=True)
class LayerPopulation:
    """Residents per area of each layer, and how they were found.

    Attributes
    ----------
    tables
        Layer → frame indexed by area name: ``residents`` (NaN where blank),
        ``residents_coverage`` (share of the area in LSOAs with known residents),
        ``rate_blank_reason`` (a :data:`REASONS` key, ``""`` where there are residents) and
        ``population_vintage``.
    methods
        Layer → which rule gave its residents (see the module notes).
    """

    tables: dict[str, pd.DataFrame]
    vintage: str
    source: str
    coverage_min: float = COVERAGE_MIN
    methods: dict[str, str] = field(default_factory=dict)

    def layer_summary(self, layer: str) -> dict[str, Any]:
        t = self.tables[layer]
        blank = t.loc[t["rate_blank_reason"] != "", "rate_blank_reason"].value_counts()
        return {
            "method": self.methods.get(layer, ""),
            "areas": len(t),
            "with_rate": int(t["residents"].notna().sum()),
            "blank": {str(k): int(v) for k, v in sorted(blank.items())},
        }

    def metadata(self) -> dict[str, Any]:
        """The ``run.json`` entry: vintage, rules and, per layer, rates given and blank."""
        reasons = {r for t in self.tables.values() for r in t["rate_blank_reason"] if r}
        return {
            "population": self.source,
            "vintage": self.vintage,
            "attribution": POPULATION_ATTRIBUTION if self.source == "shipped" else "",
            "lsoa2021": LSOA2021_RULE,
            "coverage_min": self.coverage_min,
            "coverage_rule": "an area gets a rate only when at least coverage_min of its "
            "area lies in LSOAs with known residents",
            "layers": {layer: self.layer_summary(layer) for layer in self.tables},
            "reasons": {r: REASONS[r] for r in sorted(reasons)},
        }

    def log_summary(self) -> None:
        log.info(
            "Rates per 1,000 residents: %s; an area needs %.0f%% of its area in LSOAs "
            "with residents",
            self.vintage,
            self.coverage_min * 100,
        )
        for layer in self.tables:
            s = self.layer_summary(layer)
            blank = ", ".join(f"{k} {v:,}" for k, v in s["blank"].items())
            log.info(
                "Rates, %s (%s): %s of %s areas have a rate%s",
                layer,
                s["method"],
                f"{s['with_rate']:,}",
                f"{s['areas']:,}",
                f"; blank: {blank}" if blank else "",
            )


def population_by_layer(
    layers: list[AreaLayer],
    *,
    population_file: str | None = None,
    population_layer: str | None = None,
    id_field: str = "lsoa11_code",
    residents_field: str = "all_usual_residents",
    coverage_min: float = COVERAGE_MIN,
) -> LayerPopulation:
    """Residents (or a reason for none) per area of each layer; see the module notes."""
    if population_file and population_layer:
        return _own_table(
            layers, population_file, population_layer, id_field, residents_field, coverage_min
        )
    pop = read_population(population_file, id_field=id_field, residents_field=residents_field)
    vintage = (
        POPULATION_VINTAGE
        if not population_file
        else (f"your table {Path(population_file).name}, keyed by LSOA code")
    )
    short = "Census 2011" if not population_file else "your table"
    changes = read_lsoa_changes()
    tables: dict[str, pd.DataFrame] = {}
    methods: dict[str, str] = {}
    by_code: dict[str, tuple[pd.DataFrame, pd.Series, pd.Series]] = {}  # weights, areas
    for layer in layers:
        names = pd.Index(layer.polygons["name"].astype(str).to_numpy())
        area = pd.Series(layer.polygons.area.to_numpy(), index=names)
        if _named_by_lsoa_code(layer, names):
            weights = lsoa_weights(names, pop, changes)
            people = weighted_residents(weights, pop).reindex(names)
            known = pd.Series(names.isin(weights["code"]).astype(float), index=names)
            t = apply_coverage(
                people.fillna(0.0),
                known,
                coverage_min=coverage_min,
                reason_uncovered="lsoa_code_without_residents",
            )
            moved = set(weights.loc[weights["code"] != weights["lsoa11"], "code"])
            vint = [f"{short}, split to 2021 LSOA by area" if n in moved else short for n in names]
            by_code[layer.layer] = (weights, area.where(known > 0, 0.0), area)
            methods[layer.layer] = "by LSOA code"
        elif layer.derived_from in by_code and layer.parent_names:
            weights, covered, child_area = by_code[layer.derived_from]
            groups = pd.Series(dict(layer.parent_names), dtype=object)
            people = weighted_residents(weights, pop, groups).reindex(names)
            share = (
                covered.groupby(groups.reindex(covered.index)).sum()
                / child_area.groupby(groups.reindex(child_area.index)).sum()
            )
            t = apply_coverage(
                people.fillna(0.0),
                share.reindex(names).fillna(0.0),
                coverage_min=coverage_min,
                reason_uncovered="lsoa_code_without_residents",
            )
            vint = [short] * len(names)
            methods[layer.layer] = f"sum of its {layer.derived_from} residents"
        else:
            source = _lsoa_polygons()
            source = source.assign(residents=source["name"].map(pop))
            found = apportion_with_coverage(source, layer.polygons.assign(name=names))
            t = apply_coverage(found["residents"], found["coverage"], coverage_min=coverage_min)
            vint = [f"{short}, apportioned by area"] * len(names)
            methods[layer.layer] = "apportioned by area from 2011 LSOA polygons"
        t["population_vintage"] = [
            v if r == "" else "" for v, r in zip(vint, t["rate_blank_reason"], strict=True)
        ]
        tables[layer.layer] = t
    source_name = "shipped" if not population_file else str(population_file)
    return LayerPopulation(tables, vintage, source_name, coverage_min, methods)


def _named_by_lsoa_code(layer: AreaLayer, names: pd.Index) -> bool:
    """A layer whose areas are LSOAs: named by the rows' LSOA code, or every name a code."""
    if layer.name_column == "lsoa_code":
        return True
    return len(names) > 0 and bool(names.str.fullmatch(LSOA_CODE.pattern).all())


def _own_table(
    layers: list[AreaLayer],
    path: str,
    layer_name: str,
    id_field: str,
    residents_field: str,
    coverage_min: float,
) -> LayerPopulation:
    table = read_population(path, id_field=id_field, residents_field=residents_field)
    tables, methods = {}, {}
    for layer in layers:
        if layer.layer != layer_name:
            continue
        names = pd.Index(layer.polygons["name"].astype(str).to_numpy())
        people = table.reindex(names)
        t = apply_coverage(
            people.fillna(0.0),
            people.notna().astype(float),
            coverage_min=coverage_min,
            reason_uncovered="not_in_population_table",
        )
        t["population_vintage"] = [
            f"your table {Path(path).name}" if r == "" else "" for r in t["rate_blank_reason"]
        ]
        tables[layer.layer] = t
        methods[layer.layer] = f"your table, by {layer_name} name"
    if not tables:
        log.warning(
            "population.layer %r is not an area layer of this run (%s): no rates",
            layer_name,
            ", ".join(lyr.layer for lyr in layers),
        )
    return LayerPopulation(
        tables, f"your table {Path(path).name}", str(path), coverage_min, methods
    )


@cache
def _lsoa_polygons() -> gpd.GeoDataFrame:
    """Every shipped 2011 LSOA polygon (``name`` = LSOA11CD), all forces together."""
    names = [
        name
        for name, entry in sorted(registry().items())
        if entry["fields"] == {"lsoa": "LSOA11CD"}
    ]
    parts = [load_areas(name)[0].polygons[["name", "geometry"]] for name in names]
    if not parts:
        return gpd.GeoDataFrame({"name": []}, geometry=[], crs=CRS_METRIC)
    merged = pd.concat(parts, ignore_index=True).drop_duplicates("name")
    return gpd.GeoDataFrame(
        merged.sort_values("name").reset_index(drop=True), geometry="geometry", crs=CRS_METRIC
    )
