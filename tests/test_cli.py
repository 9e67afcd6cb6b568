"""End-to-end: the CLI on a small slice of real police.uk data, determinism, safe output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.boundaries import load_areas
from hotspots.cli import main

COMPARED = [
    "hotspots.geojson",
    "hotspots.csv",
    "areas.csv",
    "patrol_list.csv",
    "rejects.csv",
    "repeat_locations.csv",
    "density.tif",
    "map.html",
    "hotspots.gpkg",
]


@pytest.fixture(scope="module")
def beats_file(tmp_path_factory) -> Path:
    """A force's own beat file: beat and NPA names on each row, WGS84 GeoJSON."""
    beats = load_areas("leicestershire/beats")[0].polygons.rename(columns={"name": "BEAT"})
    npa = load_areas("leicestershire/beats")[1]
    beats["NPA"] = beats["BEAT"].map(npa.parent_names)
    path = tmp_path_factory.mktemp("areas") / "beats.geojson"
    beats.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, police_slice: Path, beats_file: Path) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(beats_file),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "npa=NPA",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_run_writes_the_contract(run_dir: Path) -> None:
    for name in [
        "hotspots.geojson",
        "areas.csv",
        "density.tif",
        "map.html",
        "rejects.csv",
        "run.json",
        "hotspots.gpkg",
        "patrol_list.csv",
        "map.png",
    ]:
        assert (run_dir / name).stat().st_size > 0, name
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["rows_read"] == 4197
    assert meta["rows_read"] == meta["rows_used"] + meta["rows_rejected"]
    assert meta["rejects_by_reason"] == {"no_location": 10}
    assert meta["parameters"]["density"]["cell_size_rule"] == "arcgis"
    assert len(pd.read_csv(run_dir / "rejects.csv")) == meta["rows_rejected"]

    hs = gpd.read_file(run_dir / "hotspots.geojson")
    assert hs.crs.to_epsg() == 4326
    assert hs["rank"].tolist() == list(range(1, len(hs) + 1))
    for col in [
        "incidents",
        "area_m2",
        "beat",
        "npa",
        "peak_month",
        "seasonal_p",
        "trend",
        "trend_slope_per_year",
        "trend_p",
        "class",
        "m01",
        "m12",
    ]:
        assert col in hs.columns, col
    assert set(hs["trend"]) <= {"up", "down", "none"}

    areas = pd.read_csv(run_dir / "areas.csv")
    assert {"layer", "name", "incidents", "peak_month", "residents", "rate_per_1000"} <= set(areas)
    assert set(areas["layer"]) == {"beat", "npa"}
    beats = areas[areas["layer"] == "beat"]
    assert len(beats) == 171 and beats["incidents"].sum() == meta["rows_used"]
    npas = areas[areas["layer"] == "npa"]
    assert npas["incidents"].sum() == meta["rows_used"]  # beats nest in NPAs


def test_outputs_are_deterministic(
    run_dir: Path, police_slice: Path, beats_file: Path, tmp_path: Path
) -> None:
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(beats_file),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "npa=NPA",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    for name in COMPARED:
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes(), name
    a, b = (json.loads((d / "run.json").read_text()) for d in (run_dir, tmp_path))
    for meta in (a, b):
        meta.pop("timings_s")
        meta["config"]["output"].pop("dir")
    assert a == b


def _copy_of(run_dir: Path, tmp_path: Path) -> Path:
    """An earlier run's folder of this test's own: a failure writes here, never in run_dir."""
    return Path(shutil.copytree(run_dir, tmp_path / "earlier"))


