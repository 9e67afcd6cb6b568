"""The README's speed table is the one benchmarks/run_all.py builds from measured figures.

No benchmark runs here (and no timing is asserted): the table is rebuilt from the stored
records, and the builder is checked on made-up records.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run_all() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_table_is_the_one_built_from_the_stored_results() -> None:
    run_all = _run_all()
    results = json.loads(run_all.RESULTS.read_text())
    readme = run_all.README.read_text(encoding="utf-8")
    between = readme.split(run_all.BEGIN, 1)[1].split(run_all.END, 1)[0]
    assert between.strip() == run_all.speed_table(results).strip()
    assert "not measured" not in between  # every row has its benchmark's figures


def test_rows_are_computed_from_the_records() -> None:
    run_all = _run_all()
    assign = {"bench": "assign", "n": 1_000_000, "areas": 171, "repeat": 3}
    assign |= {"ours_s": 0.25, "sjoin_s": 2.5, "identical": True, "load_avg": 1.5}
    small = {**assign, "n": 1_000, "ours_s": 9.0}
    results = {
        "bench_load_assign.py": {
            "measured": "2026-01-02",
            "machine": "test box",
            "records": [small, assign],
        }
    }
    table = run_all.speed_table(results)
    row = next(line for line in table.splitlines() if "171 beats" in line)
    assert "1,000,000 points" in row and "0.25 s" in row and "10.0× faster" in row
    assert "identical answers" in row
    assert "`bench_kde.py` | not measured" in table  # scripts without records say so
    assert "2026-01-02 on test box" in table and "load average 1.5–1.5" in table


def test_whole_run_rows_give_the_ratio_and_the_fixed_costs() -> None:
    run_all = _run_all()
    run = {"bench": "run", "label": "embedded 51 months", "rows": 442_588, "repeat": 3}
    run |= {"run_s": 13.0, "floor_s": 0.65, "import_s": 1.0, "rss_gib": 0.7}
    fixed = {"bench": "run_fixed", "rows": 442_588, "floor_s": 0.65}
    fixed |= {"gpkg_s": 1.5, "png_s": 2.25, "imports_s": 1.75}
    entry = {"measured": "2026-01-02", "machine": "test box", "records": [run, fixed]}
    lines = run_all.speed_table({"bench_run.py": entry}).splitlines()
    assert "13.0 s, 20× the floor (0.65 s)" in next(x for x in lines if "whole `hotspots" in x)
    row = next(x for x in lines if "fixed costs" in x)
    assert "5.5 s, 8.5× the floor" in row and "GeoPackage 1.50 s, PNGs 2.25 s" in row
    assert "leaves 1.00 s for reading" in row


def test_write_readme_replaces_only_between_the_markers(tmp_path: Path) -> None:
    run_all = _run_all()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run_all.BEGIN}\nold table\n{run_all.END}\nafter\n")
    run_all.write_readme("new table", readme)
    assert readme.read_text() == f"intro\n{run_all.BEGIN}\nnew table\n{run_all.END}\nafter\n"
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        run_all.write_readme("new table", readme)
