"""The bad-input corpus (tests/data/bad, see its README) through the input stages.

Every case ends in a one-line :class:`HotspotsError` naming the file (and column or value)
or in rejects with a known reason, with ``rows read == used + rejected``.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspots.assign import assign_areas
from hotspots.boundaries import AreaLayer, load_areas
from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import (
    ColumnMapping,
    InputSpec,
    LoadResult,
    empty_rejects,
    load_incidents,
    make_rejects,
    read_postcode_table,
)
from hotspots.io._dates import parse_dates
from hotspots.pipeline import load_config
from hotspots.schema import (
    CRSError,
    HotspotsError,
    InputError,
    MissingFileError,
    Reason,
)
from tests.helpers import DATA, write_police_csv

BAD = DATA / "bad"
REASONS = {str(r) for r in Reason}


@pytest.fixture(scope="module")
def messy() -> list[AreaLayer]:
    """A small layer with every geometry fault (see the corpus README)."""
    return load_areas(BAD / "areas_messy_27700.geojson", {"beat": "beat_name", "npa": "npa_name"})


@pytest.fixture(scope="module")
def beats() -> list[AreaLayer]:
    """The shipped beats: the study area for the corpus's Leicester points."""
    return load_areas("leicestershire/beats")[:1]


def _through(
    load: LoadResult, layers: list[AreaLayer], postcodes: PostcodeIndex | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """load → locate → assign, as the pipeline does; returns (used, all rejects)."""
    located = locate_incidents(load.incidents, postcodes=postcodes)
    used, outside = assign_areas(located.incidents, layers)
    parts = [load.rejects, located.rejects]
    parts.append(make_rejects(used.loc[outside, "_row"], Reason.OUTSIDE_STUDY_AREA, ""))
    rejects = pd.concat([p for p in parts if len(p)] or [empty_rejects()], ignore_index=True)
    return used.loc[~outside].reset_index(drop=True), rejects


def _lines(load: LoadResult, rows: pd.Series) -> list[int]:
    return load.raw.loc[rows.to_numpy(), "_line"].tolist()


def _by_line(load: LoadResult, rejects: pd.DataFrame, col: str = "reason") -> dict[int, str]:
    return dict(zip(_lines(load, rejects["_row"]), rejects[col], strict=True))


def _one_line_naming(exc: pytest.ExceptionInfo, *names: str) -> None:
    text = str(exc.value)
    assert "\n" not in text
    for n in names:
        assert n in text, (n, text)


# --- files that cannot be read: one clear error -------------------------------------


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("empty.csv", InputError, ["empty.csv", "empty"]),
        ("2025-06-ragged-street.csv", InputError, ["line 3 has 13 fields", "header has 12"]),
        ("2025-06-unclosed_quote-street.csv", InputError, ["quote opened on line 3"]),
        ("2025-06-truncated-street.csv.gz", InputError, ["truncated-street.csv.gz", "gzip"]),
        ("no_csvs.zip", InputError, ["no_csvs.zip", "no .csv", "readme.pdf"]),
        ("folder_without_csvs", InputError, ["folder_without_csvs", "no .csv"]),
        ("real_workbook.xlsx", InputError, ["real_workbook.xlsx", "Excel", "columns"]),
        ("wrong_columns.csv", InputError, ["wrong_columns.csv", "'Month'", "'Ref'"]),
        ("does_not_exist.csv", MissingFileError, ["does_not_exist.csv"]),
    ],
)
def test_unreadable_police_uk_inputs(name: str, error: type, words: list[str]) -> None:
    with pytest.raises(error) as exc:
        load_incidents(BAD / name)
    _one_line_naming(exc, *words)


def test_zip_damage_and_gzipped_members(tmp_path: Path) -> None:
    plain = BAD / "2025-06-small_run-street.csv"
    gz_zip = tmp_path / "gz.zip"
    with zipfile.ZipFile(gz_zip, "w") as zf:
        zf.writestr("2025-06/2025-06-x-street.csv.gz", gzip.compress(plain.read_bytes()))
    assert load_incidents(gz_zip).rows_read == load_incidents(plain).rows_read == 36
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("2025-06-x-street.csv", plain.read_bytes() * 3)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(good.read_bytes()[:-40])  # the central directory is lost
    with pytest.raises(InputError) as exc:
        load_incidents(cut)
    _one_line_naming(exc, "cut.zip", "not a valid zip")


# --- police.uk files whose rows are read (or rejected) -------------------------------


def test_header_only_file_reads_no_rows() -> None:
    r = load_incidents(BAD / "2025-06-header_only-street.csv")
    assert (r.rows_read, len(r.incidents), len(r.rejects)) == (0, 0, 0)


