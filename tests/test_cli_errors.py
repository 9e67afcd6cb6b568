"""The command line on the bad-input corpus, as a new user would meet it.

Each case runs ``python -m hotspots.cli`` in tests/data/bad and expects either exit 2 with
one ``hotspots: error: ...`` line naming the file (and column or value), or exit 0 with
the rejected rows counted so that ``read == usable + rejected``. No traceback, ever.
The cases run two at a time: start-up (importing the pipeline) dominates each one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import DATA

BAD = DATA / "bad"
SMALL = "2025-06-small_run-street.csv"
MESSY = "2025-06-messy_points-street.csv"


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...] = ()  # in the error line (exit 2) or stdout (exit 0)
    reasons: dict[str, int] = field(default_factory=dict)  # exit 0: rejects by reason


def _validate(*args: str, words: tuple[str, ...] = (), **reasons: int) -> Case:
    return Case(("validate", *args), 0, words, reasons)


def _error(*args: str, words: tuple[str, ...]) -> Case:
    return Case(("validate", *args), 2, words)


ERRORS = {
    "empty": _error("--incidents", "empty.csv", words=("empty.csv", "empty")),
    "ragged": _error(
        "--incidents", "2025-06-ragged-street.csv", words=("ragged-street.csv", "line 3")
    ),
    "truncated_gzip": _error(
        "--incidents", "2025-06-truncated-street.csv.gz", words=("truncated-street.csv.gz", "gzip")
    ),
    "zip_without_csv": _error("--incidents", "no_csvs.zip", words=("no_csvs.zip", "no .csv")),
    "folder_without_csv": _error(
        "--incidents", "folder_without_csvs", words=("folder_without_csvs", "no .csv")
    ),
    "missing_path": _error(
        "--incidents", "does_not_exist.csv", words=("does_not_exist.csv", "no such file")
    ),
    "workbook_as_csv": _error(
        "--incidents", "real_workbook.xlsx", words=("real_workbook.xlsx", "CSV")
    ),
    "not_police_uk": _error(
        "--incidents", "wrong_columns.csv", words=("wrong_columns.csv", "'Month'")
    ),
    "mapping_missing_column": _error(
        "--config", "export_missing_column.toml", words=("export_council.csv", "'Date reported'")
    ),
    "wrong_delimiter": _error(
        "--config", "export_wrong_delimiter.toml", words=("export_semicolon.csv", "delimiter")
    ),
    "fake_xlsx": _error("--config", "export_not_xlsx.toml", words=("not_really.xlsx", "Excel")),
    "config_typo": _error(
        "--config", "config_typo_key.toml", words=("config_typo_key.toml", "cel_size_m")
    ),
    "config_bad_month": _error("--config", "config_bad_month.toml", words=("'2025-13'",)),
    "config_unknown_section": _error(
        "--config", "config_unknown_section.toml", words=("config_unknown_section.toml", "grids")
    ),
    "config_not_toml": _error(
        "--config", "config_not_toml.toml", words=("config_not_toml.toml", "TOML")
    ),
    "area_field_without_equals": _error(
        "--incidents", SMALL, "--areas", "areas_messy_4326.geojson", "--area-field", "beat",
        words=("--area-field", "'beat'"),
    ),
    "area_field_missing": _error(
        "--incidents", SMALL, "--areas", "areas_messy_4326.geojson", "--area-field", "beat=NOPE",
        words=("areas_messy_4326.geojson", "'NOPE'", "'beat_name'"),
    ),
    "area_names_blank": _error(
        "--incidents", SMALL, "--areas", "areas_blank_names.geojson",
        "--area-field", "beat=beat_name",
        words=("areas_blank_names.geojson", "'beat_name'"),
    ),
    "areas_bng_as_degrees": _error(
        "--incidents", SMALL, "--areas", "areas_bng_no_crs_member.geojson",
        "--area-field", "beat=beat_name",
        words=("areas_bng_no_crs_member.geojson", "EPSG:27700"),
    ),
    "areas_without_crs": _error(
        "--incidents", SMALL, "--areas", "areas_shapefile_no_prj/areas.shp",
        "--area-field", "beat=beat_name",
        words=("areas.shp", "no CRS"),
    ),
    "registry_typo": _error(
        "--incidents", SMALL, "--areas", "leicestershire/beat",
        words=("leicestershire/beat:", "leicestershire/beats"),
    ),
}  # fmt: skip

REJECTS = {
    "police_rows": _validate(
        "--incidents", "2025-06-bad_coords-street.csv", "2025-06-bad_months-street.csv",
        "2025-06-duplicate_ids-street.csv", "2025-06-categories-street.csv",
        "--areas", "leicestershire/beats",
        words=("unmapped categories in police.uk: Fly tipping",),
        bad_coordinates=7, no_location=2, null_island=2, outside_uk=1, outside_study_area=1,
        bad_date=7, duplicate_id=2, no_category=2,
    ),
    "encodings_and_excel_months": Case(
        ("validate", "--incidents", *(
            f"2025-06-{n}-street.csv"
            for n in ("semicolon", "cp1252", "bom", "utf16_tabs", "excel_dates")
        )),
        0,
        ("rows read 15: 15 usable, 0 rejected",),
    ),
    "quoted_line_break": _validate(
        "--incidents", "2025-06-embedded_newline-street.csv",
        words=("street.csv     5    bad_date", "street.csv     7 no_location"),
        bad_date=1, no_location=1,
    ),
    "council_export": _validate(
        "--config", "export_council.toml",
        bad_date=2, bad_postcode=2, duplicate_id=1, no_category=1, no_location=1,
        null_island=1, outside_study_area=1, unknown_postcode=1,
    ),
    "geojson_export": _validate(
        "--config", "export_geojson.toml", bad_date=1, no_location=1, null_island=1, outside_uk=1
    ),
    "messy_boundaries": _validate(
        "--incidents", MESSY, "--areas", "areas_messy_27700.geojson",
        "--area-field", "beat=beat_name", "--area-field", "npa=npa_name",
        outside_study_area=2,
    ),
}  # fmt: skip

RUNS = {
    "huge_grid": Case(
        ("run", "--incidents", SMALL, "--cell-size-m", "1"), 2, ("larger cell size",)
    ),
    "header_only": Case(("run", "--incidents", "2025-06-header_only-street.csv"), 2),
    "wrong_type_in_config": Case(("run", "--config", "config_wrong_type.toml"), 2, ("'fifty'",)),
    "small_run": Case(("run", "--incidents", SMALL, "--areas", "leicestershire/beats"), 0),
}
ALL = {**ERRORS, **REJECTS, **RUNS}


def _hotspots(case: Case, out: Path) -> subprocess.CompletedProcess[str]:
    extra = ("--out", str(out)) if case.args[0] == "run" else ()
    return subprocess.run(
        [sys.executable, "-m", "hotspots.cli", *case.args, *extra],
        cwd=BAD,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def results(out_dir: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {k: pool.submit(_hotspots, c, out_dir / k) for k, c in ALL.items()}
        return {k: f.result() for k, f in futures.items()}


def _check_stderr(proc: subprocess.CompletedProcess[str], summary: bool = False) -> list[str]:
    """No traceback; every stderr line is a log line or the one error line (or, with
    ``summary``, the end-of-run summary a finished run prints last). Returns errors."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("hotspots: error:")]
    others = [ln for ln in lines if ln not in errors]
    if summary:
        assert others and others[-1].startswith("finished in "), proc.stderr
        while others and not re.match(r"(INFO|WARNING) [\w.]+: ", others[-1]):
            others.pop()
    assert all(re.match(r"(INFO|WARNING) [\w.]+: ", ln) for ln in others), proc.stderr
    return errors


