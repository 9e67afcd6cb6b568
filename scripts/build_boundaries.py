"""Build the shipped boundary layers of every seed force from ``../shared/data``.

For each force in :data:`FORCES` this writes, to ``hotspots/_data/boundaries/<force>/``:

* the ONS layers (2011 and 2021 LSOAs, 2013 wards, LSOA-derived districts, the derived
  force area) and the 2011→2021 LSOA change table, from the force's ``ons-*`` folders;
* approximate **beats** = 2013 electoral wards, each carrying its district and NPA name;
* approximate **NPAs** = the beats dissolved by NPA, where each force's NPAs are its
  districts or groups of districts (:attr:`Force.npa_of_district`).

No complete set of police beat / Neighbourhood Policing Area polygons is published in a
form we could ship, hence the approximations (docs/boundaries.md says how each force's are
drawn). Forces should point hotspots at their own files (``--areas FILE --area-field
beat=FIELD``, or police.uk's neighbourhood KML download).

Size: the ONS files are generalised to 20 m (BGC) already, so simplifying further in
metres removes under 1% of their vertices (measured: 5 m coverage-preserving
simplification, 0.5%); what makes them big is their 15-decimal coordinates. Forces with
``decimals`` set are rewritten with that many decimals of degrees (6 ≈ 0.1 m, below the
~2 m accuracy of the projection we use), otherwise unchanged; Leicestershire's, shipped
first, are copied byte for byte so that rebuilding does not move its boundaries.

Run from the repository root: ``python scripts/build_boundaries.py [FORCE ...]``.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import shapely

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "hotspots" / "_data" / "boundaries"


@dataclass(frozen=True)
class Force:
    """Where one force's ONS layers are and how its NPAs group its districts."""

    #: output file name → source path, relative to ``SHARED``.
    layers: dict[str, str]
    change_table: str
    npa_of_district: dict[str, str]
    #: decimals of degrees to rewrite the layers with; None copies them as published.
    decimals: int | None

    def wards(self) -> str:
        """Output name of the 2013 ward layer (the beats are drawn from it)."""
        return next(name for name in self.layers if name.startswith("wards2013"))


def _ons(ons_2011: str, ons_2021: str, area: str, force: str) -> dict[str, str]:
    """The five ONS layers of a force, named as in its ``../shared/data`` folders."""
    return {
        f"lsoa2011_{area}.geojson.gz": f"{ons_2011}/lsoa2011_{area}.geojson.gz",
        f"lsoa2021_{area}.geojson.gz": f"{ons_2021}/lsoa2021_{area}.geojson.gz",
        f"wards2013_{area}.geojson.gz": f"{ons_2011}/wards2013_{area}.geojson.gz",
        "lad_derived_from_lsoa2011.geojson.gz": f"{ons_2011}/lad_derived_from_lsoa2011.geojson.gz",
        f"force_area_{force}_derived.geojson.gz": (
            f"{ons_2011}/force_area_{force}_derived.geojson.gz"
        ),
    }


FORCES: dict[str, Force] = {
    "leicestershire": Force(
        _ons(
            "ons-boundaries-leicestershire",
            "ons-lsoa2021-leicestershire",
            "leicestershire_rutland",
            "leicestershire",
        ),
        "ons-lsoa2021-leicestershire/lsoa2011_to_2021_changed_leicestershire.csv",
        # Leicestershire Police's six NPAs as commonly drawn.
        {
            "Leicester": "Leicester City",
            "Charnwood": "Charnwood",
            "Hinckley and Bosworth": "Hinckley & Blaby",
            "Blaby": "Hinckley & Blaby",
            "North West Leicestershire": "North West Leicestershire",
            "Melton": "Melton & Rutland",
            "Rutland": "Melton & Rutland",
            "Harborough": "Harborough with Oadby & Wigston",
            "Oadby and Wigston": "Harborough with Oadby & Wigston",
        },
        decimals=None,
    ),
    "lincolnshire": Force(
        _ons(
            "ons-boundaries-lincolnshire",
            "ons-lsoa2021-lincolnshire",
            "lincolnshire",
            "lincolnshire",
        ),
        "ons-lsoa2021-lincolnshire/lsoa2011_to_2021_changed_lincolnshire.csv",
        # Lincolnshire Police plans neighbourhood policing per district (one policing plan
        # for each of the seven), so each district is an NPA.
        {
            d: d
            for d in (
                "Boston",
                "East Lindsey",
                "Lincoln",
                "North Kesteven",
                "South Holland",
                "South Kesteven",
                "West Lindsey",
            )
        },
        decimals=6,
    ),
    "cambridgeshire": Force(
        _ons(
            "ons-boundaries-cambridgeshire",
            "ons-lsoa2021-cambridgeshire",
            "cambridgeshire_peterborough",
            "cambridgeshire",
        ),
        "ons-lsoa2021-cambridgeshire/lsoa2011_to_2021_changed_cambridgeshire.csv",
        # Cambridgeshire Constabulary's local policing areas follow its six districts.
        {
            "Cambridge": "Cambridge City",
            "East Cambridgeshire": "East Cambridgeshire",
            "Fenland": "Fenland",
            "Huntingdonshire": "Huntingdonshire",
            "Peterborough": "Peterborough",
            "South Cambridgeshire": "South Cambridgeshire",
        },
        decimals=6,
    ),
}