def test_encodings_and_delimiters_read_alike() -> None:
    names = ["semicolon", "cp1252", "bom", "utf16_tabs"]
    r = load_incidents([InputSpec.police_uk([BAD / f"2025-06-{n}-street.csv" for n in names])])
    assert r.rows_read == len(r.incidents) == 8
    assert [f["encoding"] for f in r.files] == ["utf-8", "cp1252", "utf-8", "utf-16"]
    assert "Crime ID" in r.raw.columns  # the BOM is not glued to the first header
    assert set(r.incidents["location"]) == {
        "On or near High Street",
        "On or near £1 Shop",
        "Café Rouge",
        "Café",
    }
    assert r.incidents["category"].tolist().count("Burglary") == 1


def test_excel_mangled_months_are_read_as_the_month() -> None:
    r = load_incidents(BAD / "2025-06-excel_dates-street.csv")
    assert len(r.rejects) == 0
    assert (r.incidents["when"] == pd.Timestamp("2025-06-01")).all()
    assert (r.incidents["precision"] == "month").all()


def test_bad_months_rejected_with_their_value() -> None:
    r = load_incidents(BAD / "2025-06-bad_months-street.csv")
    assert len(r.incidents) == 1 and set(r.rejects["reason"]) == {"bad_date"}
    assert r.rejects["detail"].tolist() == [
        "unparseable or implausible date '2023-13'",
        "unparseable or implausible date '20X3-01'",
        "blank date",
        "unparseable or implausible date '1899-01'",
        "unparseable or implausible date '2099-01'",
        "unparseable or implausible date '2023-00'",
        "unparseable or implausible date 'NaN'",
    ]


def test_bad_coordinates_line_by_line(beats: list[AreaLayer]) -> None:
    r = load_incidents(BAD / "2025-06-bad_coords-street.csv")
    used, rejects = _through(r, beats)
    assert _by_line(r, rejects) == {
        3: "no_location",
        4: "no_location",  # NaN, NaN written out
        5: "bad_coordinates",  # nan longitude
        6: "bad_coordinates",  # inf
        7: "bad_coordinates",  # -inf
        8: "bad_coordinates",  # abc
        9: "bad_coordinates",  # 1e400 overflows to inf
        10: "null_island",
        11: "null_island",
        14: "outside_uk",  # Paris
        15: "outside_study_area",  # London
        16: "bad_coordinates",  # latitude 95
        17: "bad_coordinates",  # decimal commas
    }
    assert r.rows_read == len(used) + len(rejects) == 17
    details = _by_line(r, rejects, "detail")
    assert details[8] == "not a number: Longitude 'abc'"
    assert details[17] == "not a number: Longitude '-1,13'"
    xy = used.set_index(pd.Index(_lines(r, used["_row"])))[["x", "y"]]
    # the swapped pair (line 12) and the padded one (18) land on the good row (line 2)
    assert np.allclose(xy.loc[[12, 18]].to_numpy(), xy.loc[[2, 2]].to_numpy())
    assert xy.loc[13].tolist() == [458900.0, 304500.0]  # BNG in lon/lat columns, kept


def test_duplicate_ids_and_blank_ids() -> None:
    r = load_incidents(BAD / "2025-06-duplicate_ids-street.csv")
    assert _by_line(r, r.rejects) == {3: "duplicate_id", 4: "duplicate_id"}
    assert r.incidents["incident_id"].tolist() == [
        "abc",
        "def",
        "2025-06-duplicate_ids-street.csv:6",
        "2025-06-duplicate_ids-street.csv:7",
    ]


def test_category_spacing_and_case() -> None:
    r = load_incidents(BAD / "2025-06-categories-street.csv")
    assert r.incidents["category"].tolist() == [
        "Anti-social behaviour",
        "Burglary",
        "Violence and sexual offences",
        "Violence and sexual offences",
        "Fly tipping",
    ]
    assert _by_line(r, r.rejects) == {6: "no_category", 7: "no_category"}
    assert r.unmapped_categories == {"police.uk": ["Fly tipping"]}


def test_quoted_line_breaks_keep_true_line_numbers() -> None:
    r = load_incidents(BAD / "2025-06-embedded_newline-street.csv")
    assert _by_line(r, r.rejects) == {5: "bad_date", 7: "no_location"}
    assert r.incidents["location"].tolist() == ["On or near\nHigh Street", 'On or near "The Bar"']
    assert r.raw["_line"].tolist() == [2, 4, 5, 7]


# --- partner exports through a config -----------------------------------------------