@pytest.mark.parametrize("name", [*ERRORS, "huge_grid", "header_only", "wrong_type_in_config"])
def test_bad_input_is_one_error_line(results, name: str) -> None:
    proc, case = results[name], ALL[name]
    errors = _check_stderr(proc)
    assert proc.returncode == 2, proc.stderr
    assert len(errors) == 1 and proc.stderr.splitlines()[-1] == errors[0], proc.stderr
    for word in case.words:
        assert word in errors[0], (word, errors[0])


@pytest.mark.parametrize("name", list(REJECTS))
def test_bad_rows_are_counted_as_rejects(results, name: str) -> None:
    proc, case = results[name], ALL[name]
    assert _check_stderr(proc) == []
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"rows read ([\d,]+): ([\d,]+) usable, ([\d,]+) rejected", proc.stdout)
    assert m, proc.stdout
    read, used, rejected = (int(g.replace(",", "")) for g in m.groups())
    assert read == used + rejected
    assert rejected == sum(case.reasons.values())
    for reason, n in case.reasons.items():
        assert re.search(rf"^\s+{reason}\s+{n}$", proc.stdout, re.M), (reason, proc.stdout)
    for word in case.words:
        assert word in proc.stdout, (word, proc.stdout)


def test_small_run_writes_rejects_and_adds_up(results, out_dir: Path) -> None:
    proc = results["small_run"]
    assert _check_stderr(proc, summary=True) == []
    assert proc.returncode == 0, proc.stderr
    out = out_dir / "small_run"
    meta = json.loads((out / "run.json").read_text())
    assert (meta["rows_read"], meta["rows_used"], meta["rows_rejected"]) == (36, 30, 6)
    rejects = pd.read_csv(out / "rejects.csv", dtype=str, keep_default_na=False)
    assert rejects["line"].tolist() == ["32", "33", "34", "35", "36", "37"]
    assert rejects["reason"].tolist() == [
        "null_island",
        "outside_study_area",
        "bad_date",
        "no_location",
        "duplicate_id",
        "bad_coordinates",
    ]
    assert rejects["Crime ID"].tolist() == ["b1", "b2", "b3", "b4", "r0", "b5"]  # originals kept
