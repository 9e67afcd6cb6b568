"""police.uk neighbourhood boundaries (KML download, API JSON) and the shipped seed forces.

The neighbourhood fixtures are built at test time from the real police.uk sample in
``../shared/data/police-neighbourhoods-leicestershire``: the NC04 City Centre boundary as the
API serves it (85 vertices, self-intersecting), and two neighbours made from its convex hull
moved west and east (valid), written as police.uk writes them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import hotspots.io._neighbourhoods as neighbourhoods
from hotspots.boundaries import POLICE_UK_ATTRIBUTION, list_boundaries, load_areas, registry
from hotspots.cli import main
from hotspots.io import is_police_neighbourhoods, read_police_neighbourhoods
from hotspots.schema import InputError
from tests.helpers import ROOT, write_police_csv

SAMPLE = "police-neighbourhoods-leicestershire"
BOUNDARY = "police_leicestershire_NC04_boundary.json"
LIST = "police_leicestershire_neighbourhoods.json"
NAMES = {"NC04": "City Centre", "NC08": "Westcotes", "NC66": "Cultural Quarter"}
CLOCK_TOWER = (-1.1339, 52.6366)  # inside NC04 City Centre

Ring = list[tuple[float, float]]


# --- fixtures: police.uk-format files made from the real sample --------------------------


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> Path:
    return shared_data / SAMPLE


@pytest.fixture(scope="module")
def rings(sample: Path) -> dict[str, Ring]:
    """NC04 as served, NC08 and NC66 as its convex hull moved one and a bit widths away."""
    points = json.loads((sample / BOUNDARY).read_text())
    nc04 = [(float(p["longitude"]), float(p["latitude"])) for p in points]
    hull = shapely.Polygon(nc04).convex_hull
    xmin, _, xmax, _ = hull.bounds
    step = 1.2 * (xmax - xmin)
    moved = {
        k: shapely.affinity.translate(hull, xoff=dx) for k, dx in (("NC08", -step), ("NC66", step))
    }
    return {"NC04": nc04} | {k: list(g.exterior.coords) for k, g in moved.items()}


def kml(ident: str, ring: Ring) -> str:
    """One neighbourhood as police.uk's KML download has it: a Placemark with a Polygon."""
    coords = " ".join(f"{x:.10f},{y:.10f},0" for x, y in ring)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2">\n<Document><name>neighbourhoods</name>\n'
        f"<Placemark><name>{ident}</name><Polygon><outerBoundaryIs><LinearRing>\n"
        f"<coordinates>{coords}</coordinates>\n"
        "</LinearRing></outerBoundaryIs></Polygon></Placemark>\n</Document></kml>\n"
    )


@pytest.fixture
def download_zip(tmp_path: Path, rings: dict[str, Ring]) -> Path:
    """The zip as downloaded: ``leicestershire/<id>.kml``, no names."""
    path = tmp_path / "police-boundaries.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("leicestershire/", "")
        for ident, ring in rings.items():
            zf.writestr(f"leicestershire/{ident}.kml", kml(ident, ring))
    return path


@pytest.fixture
def kml_folder(tmp_path: Path, rings: dict[str, Ring], sample: Path) -> Path:
    """The unzipped force folder with the API's neighbourhood list and a grouping table."""
    folder = tmp_path / "boundaries" / "leicestershire"
    folder.mkdir(parents=True)
    for ident, ring in rings.items():
        (folder / f"{ident}.kml").write_text(kml(ident, ring))
    (folder / LIST).write_bytes((sample / LIST).read_bytes())
    # By id and by name, as an analyst would type them.
    (folder / "npa.csv").write_text("neighbourhood,npa\nNC04,City\nWestcotes,West\nNC66,City\n")
    return folder


@pytest.fixture
def api_folder(tmp_path: Path, sample: Path) -> Path:
    """API responses saved as fetched: the NC04 boundary and the neighbourhood list."""
    folder = tmp_path / "api"
    folder.mkdir()
    for name in (BOUNDARY, LIST):
        (folder / name).write_bytes((sample / name).read_bytes())
    return folder