def test_council_export_with_a_bad_postcode_table(beats: list[AreaLayer]) -> None:
    cfg = load_config(BAD / "export_council.toml")
    table, dropped = read_postcode_table(cfg.postcodes)
    assert dropped == 5  # blank, non-numeric, NSPL 99.999999, blank postcode, a sector
    index = PostcodeIndex.from_table(table)
    assert sorted(index.full.index) == ["LE1 5FQ", "LE11 3AB", "LE11 3AD", "LE11 3AE"]
    assert sorted(index.sectors.index) == ["LE1 5", "LE11 3"]
    r = load_incidents(cfg.inputs)
    used, rejects = _through(r, beats, index)
    assert _by_line(r, rejects) == {
        5: "bad_date",  # C4 31/02/2025
        6: "no_category",  # C5
        7: "bad_postcode",  # C6 a district only
        8: "unknown_postcode",  # C7
        9: "bad_postcode",  # C8
        10: "no_location",  # C9
        11: "duplicate_id",  # C9 again
        12: "outside_study_area",  # C10 easting/northing swapped: a valid point elsewhere
        13: "null_island",  # C11
        15: "bad_date",  # C13 in 2030
    }
    assert r.rows_read == len(used) + len(rejects) == 15
    u = used.set_index("incident_id")
    assert u.loc["C1", "Cost"] == "£5"  # cp1252 pass-through column
    assert u.loc["C1", "category"] == "Anti-social behaviour"
    assert u["precision"].to_dict() == {
        "C1": "day",
        "C2": "minute",
        "C3": "day",
        "C12": "day",
        "C14": "day",
    }
    assert u.loc["C3", "when"] == pd.Timestamp("2025-06-23")  # Excel serial 45831
    assert u.loc["C2", "x"] == u.loc["C1", "x"]  # "le15fq" is LE1 5FQ
    assert u.loc["C14", "loc_precision_m"] > 100  # a sector centroid
    assert u.loc["C12", "geocode_note"] == "lon/lat in easting/northing columns, fixed"


def test_geojson_export_in_wgs84_and_web_mercator(tmp_path: Path) -> None:
    cfg = load_config(BAD / "export_geojson.toml")
    r = load_incidents(cfg.inputs)
    located = locate_incidents(r.incidents)
    rejects = pd.concat([r.rejects, located.rejects])
    assert dict(zip(r.raw.loc[rejects["_row"], "ref"], rejects["reason"], strict=True)) == {
        "G3": "null_island",
        "G4": "no_location",
        "G5": "outside_uk",
        "G6": "bad_date",
    }
    assert located.incidents["incident_id"].tolist() == ["G1", "G2"]
    # The same layer saved in Web Mercator must give the same points, not be read as BNG.
    mercator = tmp_path / "mercator.geojson"
    gpd.read_file(BAD / "incidents_4326.geojson").to_crs(3857).to_file(mercator)
    spec = InputSpec((str(mercator),), "web", ColumnMapping(id="ref", date="date", category="type"))
    again = locate_incidents(load_incidents(spec).incidents)
    assert again.incidents["incident_id"].tolist() == ["G1", "G2"]
    assert np.allclose(again.incidents[["x", "y"]], located.incidents[["x", "y"]], atol=0.01)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("export_missing_column.toml", ["export_council.csv", "'Date reported'", "'Reported'"]),
        ("export_wrong_delimiter.toml", ["export_semicolon.csv", "delimiter"]),
        ("export_not_xlsx.toml", ["not_really.xlsx", "Excel workbook"]),
    ],
)
def test_export_mapping_errors(config: str, words: list[str]) -> None:
    with pytest.raises(InputError) as exc:
        load_incidents(load_config(BAD / config).inputs)
    _one_line_naming(exc, *words)


def test_mapping_without_location_or_category_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("Ref,Date,Type\n1,01/06/2025,Noise\n")
    for mapping, word in (
        (ColumnMapping(id="Ref", date="Date", category="Type"), "location"),
        (ColumnMapping(id="Ref", date="Date", easting="E", northing="N"), "category"),
    ):
        with pytest.raises(InputError) as exc:
            load_incidents(InputSpec((str(p),), "x", mapping))
        _one_line_naming(exc, "e.csv", word)