def test_failed_run_leaves_previous_outputs(
    run_dir: Path, police_slice: Path, tmp_path: Path, capsys
) -> None:
    out = _copy_of(run_dir, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    code = main(
        [
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(tmp_path / "nope.gpkg"),
            "--area-field",
            "beat=X",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "nope.gpkg" in err and "Traceback" not in err
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before
    assert not [p for p in out.iterdir() if p.name.startswith(".staging")]


def test_failure_while_writing_changes_nothing(
    run_dir: Path, police_slice: Path, beats_file: Path, tmp_path: Path, monkeypatch
) -> None:
    import hotspots.pipeline._outputs as outputs

    out = _copy_of(run_dir, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "map_html", broken)
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(beats_file),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "npa=NPA",
            "--out",
            str(out),
            "--bandwidth-m",
            "300",
        ]
    )
    assert code == 1
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_html_escapes_location_text(tmp_path: Path) -> None:
    from tests.helpers import write_police_csv

    rows = [
        {
            "Month": "2025-06",
            "Longitude": f"{-1.1330 + i * 1e-5:.5f}",
            "Latitude": "52.6340",
            "Location": "<script>alert(1)</script>",
            "Crime type": "Anti-social behaviour",
        }
        for i in range(40)
    ]
    f = write_police_csv(tmp_path / "2025-06-x-street.csv", rows)
    out = tmp_path / "out"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(f),
                "--areas",
                "leicestershire/beats",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    html = (out / "map.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_validate_and_boundaries_commands(police_slice: Path, capsys) -> None:
    assert main(["validate", "--incidents", str(police_slice)]) == 0
    out = capsys.readouterr().out
    assert "4,197" in out and "no_location" in out
    assert main(["boundaries"]) == 0
    assert "leicestershire/beats" in capsys.readouterr().out
    assert main(["boundaries", "leicestershire/beats"]) == 0
    assert "171 areas" in capsys.readouterr().out


def test_evaluate_and_profile_commands(police_slice: Path, tmp_path: Path) -> None:
    assert (
        main(
            [
                "-q",
                "evaluate",
                "--incidents",
                str(police_slice),
                "--train-from",
                "2025-06",
                "--train-to",
                "2025-06",
                "--test-from",
                "2025-07",
                "--test-to",
                "2025-07",
                "--areas",
                "leicestershire/beats",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    ev = pd.read_csv(tmp_path / "evaluation.csv")
    assert {"method", "area_share", "hit_rate", "pai"} <= set(ev.columns)
    assert {"default", "counts"} <= set(ev["method"])
    assert {0.005, 0.01, 0.02, 0.05, 0.1} <= set(ev["area_share"].round(3))
    assert (
        main(
            [
                "-q",
                "profile",
                "--incidents",
                str(police_slice),
                "--areas",
                "leicestershire/beats",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    prof = pd.read_csv(tmp_path / "profiles.csv")
    assert {"layer", "name", "m06", "m07", "peak_month"} <= set(prof.columns)


def test_personal_columns_are_not_published() -> None:
    from hotspots.pipeline._outputs import personal_columns

    assert personal_columns(["Caller Name", "victim_id", "Address", "risk", "category"]) == [
        "Caller Name",
        "victim_id",
        "Address",
    ]


def test_example_config_runs(tmp_path: Path) -> None:
    """examples/run.toml: every key documented there is accepted and the run works."""
    import shutil

    from hotspots.pipeline import load_config, run

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "examples" / "run.toml")
    assert cfg.filter.categories == ("Anti-social behaviour",) and cfg.filter.last_months == 12
    cfg = cfg.updated(
        output={"dir": str(tmp_path / "out")},
        filter={"month_from": "2025-06", "month_to": "2025-07", "last_months": None},
    )
    result = run(cfg)
    meta = json.loads((tmp_path / "out" / "run.json").read_text())
    assert meta["rows_read"] == meta["rows_used"] + meta["rows_rejected"]
    assert set(result.prepared.incidents["category"]) == {"Anti-social behaviour"}
    bad = tmp_path / "bad.toml"
    shutil.copy(root / "examples" / "run.toml", bad)
    bad.write_text(bad.read_text().replace("[grid]", "[grid]\ncell_size = 50"))
    with pytest.raises(Exception, match=r"unknown key\(s\) \['cell_size'\] in \[grid\]"):
        load_config(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[hotspots]\ntop_n = "x"\n', r"top_n\) must be a whole number, got 'x'"),
        ('[filter]\nlast_months = "12"\n', r"last_months\) must be a whole number, got '12'"),
        ('[filter]\nfrom = "2025-13"\n', r"\[filter\] from.*not a month"),
        (
            "[grid]\ncell_size_m = true\n",
            r"cell_size_m\) must be a positive number of metres, got True",
        ),
    ],
)
def test_config_values_are_type_checked(tmp_path: Path, text: str, message: str) -> None:
    from hotspots.pipeline import load_config
    from hotspots.schema import InputError

    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)
    single = tmp_path / "one.toml"
    single.write_text('[filter]\ncategories = "Burglary"\n')
    assert load_config(single).filter.categories == ("Burglary",)


def test_per_npa_maps_and_disclosure_control(police_slice: Path, tmp_path: Path) -> None:
    out = tmp_path / "shared"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(police_slice),
                "--areas",
                "leicestershire/beats",
                "--map-per-area",
                "npa",
                "--min-count",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    maps = sorted(p.name for p in (out / "maps").iterdir())
    assert "leicester-city.html" in maps and len(maps) == 6
    areas = pd.read_csv(out / "areas.csv")
    shown = areas["incidents"].dropna()
    assert ((shown == 0) | (shown >= 5)).all()
    from hotspots.pipeline._outputs import suppress_small

    assert suppress_small(pd.Series([0, 1, 4, 5, 9]), 5).tolist()[:1] == [0]
    assert suppress_small(pd.Series([0, 1, 4, 5, 9]), 5).isna().tolist() == [
        False,
        True,
        True,
        False,
        False,
    ]
    import pyogrio

    assert "incidents" not in [name for name, _ in pyogrio.list_layers(out / "hotspots.gpkg")]


def test_ingest_and_batch_commands(police_slice: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "leics.parquet"
    assert (
        main(
            [
                "-q",
                "ingest",
                "--incidents",
                str(police_slice),
                "--out",
                str(dataset),
                "--scheduler",
                "sync",
            ]
        )
        == 0
    )
    out = tmp_path / "batch"
    assert (
        main(
            [
                "-q",
                "batch",
                "--incidents",
                str(dataset),
                "--by",
                "force",
                "--out",
                str(out),
                "--scheduler",
                "sync",
                "--areas",
                "leicestershire/beats",
            ]
        )
        == 0
    )
    summary = pd.read_csv(out / "summary.csv")
    assert summary["status"].tolist() == ["ok"]
    group = out / "leicestershire-police"
    meta = json.loads((group / "run.json").read_text())
    assert meta["rows_used"] == 4187
    assert (group / "map.html").exists() and (out / "index.html").exists()


def test_several_area_files_each_with_its_own_fields(
    police_slice: Path, beats_file: Path, tmp_path: Path
) -> None:
    districts = load_areas("leicestershire/districts")[0].polygons.rename(columns={"name": "DIST"})
    dist_file = tmp_path / "districts.gpkg"
    districts.to_file(dist_file)
    out = tmp_path / "out"
    assert (
        main(
            [
                "-q",
                "run",
                "--incidents",
                str(police_slice),
                "--areas",
                str(beats_file),
                "--areas",
                str(dist_file),
                "--area-field",
                "beat=BEAT",
                "--area-field",
                "npa=NPA",
                "--area-field",
                "district=DIST",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    areas = pd.read_csv(out / "areas.csv")
    assert areas.groupby("layer").size().to_dict() == {"beat": 171, "district": 9, "npa": 6}
    assert (
        main(
            [
                "run",
                "--incidents",
                str(police_slice),
                "--areas",
                str(beats_file),
                "--area-field",
                "beat=BEAT",
                "--area-field",
                "beat=NPA",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    assert (
        main(
            [
                "run",
                "--incidents",
                str(police_slice),
                "--areas",
                str(beats_file),
                "--area-field",
                "ward=WARD",
                "--out",
                str(out),
            ]
        )
        == 2
    )


def test_validate_lists_rejects_when_no_row_is_usable(tmp_path: Path, capsys) -> None:
    from tests.helpers import write_police_csv

    f = write_police_csv(
        tmp_path / "2025-06-x-street.csv",
        [
            {
                "Crime ID": "a",
                "Month": "2025-13",
                "Longitude": "-1.13",
                "Latitude": "52.63",
                "Crime type": "Drugs",
            }
        ],
    )
    assert main(["validate", "--incidents", str(f), "--show", "5"]) == 0
    out = capsys.readouterr().out
    assert "rows read 1: 0 usable, 1 rejected" in out
    assert "unparseable or implausible date '2025-13'" in out
    assert main(["run", "--incidents", str(f), "--out", str(tmp_path / "o")]) == 2


def test_min_count_one_changes_no_output(
    run_dir: Path, police_slice: Path, beats_file: Path, tmp_path: Path
) -> None:
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(beats_file),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "npa=NPA",
            "--min-count",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    for name in [*COMPARED, *(p.name for p in run_dir.glob("funnel_*.png")), "map.png"]:
        assert (tmp_path / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_disclosure_control_by_hand() -> None:
    from hotspots.pipeline import disclosure_control

    svg = "<svg><title>Feb: 3</title></svg>"
    areas = pd.DataFrame(
        {
            "name": ["quiet", "small", "big"],
            "incidents": [0, 3, 40],
            "rate_per_1000": [0.0, 1.5, 20.0],
            "m02": [0.0, 3.0, 5.0],
            "trend_p": [1.0, 0.5, 0.01],
            "spark_svg": ["", svg, svg],
            "dow_rows": [0, 3, 40],
            "peak_day": [None, 2.0, 6.0],
            "d1": [0, 0, 1],
            "d2": [0, 3, 1],
            "d3": [0, 0, 8],
            "d6": [0, 0, 30],
            "hour_rows": [0, 2, 4],
            "peak_hour": [None, 22.0, 9.0],
            "h09": [0, 0, 4],
            "repeat_callers": [0, 1, 7],
        }
    )
    got = disclosure_control(areas, 5)
    assert got["incidents"].isna().tolist() == [False, True, False]
    for col in ("rate_per_1000", "m02", "trend_p"):
        assert got[col].isna().tolist() == [False, True, False], col
    assert got["spark_svg"].tolist() == ["", "", ""]  # its bars are titled with month counts
    assert got["peak_day"].notna().tolist() == [False, False, True]
    # "big": d1 = d2 = 1 are small; as two 1s they would be 40 - 8 - 30 = 2 shared out, so
    # the smallest other day (d3 = 8) is blanked with them.
    days = got[["d1", "d2", "d3", "d6"]]
    assert days.isna().to_numpy().tolist() == [
        [False] * 4,
        [False, True, False, False],
        [True, True, True, False],
    ]
    assert got["hour_rows"].isna().tolist() == [False, True, True]
    assert got["peak_hour"].isna().tolist() == [True, True, True]
    assert got["h09"].isna().tolist() == [False, False, True]
    assert got["repeat_callers"].isna().tolist() == [False, True, False]
    places = pd.DataFrame(
        {"location": ["a", "b"], "incidents_total": [3, 12], "max_in_window": [3, 4]}
    )
    shown = disclosure_control(places, 5)
    assert shown["location"].tolist() == ["b"] and shown["max_in_window"].isna().all()
    for k in (0, 1):
        assert disclosure_control(areas, k) is areas


@pytest.fixture(scope="module")
def dated_run(tmp_path_factory):
    """A partner export with dates and times, run at min_count 10, and its result."""
    from tests.test_day_hour_outputs import run_partner_export

    return run_partner_export(tmp_path_factory.mktemp("min_count"), seed=5, min_count=10)


def published_tables(out: Path) -> dict[str, pd.DataFrame]:
    import pyogrio

    tables = {
        name: pd.read_csv(out / name)
        for name in ("areas.csv", "hotspots.csv", "patrol_list.csv", "repeat_locations.csv")
    }
    tables["hotspots.geojson"] = gpd.read_file(out / "hotspots.geojson")
    for layer, _ in pyogrio.list_layers(out / "hotspots.gpkg"):
        tables[f"gpkg:{layer}"] = gpd.read_file(out / "hotspots.gpkg", layer=layer)
    return tables


def test_min_count_blanks_every_small_count_and_what_gives_it_back(dated_run) -> None:
    from hotspots.pipeline._outputs import SMALL_COUNT_COLUMNS
    from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, MONTH_COLUMNS

    result, out = dated_run
    tables = published_tables(out)
    assert "gpkg:incidents" not in tables and "gpkg:areas_beat" in tables
    for name, table in tables.items():
        counts = table[[c for c in SMALL_COUNT_COLUMNS + ("incidents_total",) if c in table]]
        values = counts.apply(pd.to_numeric, errors="coerce")
        assert not ((values >= 1) & (values < 10)).any().any(), name
    areas = tables["areas.csv"]
    hidden = areas["incidents"].isna()
    assert hidden.sum() >= 3 and areas.loc[hidden, "dow_rows"].isna().all()
    with_it = [*MONTH_COLUMNS, "peak_month", "seasonal_p", "trend_slope_per_year", "trend_p"]
    assert areas.loc[hidden, with_it].isna().all().all()
    peaks = {"dow_rows": ["peak_day", "day_p"], "hour_rows": ["peak_hour", "hour_p"]}
    for total, cols in peaks.items():
        assert areas.loc[areas[total].isna(), cols].isna().all().all()
        assert areas.loc[areas[total] >= 10, cols[0]].notna().all()
    # No blanked day or hour is the total minus the ones shown, nor one of several 1s.
    raw = pd.concat(
        [pd.DataFrame(t.drop(columns="geometry")) for t in result.analysis.areas.values()]
    ).set_index(["layer", "name"])
    shown = areas.set_index(["layer", "name"]).loc[raw.index]
    for total, cols in (("dow_rows", list(DOW_COLUMNS)), ("hour_rows", list(HOUR_COLUMNS))):
        rows = shown[total].notna() & shown[cols].isna().any(axis=1)
        assert rows.any()
        for key in rows[rows].index:
            blank = shown.loc[key, cols].isna()
            assert blank.sum() >= 2 and not (raw.loc[key, cols][blank] == 1).all(), key


def test_min_count_map_shows_nothing_of_a_blanked_area(dated_run) -> None:
    import html
    import re

    from tests.test_day_hour_outputs import popups

    result, out = dated_run
    page = (out / "map.html").read_text()
    texts = popups(page)
    areas = pd.read_csv(out / "areas.csv")
    blanked = areas[areas["incidents"].isna()]
    assert len(blanked)
    for _, row in blanked.iterrows():
        title = f"<h4>{row['layer'].title() if row['layer'] != 'npa' else 'NPA'} {row['name']}</h4>"
        pop = next(t for t in texts if title in t)
        assert "<td>small count, not shown</td>" in pop
        assert "Peak day" not in pop and "<svg" not in pop
    dated = areas[areas["dow_rows"] >= 10]
    assert len(dated) and html.unescape(page).count(" dated incidents)") >= len(dated)
    assert "Small counts</th><td>1 to 9 not shown (min_count 10)" in page
    # No sparklines: their bars are titled with each month's count, small ones included.
    assert re.findall(r'class=\\?"hs-spark\\?"', page) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 12), min_size=7, max_size=7), min_size=1, max_size=6),
    st.integers(2, 8),
)
def test_no_blanked_day_can_be_worked_out(days: list[list[int]], k: int) -> None:
    import numpy as np

    from hotspots.pipeline import disclosure_control

    raw = pd.DataFrame(days, columns=[f"d{i}" for i in range(1, 8)])
    raw.insert(0, "dow_rows", raw.sum(axis=1))
    got = disclosure_control(raw, k)
    values = got.to_numpy(float)
    assert not ((values >= 1) & (values < k)).any()  # nothing small is shown
    assert (got.isna() | (got == raw)).all().all()  # what is shown is the true count
    for (_, row), (_, true) in zip(got.iterrows(), raw.iterrows(), strict=True):
        blank = row.drop("dow_rows").isna().to_numpy()
        parts = true.drop("dow_rows").to_numpy()
        if np.isnan(row["dow_rows"]) or not blank.any() or blank.all():
            continue
        # Shown total minus the days shown is what the blanks share: at least two of them,
        # not all 1 (then each could be told).
        assert blank.sum() >= 2 and not (parts[blank] == 1).all()
