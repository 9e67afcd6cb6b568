"""The patrol plan (dose, allocation, when, expected share), its outputs and the briefings."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.io import InputSpec
from hotspots.patrol import (
    PLAN_COLUMNS,
    PatrolDose,
    allocate_visits,
    patrol_plan,
    peak_window,
)
from hotspots.pipeline import OutputConfig, PatrolConfig, RunConfig, load_config, run
from hotspots.report import LABELLED_RANKS
from hotspots.report_briefing import TILE_URL, briefing_html, briefing_map_png
from hotspots.schema import InputError
from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, MONTH_COLUMNS

XSS = "<script>alert(1)</script>"


def test_default_dose_is_koper_15_minutes_14_visits():
    dose = PatrolDose()
    assert dose.minutes_per_visit == 15 and dose.visits_per_week == 14
    assert dose.max_visits_per_week == 84  # one every 2 h round the clock
    assert PatrolDose(peak_window_h=6, days_per_week=5).visits_per_week == 15
    for bad in (
        {"minutes_per_visit": 0},
        {"peak_window_h": 25},
        {"days_per_week": 8},
        {"visit_interval_h": -1},
        {"peak_window_h": 2.5},
    ):
        with pytest.raises(InputError, match=r"\[patrol\]"):
            PatrolDose(**bad)


def test_allocation_hand_worked():
    # 13 visits: 1 each, the 10 left shared 5/3/2 by score 50/30/20.
    assert allocate_visits([50, 30, 20], 13).tolist() == [6, 4, 3]
    # Too few for one each: the best ranks get them.
    assert allocate_visits([50, 30, 20], 2).tolist() == [1, 1, 0]
    # Largest remainder, ties to the better rank: 2 extra over equal scores.
    assert allocate_visits([1, 1, 1], 5).tolist() == [2, 2, 1]
    # A cap moves the surplus on.
    assert allocate_visits([100, 1, 1], 12, max_visits=5).tolist() == [5, 4, 3]
    # Missing and negative scores count as 0; all zero: equal.
    assert allocate_visits([np.nan, -5, 0], 6).tolist() == [2, 2, 2]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=40),
    st.integers(0, 2000),
)
def test_allocation_keeps_the_budget_and_follows_score(scores, total):
    out = allocate_visits(scores, total, max_visits=84)
    assert out.sum() <= total and (out >= 0).all() and (out <= 84).all()
    if total >= len(scores):
        assert (out >= 1).all()
        if total <= 84 * len(scores):
            assert out.sum() == total  # nothing left unspent while a hotspot can take it
        s = np.asarray(scores)
        for i in range(len(s)):
            for j in range(len(s)):
                if s[i] > s[j] and out[j] < 84:
                    assert out[i] >= out[j]


def _timed_row(**kw) -> dict:
    row = {
        "rank": 1,
        "hotspot_id": "H1",
        "label": "Granby Street",
        "beat": "Castle",
        "npa": "City",
        "incidents": 200,
        "score": 10.0,
        "share": 0.02,
    }
    days = [5, 5, 5, 5, 30, 40, 10]
    hours = np.ones(24)
    hours[[21, 22, 23, 0]] = 30
    row.update({c: v for c, v in zip(DOW_COLUMNS, days, strict=True)})
    row.update({c: v for c, v in zip(HOUR_COLUMNS, hours, strict=True)})
    row.update(day_p=0.001, hour_p=0.0001, dow_rows=100, hour_rows=int(hours.sum()))
    row.update(kw)
    return row


def test_when_gives_peak_days_and_hours_for_timed_data():
    plan = patrol_plan(pd.DataFrame([_timed_row()]))
    r = plan.iloc[0]
    assert list(plan.columns) == PLAN_COLUMNS
    assert r["peak_days"] == "Fri, Sat, Sun"  # the three busiest, in week order
    assert r["peak_hours"] == "21:00–01:00"  # the window wraps past midnight
    assert r["when"] == "Fri, Sat, Sun; 21:00–01:00"
    assert r["window_share"] == pytest.approx(120 / 140, abs=1e-3)
    assert "100 dated" in r["when_basis"] and "timed incidents (p < 0.001)" in r["when_basis"]
    flat = patrol_plan(pd.DataFrame([_timed_row(day_p=0.4, hour_p=0.3)])).iloc[0]
    assert flat["when"] == "any day; 21:00–01:00 (weak peak)"


def test_peak_window_wraps_and_breaks_ties_early():
    h = np.zeros(24)
    h[[23, 0]] = 1
    assert peak_window(h, 2) == (23, 1.0)
    assert peak_window(np.ones(24), 4)[0] == 0


def _monthly_row(p: float, months: list[float]) -> dict:
    row = {"rank": 1, "incidents": 120, "share": 0.01, "seasonal_p": p, "peak_month": 7}
    row.update(dict(zip(MONTH_COLUMNS, months, strict=True)))
    return row


def test_when_gives_peak_months_or_season_for_police_uk():
    summer = [5, 5, 5, 5, 5, 20, 30, 25, 5, 5, 5, 5]
    r = patrol_plan(pd.DataFrame([_monthly_row(0.001, summer)])).iloc[0]
    assert r["when"].startswith("peak months Jun, Jul, Aug (summer)")
    assert "months only in the data" in r["when"] and r["peak_hours"] == ""
    r = patrol_plan(pd.DataFrame([_monthly_row(0.6, summer)])).iloc[0]
    assert r["when"].startswith("all year (no clear seasonal peak; busiest Jul)")
    two = [np.nan] * 5 + [10, 14] + [np.nan] * 5
    r = patrol_plan(pd.DataFrame([_monthly_row(np.nan, two)])).iloc[0]
    assert r["when"].startswith("busiest Jul of the 2 months of the year in the data")


def test_when_names_the_season_of_the_seasonal_module_and_no_peak_without_incidents():
    winter = [30, 25, 5, 5, 5, 5, 5, 5, 5, 5, 5, 20]
    r = patrol_plan(pd.DataFrame([_monthly_row(0.001, winter)])).iloc[0]
    assert r["when"].startswith("peak months Jan, Feb, Dec (winter)")
    # A hotspot table without month profiles: the peak month, or nothing when it is missing
    # (a group without incidents has none; there is no placeholder month 0).
    hot = pd.DataFrame({"rank": [1, 2], "peak_month": pd.array([12, None], dtype="Int64")})
    when = patrol_plan(hot)["when"].tolist()
    assert when[0].startswith("busiest Dec") and when[1].startswith("no pattern known")


def test_dose_is_frozen_keyword_only_and_states_its_rules():
    dose = PatrolDose(minutes_per_visit=10.0, peak_window_h=3)
    p = dose.params()
    assert p["visits_per_week"] == dose.visits_per_week == 10  # 7 × 3 / 2, rounded down
    assert p["max_visits_per_week"] == 84 and p["minutes_per_visit"] == 10.0
    assert p["visits_per_week_rule"].startswith("days_per_week x peak_window_h")
    assert json.loads(json.dumps(p)) == p
    with pytest.raises(TypeError):
        PatrolDose(10.0)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        dose.minutes_per_visit = 20.0  # type: ignore[misc]


def test_expected_share_and_budget():
    hot = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "hotspot_id": ["a", "b", "c"],
            "incidents": [300, 200, 100],
            "score": [3.0, 2.0, 1.0],
        }
    )
    plan = patrol_plan(hot, total_incidents=10_000)
    assert plan["expected_share"].tolist() == [0.03, 0.02, 0.01]
    assert plan["cumulative_share"].tolist() == [0.03, 0.05, 0.06]
    assert (plan["visits_per_week"] == 14).all() and (plan["hours_per_week"] == 3.5).all()
    # 1 hour: 4 visits of 15 minutes, one each and the last to the top score.
    plan = patrol_plan(hot, total_incidents=10_000, patrol_hours=1.0)
    assert plan["visits_per_week"].tolist() == [2, 1, 1]
    assert plan["hours_per_week"].sum() <= 1.0
    # Half an hour: 2 visits, the third hotspot is not visited and adds no share.
    plan = patrol_plan(hot, total_incidents=10_000, patrol_hours=0.5)
    assert plan["visits_per_week"].tolist() == [1, 1, 0]
    assert plan["expected_share"].tolist() == [0.03, 0.02, 0.0]
    assert "over the hours budget" in plan["note"].iloc[2]
    with pytest.raises(InputError, match="patrol_hours"):
        patrol_plan(hot, patrol_hours=-1)


def test_patrol_section_of_the_config(tmp_path):
    cfg_path = tmp_path / "run.toml"
    cfg_path.write_text(
        "[patrol]\nminutes_per_visit = 12\nvisit_interval_h = 3\npeak_window_h = 6\n"
        "days_per_week = 5\nhours = 40\n[output]\noffline_map = true\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    assert (cfg.patrol.minutes_per_visit, cfg.patrol.visit_interval_h) == (12, 3)
    assert (cfg.patrol.peak_window_h, cfg.patrol.days_per_week, cfg.patrol.hours) == (6, 5, 40)
    assert cfg.output.offline_map is True
    cfg_path.write_text("[patrol]\nvisits = 3\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"unknown key.*\[patrol\]"):
        load_config(cfg_path)


@pytest.fixture(scope="module")
def slice_run(tmp_path_factory, police_slice) -> Path:
    out = tmp_path_factory.mktemp("plan") / "out"
    cfg = RunConfig(
        inputs=[InputSpec.police_uk(str(police_slice))],
        areas=[("leicestershire/beats", {})],
        output=OutputConfig(dir=str(out), title=f"Plan {XSS}"),
        patrol=PatrolConfig(hours=30.0),
    )
    run(cfg)
    return out


def test_run_writes_patrol_plan_and_briefings(slice_run):
    out = slice_run
    plan = pd.read_csv(out / "patrol_plan.csv")
    patrol = pd.read_csv(out / "patrol_list.csv")
    assert list(plan.columns) == PLAN_COLUMNS
    assert plan["rank"].tolist() == patrol["rank"].tolist()
    # 30 hours a week of 15-minute visits: 120 visits at most, all spent.
    assert plan["visits_per_week"].sum() == 120 and plan["hours_per_week"].sum() <= 30
    assert (plan["visits_per_week"] >= 1).all()
    assert plan["when"].str.contains("months only").all()  # police.uk: no days or hours
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert meta["patrol_plan"]["budget_hours"] == 30.0
    assert "patrol_plan.csv" in meta["outputs"]
    pages = sorted((out / "briefings").glob("*.html"))
    assert pages and all(re.fullmatch(r"[a-z0-9-]+\.html", p.name) for p in pages)
    page = pages[0].read_text(encoding="utf-8")
    assert "@media print" in page and "size: A4" in page
    # The street map (OpenStreetMap tiles) over the outline PNG, its fallback; the page
    # names no other host than the tiles' (and links to their licence and Leaflet's site).
    assert TILE_URL in page and 'id="hs-live"' in page and 'id="hs-png"' in page
    assert "data:image/png;base64," in page
    ours = _without_leaflet(page)
    assert set(re.findall(r"https?://[^\s\"'<>)\\]+", ours)) <= {
        TILE_URL,
        "https://www.openstreetmap.org/copyright",
    }
    assert "<link" not in ours and ' src="http' not in ours
    assert f"Plan {html.escape(XSS)}" in page and XSS not in page
    # Every patrol hotspot of the page is in its list (rank and street label, escaped) and
    # on its map (rank and label in the street map's data).
    data = _live_data(page)
    for page_path in pages:
        text = page_path.read_text(encoding="utf-8")
        ranks = {h["rank"] for h in _live_data(text)["hotspots"]}
        assert ranks and all(f'<td class="n">{r}</td>' in text for r in ranks)
    assert plan["rank"].max() <= LABELLED_RANKS  # the outline PNG numbers them all too
    first = plan.iloc[0]
    assert html.escape(str(first["label"])) in page
    by_rank = {h["rank"]: h["label"] for h in data["hotspots"]}
    for r in plan.to_dict("records"):
        if r["rank"] in by_rank:
            assert by_rank[r["rank"]] == str(r["label"])
    assert "How to read this briefing" in page and "Koper 1995" in page
    # The map shows the plan in its panel, and street tiles by default.
    map_page = (out / "map.html").read_text(encoding="utf-8")
    assert 'class="hs-list hs-plan"' in map_page and "tile.openstreetmap.org" in map_page


def test_offline_map_leaves_no_tile_url(tmp_path, police_slice):
    out = tmp_path / "out"
    run(
        RunConfig(
            inputs=[InputSpec.police_uk(str(police_slice))],
            areas=[("leicestershire/beats", {})],
            output=OutputConfig(dir=str(out), offline_map=True, briefings=False),
        )
    )
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "openstreetmap" not in page.lower()
    ours = page[page.index('<meta name="viewport"') :]  # without the inlined Leaflet source
    assert "L.tileLayer(" not in ours and "{z}" not in ours
    assert not (out / "briefings").exists()


def test_offline_map_briefings_are_png_only(tmp_path, police_slice):
    out = tmp_path / "out"
    run(
        RunConfig(
            inputs=[InputSpec.police_uk(str(police_slice))],
            areas=[("leicestershire/beats", {})],
            output=OutputConfig(dir=str(out), offline_map=True),
        )
    )
    pages = sorted((out / "briefings").glob("*.html"))
    assert pages
    for p in pages:
        text = p.read_text(encoding="utf-8")
        assert "openstreetmap" not in text.lower() and "{z}" not in text
        assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
        assert 'id="hs-png"' in text and "--offline-map" in text


def _without_leaflet(page: str) -> str:
    """The page without the inlined Leaflet source and style."""
    page = re.sub(r"<style>/\* required styles \*/.*?</style>", "", page, flags=re.S)
    return re.sub(r"<script>/\* @preserve.*?</script>", "", page, flags=re.S)


def _live_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="hs-live-data">(.*?)</script>', page)
    assert m, "no street map data in the page"
    return json.loads(m.group(1))


def _briefing(label: str, *, online: bool = True) -> str:
    import geopandas as gpd
    import shapely

    hot = gpd.GeoDataFrame(
        {"rank": [1, 2], "label": [label, "Granby Street / Belvoir Street"]},
        geometry=[
            shapely.box(458000, 304000, 458200, 304200),
            shapely.box(458600, 304100, 458800, 304300),
        ],
        crs=27700,
    )
    beats = gpd.GeoDataFrame(
        {"name": [f"Beat {label}"]},
        geometry=[shapely.box(457000, 303000, 460000, 306000)],
        crs=27700,
    )
    plan = pd.DataFrame(
        {
            "rank": [1, 2],
            "hotspot_id": ["h1", "h2"],
            "label": [label, "Granby Street / Belvoir Street"],
            "beat": [label, "B2"],
            "visits_per_week": [14, 14],
            "minutes_per_visit": [15.0, 15.0],
            "when": ["Jun–Aug", "all year"],
            "expected_share": [0.01, 0.005],
            "incidents": [40, 20],
            "note": ["", ""],
        }
    )
    png = briefing_map_png(
        hotspots=hot,
        areas_layer=beats,
        density=None,
        density_grid=None,
        title=label,
        attribution="police.uk",
    )
    return briefing_html(
        area_name=label,
        area_kind="NPA",
        plan=plan,
        map_png=png,
        title=label,
        period="2025",
        plan_note="rule",
        attribution="police.uk",
        online_map=online,
        hotspots=hot,
        areas_layer=beats,
    )


HOSTILE = "</script><script>alert(1)</script>"


def test_briefing_hostile_label_stays_text():
    page = _briefing(HOSTILE)
    assert HOSTILE not in page and "<script>alert" not in page
    assert html.escape(HOSTILE) in page  # in the list, escaped
    # The one data block is JSON with every "<" escaped, and reads back as the label.
    block = re.search(r'id="hs-live-data">(.*?)</script>', page).group(1)
    assert "<" not in block
    data = json.loads(block)
    assert [h["label"] for h in data["hotspots"]][0] == HOSTILE
    assert data["beats"][0]["name"] == f"Beat {HOSTILE}"
    # Only constant scripts: the Leaflet source, the JSON block and the street map's code.
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script type="application/json" id="hs-live-data">', "<script>", "<script>"]
    assert TILE_URL in page
    offline = _briefing(HOSTILE, online=False)
    assert "<script" not in offline and "openstreetmap" not in offline.lower()
    assert html.escape(HOSTILE) in offline and HOSTILE not in offline


def test_plan_under_disclosure_control_uses_published_counts(tmp_path, police_slice):
    out = tmp_path / "out"
    run(
        RunConfig(
            inputs=[InputSpec.police_uk(str(police_slice))],
            areas=[("leicestershire/beats", {})],
            output=OutputConfig(dir=str(out), min_count=10_000),
        )
    )
    plan = pd.read_csv(out / "patrol_plan.csv")
    hot = pd.read_csv(out / "hotspots.csv")
    # Every hotspot count is below k: blanked in hotspots.csv, so blanked in the plan too.
    assert hot["incidents"].isna().all() and plan["incidents"].isna().all()
    assert plan["expected_share"].isna().all()
    for page in (out / "briefings").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "small count" in text