def _one_line(exc: pytest.ExceptionInfo[BaseException], *words: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


# --- API boundary JSON ---------------------------------------------------------------------


def test_api_boundary_is_repaired_counted_and_named_from_the_list(api_folder: Path) -> None:
    assert is_police_neighbourhoods(api_folder)
    [beats] = load_areas(api_folder)
    assert beats.layer == "beat"
    assert beats.polygons["name"].tolist() == ["City Centre"]
    assert beats.repaired == 1  # the served ring self-intersects
    assert beats.source == f"{api_folder}:name"
    assert beats.attribution == POLICE_UK_ATTRIBUTION
    [poly] = beats.polygons.to_crs(4326).geometry
    assert poly.is_valid and poly.contains(shapely.Point(CLOCK_TOWER))


def test_api_boundary_file_alone_is_named_by_its_file(api_folder: Path) -> None:
    one = api_folder / BOUNDARY
    assert is_police_neighbourhoods(one)
    frame = read_police_neighbourhoods(one)
    assert frame["neighbourhood"].tolist() == ["police_leicestershire_NC04"]
    assert frame["name"].tolist() == ["police_leicestershire_NC04"]
    assert not frame.geometry.iloc[0].is_valid  # returned as served; load_areas repairs
    assert read_police_neighbourhoods(one, names=api_folder / LIST)["name"].tolist() == [
        "City Centre"
    ]


def test_geojson_named_json_is_left_to_gdal(tmp_path: Path, sample: Path) -> None:
    path = tmp_path / "nc04.json"
    path.write_bytes((sample / "NC04_city_centre_boundary.geojson").read_bytes())
    assert not is_police_neighbourhoods(path)


def test_api_json_errors_name_the_file_and_value(tmp_path: Path) -> None:
    folder = tmp_path / "api"
    folder.mkdir()
    bad = folder / "NC04.json"
    bad.write_text(
        '[{"latitude": "52.6", "longitude": "-1.1"}, {"latitude": "north", '
        '"longitude": "-1.2"}, {"latitude": "52.7", "longitude": "-1.3"}]'
    )
    with pytest.raises(InputError) as exc:
        load_areas(folder)
    _one_line(exc, "NC04.json", "point 2", "'north'")
    bad.write_text('{"id": "NC04"}')
    with pytest.raises(InputError) as exc:
        load_areas(folder)
    _one_line(exc, "NC04.json", "latitude/longitude", "id/name")


# --- KML: the zip as downloaded and the folder ---------------------------------------------


def test_kml_zip_as_downloaded(download_zip: Path) -> None:
    assert is_police_neighbourhoods(download_zip)
    [beats] = load_areas(download_zip)
    assert beats.polygons["name"].tolist() == ["NC04", "NC08", "NC66"]  # the KML <name>
    assert beats.repaired == 1
    assert beats.polygons.crs.to_epsg() == 27700


def test_kml_folder_with_list_and_grouping_gives_beats_and_npas(kml_folder: Path) -> None:
    beats, npas = load_areas(kml_folder)
    assert (beats.layer, npas.layer) == ("beat", "npa")
    assert beats.polygons["name"].tolist() == ["City Centre", "Cultural Quarter", "Westcotes"]
    assert beats.repaired == 1
    assert npas.derived_from == "beat"
    assert dict(npas.parent_names) == {
        "City Centre": "City",
        "Cultural Quarter": "City",
        "Westcotes": "West",
    }
    assert npas.polygons["name"].tolist() == ["City", "West"]
    area = beats.polygons.set_index("name").area
    assert npas.polygons.set_index("name").area["City"] == pytest.approx(
        area["City Centre"] + area["Cultural Quarter"], rel=1e-9
    )


def test_area_field_picks_the_columns(kml_folder: Path) -> None:
    [ids] = load_areas(kml_folder, {"beat": "neighbourhood"})
    assert ids.polygons["name"].tolist() == ["NC04", "NC08", "NC66"]


def test_names_that_repeat_are_told_apart(download_zip: Path) -> None:
    frame = read_police_neighbourhoods(
        download_zip, names={"NC04": "Centre", "NC08": "Centre", "NC66": "Quarter"}
    )
    assert frame["name"].tolist() == ["Centre (NC04)", "Centre (NC08)", "Quarter"]


def test_zip_of_several_forces_is_narrowed_by_folder(tmp_path: Path, rings: dict) -> None:
    path = tmp_path / "all-forces.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("leicestershire/NC04.kml", kml("NC04", rings["NC04"]))
        zf.writestr("lincolnshire/L1.kml", kml("L1", rings["NC08"]))
    with pytest.raises(InputError) as exc:
        load_areas(path)
    _one_line(exc, "all-forces.zip", "2 folders", "leicestershire", f"{path}/lincolnshire")
    [beats] = load_areas(f"{path}/lincolnshire")
    assert beats.polygons["name"].tolist() == ["L1"]
    with pytest.raises(InputError) as exc:
        load_areas(f"{path}/rutland")
    _one_line(exc, "'rutland'", "leicestershire, lincolnshire")


def test_grouping_must_cover_every_neighbourhood(kml_folder: Path) -> None:
    (kml_folder / "npa.csv").write_text("neighbourhood,npa\nNC04,City\nNC66,City\n")
    with pytest.raises(InputError) as exc:
        load_areas(kml_folder)
    _one_line(exc, "npa.csv", "NC08")
    (kml_folder / "npa.csv").write_text("neighbourhood,npa\nNC04,City\nNC04,West\n")
    with pytest.raises(InputError) as exc:
        load_areas(kml_folder)
    _one_line(exc, "npa.csv", "line 3", "'West'", "line 2")


# --- untrusted KML ----------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE kml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<kml xmlns="http://www.opengis.net/kml/2.2"><Placemark><name>&d;</name></Placemark></kml>
"""


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BILLION_LAUGHS, ("DOCTYPE",)),
        ('<!DOCTYPE kml SYSTEM "file:///etc/passwd"><kml/>', ("DOCTYPE",)),
        ("<kml><Placemark><name>x</name>", ("not a valid KML", "line 1")),
        ("<kml><Placemark><name>x</name></Placemark></kml>", ("no Polygon",)),
        (
            "<kml><Placemark><Polygon><outerBoundaryIs><LinearRing>\n<coordinates>"
            "-1.1,52.6 abc,52.7 -1.2,52.7</coordinates></LinearRing></outerBoundaryIs>"
            "</Polygon></Placemark></kml>",
            ("line 2", "'abc,52.7'"),
        ),
        (
            "<kml><Placemark><Polygon><outerBoundaryIs><LinearRing><coordinates>"
            "452000,304000 452100,304000 452100,304100</coordinates></LinearRing>"
            "</outerBoundaryIs></Polygon></Placemark></kml>",
            ("452000", "not degrees"),
        ),
    ],
    ids=["billion-laughs", "external-entity", "truncated", "no-polygon", "bad-number", "metres"],
)
def test_hostile_or_broken_kml_is_refused_in_one_line(
    tmp_path: Path, text: str, words: tuple[str, ...]
) -> None:
    folder = tmp_path / "force"
    folder.mkdir()
    (folder / "NC04.kml").write_text(text)
    with pytest.raises(InputError) as exc:
        load_areas(folder)
    _one_line(exc, "NC04.kml", *words)


def test_reading_is_bounded(monkeypatch, download_zip: Path, kml_folder: Path) -> None:
    monkeypatch.setattr(neighbourhoods, "MAX_FILE_BYTES", 1000)
    with pytest.raises(InputError) as exc:
        load_areas(download_zip)
    _one_line(exc, "police-boundaries.zip!leicestershire/NC04.kml", "larger than")
    monkeypatch.setattr(neighbourhoods, "MAX_FILE_BYTES", 2**20)
    monkeypatch.setattr(neighbourhoods, "MAX_TOTAL_BYTES", 4000)
    with pytest.raises(InputError) as exc:
        load_areas(download_zip)
    _one_line(exc, "police-boundaries.zip", "one force")
    monkeypatch.setattr(neighbourhoods, "MAX_FILES", 3)
    with pytest.raises(InputError) as exc:
        load_areas(kml_folder)
    _one_line(exc, "more than 3 files")


# --- the CLI, end to end ---------------------------------------------------------------------


def _incidents(path: Path, rings: dict[str, Ring]) -> Path:
    """40 ASB rows by the Clock Tower (NC04), 15 at the middle of each neighbour."""
    centres = [CLOCK_TOWER] * 40 + [
        tuple(shapely.Polygon(rings[k]).centroid.coords[0])
        for k in ("NC08", "NC66")
        for _ in range(15)
    ]
    rows = [
        {
            "Month": f"2025-0{5 + i % 2}",
            "Longitude": f"{x + (i % 4) * 1e-5:.6f}",
            "Latitude": f"{y:.6f}",
            "Location": "On or near Clock Tower",
            "Crime type": "Anti-social behaviour",
            "Falls within": "Leicestershire Police",
        }
        for i, (x, y) in enumerate(centres)
    ]
    return write_police_csv(path, rows)


def test_cli_run_with_the_kml_zip(tmp_path: Path, download_zip: Path, rings: dict) -> None:
    csv = _incidents(tmp_path / "2025-06-leicestershire-street.csv", rings)
    out = tmp_path / "out"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(csv),
                "--areas",
                str(download_zip),
                "--area-field",
                "beat=name",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    meta = json.loads((out / "run.json").read_text())
    assert (meta["rows_read"], meta["rows_used"]) == (70, 70)
    areas = pd.read_csv(out / "areas.csv")
    beats = areas[areas["layer"] == "beat"].set_index("name")["incidents"].to_dict()
    assert beats == {"NC04": 40, "NC08": 15, "NC66": 15}
    assert POLICE_UK_ATTRIBUTION in meta["attribution"]


def test_cli_run_with_the_folder_gives_named_beats_and_npas(
    tmp_path: Path, kml_folder: Path, rings: dict
) -> None:
    csv = _incidents(tmp_path / "2025-06-leicestershire-street.csv", rings)
    out = tmp_path / "out"
    assert (
        main(["-q", "run", "--incidents", str(csv), "--areas", str(kml_folder), "--out", str(out)])
        == 0
    )
    areas = pd.read_csv(out / "areas.csv")
    got = {(r.layer, r.name): r.incidents for r in areas.itertuples()}
    assert got == {
        ("beat", "City Centre"): 40,
        ("beat", "Westcotes"): 15,
        ("beat", "Cultural Quarter"): 15,
        ("npa", "City"): 55,
        ("npa", "West"): 15,
    }


def test_cli_bad_kml_exits_2_in_one_line(tmp_path: Path, rings: dict, capsys) -> None:
    folder = tmp_path / "force"
    folder.mkdir()
    (folder / "NC04.kml").write_text(BILLION_LAUGHS)
    csv = _incidents(tmp_path / "2025-06-x-street.csv", rings)
    assert (
        main(
            ["run", "--incidents", str(csv), "--areas", str(folder), "--out", str(tmp_path / "out")]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "NC04.kml" in err and "DOCTYPE" in err and "Traceback" not in err
    assert len(err.splitlines()) == 1


# --- the shipped seed forces ----------------------------------------------------------------

SEED = {
    "lincolnshire/beats": {"beat": 180, "npa": 7, "district": 7},
    "lincolnshire/npas": {"npa": 7},
    "lincolnshire/lsoa2011": {"lsoa": 420},
    "lincolnshire/lsoa2021": {"lsoa": 435},
    "lincolnshire/wards": {"ward": 179},  # St Mary's: two wards of one name
    "lincolnshire/districts": {"district": 7},
    "lincolnshire/force": {"force": 1},
    "cambridgeshire/beats": {"beat": 147, "npa": 6, "district": 6},
    "cambridgeshire/npas": {"npa": 6},
    "cambridgeshire/lsoa2011": {"lsoa": 487},
    "cambridgeshire/lsoa2021": {"lsoa": 516},
    "cambridgeshire/wards": {"ward": 147},
    "cambridgeshire/districts": {"district": 6},
    "cambridgeshire/force": {"force": 1},
}


@pytest.mark.parametrize("name", sorted(SEED))
def test_seed_force_layers_load(name: str) -> None:
    layers = load_areas(name)
    assert {x.layer: len(x.polygons) for x in layers} == SEED[name]
    assert all(x.repaired == 0 for x in layers)
    assert name in list_boundaries()
    assert "Office for National Statistics" in registry()[name]["attribution"]


def test_seed_npas_and_areas() -> None:
    lincs = load_areas("lincolnshire/beats")
    assert lincs[1].polygons["name"].tolist() == [
        "Boston",
        "East Lindsey",
        "Lincoln",
        "North Kesteven",
        "South Holland",
        "South Kesteven",
        "West Lindsey",
    ]
    assert "St Mary's (South Kesteven)" in set(lincs[0].polygons["name"])
    cambs = load_areas("cambridgeshire/npas")[0].polygons["name"].tolist()
    assert cambs == [
        "Cambridge City",
        "East Cambridgeshire",
        "Fenland",
        "Huntingdonshire",
        "Peterborough",
        "South Cambridgeshire",
    ]
    # The 6-decimal rewrite keeps the published areas (PROVENANCE.md: 5,920.6 and 3,396.2 km²).
    for name, km2 in (("lincolnshire/force", 5920.6), ("cambridgeshire/force", 3396.2)):
        assert load_areas(name)[0].polygons.area.sum() / 1e6 == pytest.approx(km2, abs=0.05)


def test_every_shipped_layer_is_documented_and_small() -> None:
    docs = (ROOT / "docs" / "boundaries.md").read_text()
    for name, entry in registry().items():
        assert f"`{name}`" in docs, name
        path = ROOT / "hotspots" / "_data" / "boundaries" / str(entry["file"])
        assert path.stat().st_size < 600_000, name


LINCS_TOWNS = {  # town centres, lon/lat
    "Lincoln": (-0.5406, 53.2307),
    "Boston": (-0.0266, 52.9789),
    "Grantham": (-0.6386, 52.9119),
    "Gainsborough": (-0.7749, 53.3989),
    "Skegness": (0.3363, 53.1436),
    "Spalding": (-0.1505, 52.7876),
    "Stamford": (-0.4784, 52.6519),
    "Sleaford": (-0.4089, 52.9983),
    "Louth": (0.0066, 53.3670),
    "Mablethorpe": (0.2599, 53.3409),
    "Ingoldmells": (0.3386, 53.1920),  # the resort north of Skegness (Butlins)
}


@pytest.mark.slow
def test_lincolnshire_run_with_the_shipped_beats(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "lincs"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(shared_data / "police-uk-street-lincolnshire-2025"),
                "--areas",
                "lincolnshire/beats",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    meta = json.loads((out / "run.json").read_text())
    located = meta["rows_read"] - meta["rejects_by_reason"].get("no_location", 0)
    assert meta["rows_read"] == 68_522
    assert meta["rows_used"] / located >= 0.95
    top = gpd.read_file(out / "hotspots.geojson").sort_values("rank").head(5)
    towns = gpd.GeoSeries(
        [shapely.Point(p) for p in LINCS_TOWNS.values()], index=list(LINCS_TOWNS), crs=4326
    ).to_crs(27700)
    nearest = []
    for centre in top.to_crs(27700).geometry.centroid:
        distance = towns.distance(centre)
        assert distance.min() < 3000, distance.idxmin()
        nearest.append(distance.idxmin())
    assert {"Lincoln", "Boston"} <= set(nearest)
