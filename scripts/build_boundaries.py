"""Build the embedded approximate beat and NPA layers for Leicestershire.

No complete set of police beat / Neighbourhood Policing Area polygons is published in a
form we could ship, so the embedded default approximates them:

* beats = 2013 electoral wards (171), each carrying its district and NPA name;
* NPAs  = districts grouped as Leicestershire Police's six NPAs are commonly drawn:
  Leicester City; Charnwood; Hinckley & Blaby; North West Leicestershire;
  Melton & Rutland; Harborough with Oadby & Wigston.

Forces should point hotspots at their own beat/NPA files (``--areas FILE --area-field
beat=FIELD``). Run from the repository root: ``python scripts/build_boundaries.py``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

HERE = Path(__file__).resolve().parents[1] / "hotspots" / "_data" / "boundaries" / "leicestershire"

NPA_OF_DISTRICT = {
    "Leicester": "Leicester City",
    "Charnwood": "Charnwood",
    "Hinckley and Bosworth": "Hinckley & Blaby",
    "Blaby": "Hinckley & Blaby",
    "North West Leicestershire": "North West Leicestershire",
    "Melton": "Melton & Rutland",
    "Rutland": "Melton & Rutland",
    "Harborough": "Harborough with Oadby & Wigston",
    "Oadby and Wigston": "Harborough with Oadby & Wigston",
}


def main() -> None:
    wards = gpd.read_file(f"/vsigzip/{HERE / 'wards2013_leicestershire_rutland.geojson.gz'}")
    wards = wards.to_crs(27700)
    wards["geometry"] = shapely.make_valid(wards.geometry.values)
    beats = gpd.GeoDataFrame(
        {
            "beat_code": wards["WD13CD"],
            "beat_name": wards["WD13NM"].str.strip(),
            "district": wards["LAD_NM"],
            "npa_name": wards["LAD_NM"].map(NPA_OF_DISTRICT),
        },
        geometry=wards.geometry,
        crs=27700,
    )
    # Ward names repeat across districts ("Castle" in Leicester and Charnwood): qualify them.
    dup = beats["beat_name"].duplicated(keep=False)
    beats.loc[dup, "beat_name"] = (
        beats.loc[dup, "beat_name"] + " (" + beats.loc[dup, "district"] + ")"
    )
    beats = beats.sort_values("beat_code").reset_index(drop=True)
    beats.to_crs(4326).to_file(
        HERE / "beats_approx.geojson", driver="GeoJSON", COORDINATE_PRECISION=6
    )
    npas = beats.dissolve("npa_name", as_index=False)[["npa_name", "geometry"]]
    npas["geometry"] = npas.buffer(0.5).buffer(-0.5)  # close slivers between wards
    npas.to_crs(4326).to_file(
        HERE / "npas_approx.geojson", driver="GeoJSON", COORDINATE_PRECISION=6
    )
    print(f"{len(beats)} beats, {len(npas)} NPAs written to {HERE}")


if __name__ == "__main__":
    main()