def _write_geojson_gz(gdf: gpd.GeoDataFrame, path: Path, decimals: int) -> None:
    """Write ``gdf`` as gzipped GeoJSON in EPSG:4326, byte-identical on every run."""
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / path.name.removesuffix(".gz")  # GDAL names the layer after it
        gdf.to_crs(4326).to_file(plain, driver="GeoJSON", COORDINATE_PRECISION=decimals)
        # No file name or time stamp in the gzip header: rebuilds are byte-identical.
        with open(path, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as gz:
            gz.write(plain.read_bytes())
    check = gpd.read_file(f"/vsigzip/{path}")
    bad = int((~check.is_valid).sum())
    if bad:  # rounding can fold a thin sliver: say so rather than ship it silently
        print(f"warning: {path.name}: {bad} geometries invalid after rounding")


def _ship_layer(source: Path, target: Path, decimals: int | None) -> None:
    if decimals is None:
        shutil.copyfile(source, target)
        return
    _write_geojson_gz(gpd.read_file(f"/vsigzip/{source}"), target, decimals)


def build_force(slug: str, force: Force) -> None:
    """Write one force's layers, change table, beats and NPAs to ``OUT / slug``."""
    here = OUT / slug
    here.mkdir(parents=True, exist_ok=True)
    for name, source in force.layers.items():
        _ship_layer(SHARED / source, here / name, force.decimals)
    shutil.copyfile(SHARED / force.change_table, here / Path(force.change_table).name)

    wards = gpd.read_file(f"/vsigzip/{SHARED / force.layers[force.wards()]}").to_crs(27700)
    wards["geometry"] = shapely.make_valid(wards.geometry.values)
    unknown = sorted(set(wards["LAD_NM"]) - set(force.npa_of_district))
    if unknown:
        raise SystemExit(f"{slug}: no NPA for district(s) {unknown}; add them to FORCES")
    beats = gpd.GeoDataFrame(
        {
            "beat_code": wards["WD13CD"],
            "beat_name": wards["WD13NM"].str.strip(),
            "district": wards["LAD_NM"],
            "npa_name": wards["LAD_NM"].map(force.npa_of_district),
        },
        geometry=wards.geometry,
        crs=27700,
    )
    # Ward names repeat across districts ("Castle" in Leicester and Charnwood): qualify them.
    dup = beats["beat_name"].duplicated(keep=False)
    beats.loc[dup, "beat_name"] = (
        beats.loc[dup, "beat_name"] + " (" + beats.loc[dup, "district"] + ")"
    )
    if beats["beat_name"].duplicated().any():
        raise SystemExit(f"{slug}: ward names repeat within a district; qualify them further")
    beats = beats.sort_values("beat_code").reset_index(drop=True)
    _write_geojson_gz(beats, here / "beats_approx.geojson.gz", 6)
    npas = beats.dissolve("npa_name", as_index=False)[["npa_name", "geometry"]]
    npas["geometry"] = npas.buffer(0.5).buffer(-0.5)  # close slivers between wards
    _write_geojson_gz(npas, here / "npas_approx.geojson.gz", 6)
    total = sum(p.stat().st_size for p in here.iterdir()) / 1e6
    print(f"{slug}: {len(beats)} beats, {len(npas)} NPAs; {total:.2f} MB in {here}")


def main(argv: list[str]) -> None:
    """Build the forces named in ``argv`` (all seed forces when none is named)."""
    if not SHARED.is_dir():
        raise SystemExit(f"the source data folder {SHARED} is missing")
    unknown = sorted(set(argv) - set(FORCES))
    if unknown:
        raise SystemExit(f"unknown force(s) {unknown}; choose from {sorted(FORCES)}")
    for slug in argv or FORCES:
        build_force(slug, FORCES[slug])


if __name__ == "__main__":
    main(sys.argv[1:])