def test_mapped_folder_reads_every_file(tmp_path: Path) -> None:
    for month in ("06", "07"):
        (tmp_path / f"cases-{month}.csv").write_text(
            f"Ref,Date,Type,E,N\n{month}a,01/{month}/2025,Noise,458900,304500\n"
        )
    m = ColumnMapping(id="Ref", date="Date", category="Type", easting="E", northing="N")
    r = load_incidents(InputSpec((str(tmp_path),), "council", m))
    assert r.incidents["incident_id"].tolist() == ["06a", "07a"]


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ("config_typo_key.toml", ["config_typo_key.toml", "cel_size_m"]),
        ("config_unknown_section.toml", ["config_unknown_section.toml", "grids"]),
        ("config_not_toml.toml", ["config_not_toml.toml", "TOML"]),
    ],
)
def test_config_errors(config: str, words: list[str]) -> None:
    with pytest.raises(InputError) as exc:
        load_config(BAD / config)
    _one_line_naming(exc, *words)


def test_config_bad_month_names_the_value() -> None:
    with pytest.raises(InputError) as exc:
        load_config(BAD / "config_bad_month.toml").period()
    _one_line_naming(exc, "'2025-13'")


def test_time_zones_become_uk_clock_time() -> None:
    when, precision = parse_dates(
        pd.Series(["2025-01-10T09:00:00Z", "2025-07-10T09:00:00+00:00", "2025-07-10 09:00"])
    )
    assert [str(w) for w in when] == [
        "2025-01-10 09:00:00",
        "2025-07-10 10:00:00",
        "2025-07-10 09:00:00",
    ]
    assert precision.tolist() == ["minute"] * 3


# --- boundary layers -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["areas_messy_27700.geojson", "areas_messy_4326.geojson"])
def test_messy_boundaries_repaired_and_assigned(name: str) -> None:
    layers = load_areas(BAD / name, {"beat": "beat_name", "npa": "npa_name"})
    assert layers[0].repaired == 1  # the bow-tie
    assert layers[0].polygons["name"].tolist() == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    located = locate_incidents(load_incidents(BAD / "2025-06-messy_points-street.csv").incidents)
    inc, outside = assign_areas(located.incidents, layers)
    assert inc["beat"].tolist() == ["Alpha", "Bravo", "", "Charlie", "Delta", "Alpha", ""]
    assert inc["npa"].tolist() == ["North", "North", "", "South", "South", "North", ""]
    assert outside.tolist() == [False, False, True, False, False, False, True]
    assert inc["beat_snap_m"].tolist() == [0, 0, 0, 50, 50, 0, 0]


@pytest.mark.parametrize(
    ("source", "fields", "error", "words"),
    [
        ("areas_blank_names.geojson", {"beat": "beat_name"}, InputError, ["'beat_name'", "2, 4"]),
        ("areas_bng_no_crs_member.geojson", {"b": "beat_name"}, InputError, ["not degrees"]),
        ("areas_shapefile_no_prj/areas.shp", {"b": "beat_name"}, InputError, ["no CRS", "27700"]),
        ("areas_points.geojson", {"b": "beat_name"}, InputError, ["must be polygons", "Point"]),
        ("areas_messy_4326.geojson", {"b": "NOPE"}, InputError, ["'NOPE'", "'beat_name'"]),
        ("areas_messy_4326.geojson", None, InputError, ["--area-field"]),
    ],
)
def test_boundary_errors(source: str, fields, error: type, words: list[str]) -> None:
    with pytest.raises(error) as exc:
        load_areas(BAD / source, fields)
    _one_line_naming(exc, source.split("/")[-1], *words)


def test_registry_typo_lists_the_shipped_layers() -> None:
    with pytest.raises(MissingFileError) as exc:
        load_areas("leicestershire/beat")
    _one_line_naming(exc, "leicestershire/beat", "leicestershire/beats")


def test_layer_in_degrees_is_refused_by_assign_areas(messy: list[AreaLayer]) -> None:
    degrees = AreaLayer("beat", messy[0].polygons.to_crs(4326))
    points = pd.DataFrame({"_row": [0], "x": [457500.0], "y": [304500.0]})
    with pytest.raises(CRSError, match="beat"):
        assign_areas(points, [degrees])


# --- property tests: whatever the rows, counts add up and reasons are known ------------

_MONTHS = ["2025-06", "2025-13", "", "20X3-01", "Jun-25", "01/06/2025", "NaN", "2099-01"]
_LON = ["-1.1332", "-1.1400", "52.6342", "0", "", "abc", "inf", "NaN", "458900", "2.35", "-1,1"]
_LAT = ["52.6342", "52.6300", "-1.1332", "0", "", "xyz", "-inf", "nan", "304500", "48.85", "95"]
_CATS = ["Anti-social behaviour", "  burglary ", "", "NULL", "Fly_tipping"]
_IDS = ["", "a", "a ", "b", "NULL"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_MONTHS),
            st.sampled_from(_LON),
            st.sampled_from(_LAT),
            st.sampled_from(_CATS),
            st.sampled_from(_IDS),
        ),
        max_size=30,
    )
)
def test_police_rows_counts_add_up(tmp_path_factory, messy, rows) -> None:
    path = tmp_path_factory.mktemp("p") / "2025-06-x-street.csv"
    recs = [
        {"Month": m, "Longitude": lo, "Latitude": la, "Crime type": c, "Crime ID": i}
        for m, lo, la, c, i in rows
    ]
    load = load_incidents(write_police_csv(path, recs))
    used, rejects = _through(load, messy)
    assert load.rows_read == len(rows) == len(used) + len(rejects)
    assert set(rejects["reason"]) <= REASONS
    assert rejects["_row"].is_unique and set(rejects["_row"]).isdisjoint(used["_row"])
    assert used["beat"].ne("").all() and np.isfinite(used[["x", "y"]].to_numpy()).all()


_E = ["458900", "457500", "0", "", "-1.1332", "304500", "abc", "1e12"]
_N = ["304500", "303500", "0", "", "52.6342", "458900", "N/A", "-5"]
_PC = ["LE1 5FQ", "le15fq", "LE11 3", "LE11", "ZZ99 9ZZ", "", "???", "LE11 3AB"]
_DATES = ["25/06/2025", "2025-06-24 18:30", "45831", "31/02/2025", "", "2025-06-24T17:30Z"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_DATES),
            st.sampled_from(_E),
            st.sampled_from(_N),
            st.sampled_from(_PC),
            st.sampled_from(_CATS),
            st.sampled_from(_IDS),
        ),
        max_size=30,
    )
)
def test_mapped_rows_counts_add_up(tmp_path_factory, messy, rows) -> None:
    path = tmp_path_factory.mktemp("m") / "export.csv"
    frame = pd.DataFrame(rows, columns=["Date", "E", "N", "PC", "Type", "Ref"])
    frame.to_csv(path, index=False)
    m = ColumnMapping(
        id="Ref", date="Date", category="Type", easting="E", northing="N", postcode="PC"
    )
    table, _ = read_postcode_table(BAD / "postcodes_bad.csv")
    load = load_incidents(InputSpec((str(path),), "council", m))
    used, rejects = _through(load, messy, PostcodeIndex.from_table(table))
    assert load.rows_read == len(rows) == len(used) + len(rejects)
    assert set(rejects["reason"]) <= REASONS
    assert rejects["_row"].is_unique and set(rejects["_row"]).isdisjoint(used["_row"])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300) | st.text(alphabet=',;\t"\n\r £é0123456789-.abMonthLatitude'))
def test_any_bytes_give_rows_or_a_hotspots_error(tmp_path_factory, content) -> None:
    header = b"Crime ID,Month,Longitude,Latitude,Crime type\n"
    body = content if isinstance(content, bytes) else content.encode("utf-8")
    path = tmp_path_factory.mktemp("b") / "2025-06-x-street.csv"
    for data in (body, header + body):
        path.write_bytes(data)
        try:
            load = load_incidents(path)
        except HotspotsError as exc:
            assert "\n" not in str(exc)
            continue
        located = locate_incidents(load.incidents)
        assert load.rows_read == len(located.incidents) + len(load.rejects) + len(located.rejects)


def test_assign_areas_on_a_layer_of_only_broken_polygons(tmp_path: Path) -> None:
    spike = shapely.Polygon([(0, 0), (10, 0), (20, 0), (0, 0)])  # no area at all
    gdf = gpd.GeoDataFrame({"n": ["a"]}, geometry=[spike], crs=27700)
    gdf.to_file(tmp_path / "spike.geojson")
    with pytest.raises(InputError) as exc:
        load_areas(tmp_path / "spike.geojson", {"beat": "n"})
    _one_line_naming(exc, "spike.geojson", "usable polygon")


def test_one_category_given_as_a_string_is_not_split_into_letters() -> None:
    r = load_incidents(BAD / "2025-06-small_run-street.csv", categories="burglary")
    assert set(r.incidents["category"]) == {"Burglary"} and len(r.incidents) == 10


@pytest.mark.parametrize("tolerance", [-5.0, float("nan"), float("inf")])
def test_snapping_tolerance_must_be_a_distance(messy: list[AreaLayer], tolerance: float) -> None:
    points = pd.DataFrame({"_row": [0], "x": [457500.0], "y": [304500.0]})
    with pytest.raises(InputError, match="tolerance_m"):
        assign_areas(points, messy, tolerance_m=tolerance)
