"""Day-of-week and hour-of-day profiles: peaks, flatness tests, and where runs publish them."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from hotspots.io import ColumnMapping, InputSpec
from hotspots.pipeline import OutputConfig, PopulationConfig, RunConfig, run
from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, seasonal_profiles

NEW_COLUMNS = [
    "dow_rows",
    "peak_day",
    "day_p",
    *DOW_COLUMNS,
    "hour_rows",
    "peak_hour",
    "hour_p",
    *HOUR_COLUMNS,
]


def frame(whens: list[str], precisions: list[str], groups: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {"when": pd.to_datetime(whens, format="ISO8601"), "precision": precisions, "beat": groups}
    )


def test_hand_worked_counts_and_peaks():
    inc = frame(
        [
            "2025-03-03 09:10",  # Mon 09h
            "2025-03-08 22:15",  # Sat 22h
            "2025-03-15 22:40",  # Sat 22h
            "2025-03-09 09:00",  # Sun 09h
            "2025-03-04",  # Tue, day only
            "2025-03-06",  # Thu, day only (A)
            "2025-03-13",  # Thu, day only (A): Thu ties Sat at 2, Thu is earlier
            "2025-03-01",  # month only (A)
            "2025-03-01",  # month only (C): nothing to place in a week
        ],
        ["minute", "minute", "minute", "minute", "day", "day", "day", "month", "month"],
        ["B", "B", "B", "B", "B", "A", "A", "A", "C"],
    )
    prof = seasonal_profiles(inc, by="beat").set_index("beat")
    a, b, c = prof.loc["A"], prof.loc["B"], prof.loc["C"]
    assert b[list(DOW_COLUMNS)].tolist() == [1, 1, 0, 0, 0, 2, 1]
    assert b["dow_rows"] == 5 and b["peak_day"] == 6  # Saturday
    assert b["hour_rows"] == 4 and b["h22"] == 2 and b["h09"] == 2
    assert b["peak_hour"] == 9  # 09h and 22h tie: the earlier hour
    assert a[list(DOW_COLUMNS)].tolist() == [0, 0, 0, 2, 0, 0, 0] and a["peak_day"] == 4
    assert a["hour_rows"] == 0 and np.isnan(a["peak_hour"]) and np.isnan(a["hour_p"])
    assert c["dow_rows"] == 0 and np.isnan(c["peak_day"]) and np.isnan(c["day_p"])
    assert 0 < b["day_p"] <= 1 and 0 < b["hour_p"] <= 1


def weekday_exposure_brute_force(months: list[str]) -> np.ndarray:
    """Count each weekday over every day of the listed months, one day at a time."""
    out = np.zeros(7)
    for m in months:
        day = dt.date.fromisoformat(f"{m}-01")
        while day.strftime("%Y-%m") == m:
            out[day.weekday()] += 1
            day += dt.timedelta(days=1)
    return out


def test_day_p_is_chi_square_against_weekday_exposure():
    # Jan-Apr 2024 (a leap February) and Jan-Mar 2025 loaded, nothing May-Dec 2024 (a gap).
    months = [f"2024-{m:02d}" for m in range(1, 5)] + [f"2025-{m:02d}" for m in range(1, 4)]
    exposure = weekday_exposure_brute_force(months)
    assert exposure.sum() == 31 + 29 + 31 + 30 + 31 + 28 + 31 and len(set(exposure)) > 1
    # Each weekday's rows on one date with that weekday (Mon 2024-01-01 … Sun 2024-01-07),
    # plus a dated row in every other month and on the last day, so that the dated rows
    # cover all seven months from their first day to their last.
    first_week = np.repeat(
        pd.date_range("2024-01-01", periods=7, freq="D"), [60, 55, 70, 50, 65, 90, 80]
    )
    spread = pd.to_datetime([f"{m}-15" for m in months[1:]] + ["2025-03-31"])
    days = pd.DatetimeIndex(np.concatenate([first_week.to_numpy(), spread.to_numpy()]))
    observed = np.bincount(days.day_of_week, minlength=7)
    hours = np.arange(len(days)) % 24 * 5 % 24  # 24 hours, unevenly
    inc = pd.DataFrame(
        {"when": days + pd.to_timedelta(hours, unit="h"), "precision": "minute", "beat": "A"}
    )
    row = seasonal_profiles(
        inc, by="beat", period=("2024-01", "2025-03"), months_with_data=pd.to_datetime(months)
    ).iloc[0]
    assert row[list(DOW_COLUMNS)].tolist() == observed.tolist()
    assert row["peak_day"] == int(np.argmax(observed)) + 1
    expected = observed.sum() * exposure / exposure.sum()
    assert row["day_p"] == pytest.approx(stats.chisquare(observed, expected).pvalue, rel=1e-9)
    flat_p = stats.chisquare(observed).pvalue  # ignoring the exposure gives another answer
    assert abs(row["day_p"] - flat_p) > 1e-3 * flat_p
    per_hour = np.bincount(hours, minlength=24)
    assert row[list(HOUR_COLUMNS)].tolist() == per_hour.tolist()
    assert row["peak_hour"] == int(np.argmax(per_hour))
    assert row["hour_p"] == pytest.approx(stats.chisquare(per_hour).pvalue, rel=1e-9)


def test_small_counts_use_monte_carlo():
    # Three rows in the same hour: P(all three share an hour | flat) = 24 / 24**3 = 1/576.
    inc = frame(
        ["2025-05-02 22:01", "2025-05-09 22:30", "2025-05-16 22:59"], ["minute"] * 3, ["A"] * 3
    )
    row = seasonal_profiles(inc, by="beat").iloc[0]
    assert row["peak_hour"] == 22 and row["peak_day"] == 5
    assert abs(row["hour_p"] - 1 / 576) < 0.0015  # 9,999 draws: standard error ≈ 0.0004
    # May 2025 has five Thursdays, Fridays and Saturdays and four of the other weekdays. Three
    # rows on one weekday give X² = 3 (1/share - 1) ≥ 15.6, any split at most 9.9: so
    # p = P(all three on one weekday) = 4 (4/31)³ + 3 (5/31)³ = 0.02118.
    exact = 4 * (4 / 31) ** 3 + 3 * (5 / 31) ** 3
    assert abs(row["day_p"] - exact) < 0.005  # standard error ≈ 0.0014


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 364),
            st.integers(0, 1439),
            st.sampled_from(["month", "day", "minute"]),
            st.sampled_from("AB"),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_counts_peaks_and_p_are_consistent(rows):
    when = [pd.Timestamp("2025-01-01") + pd.Timedelta(days=d, minutes=m) for d, m, _, _ in rows]
    inc = pd.DataFrame(
        {"when": when, "precision": [p for _, _, p, _ in rows], "beat": [g for _, _, _, g in rows]}
    )
    inc["when"] = inc["when"].where(inc["precision"] == "minute", inc["when"].dt.floor("D"))
    inc.loc[inc["precision"] == "month", "when"] = inc["when"].dt.to_period("M").dt.start_time
    for _, row in seasonal_profiles(inc, by="beat").iterrows():
        mine = inc[inc["beat"] == row["beat"]]
        dated = mine[mine["precision"] != "month"]
        timed = mine[mine["precision"] == "minute"]
        assert row["dow_rows"] == len(dated) and row["hour_rows"] == len(timed)
        for rows_used, peak, p, cols, part, first in (
            (dated, "peak_day", "day_p", DOW_COLUMNS, dated["when"].dt.day_of_week, 1),
            (timed, "peak_hour", "hour_p", HOUR_COLUMNS, timed["when"].dt.hour, 0),
        ):
            if len(rows_used) == 0:
                assert np.isnan(row[peak]) and np.isnan(row[p]) and row[list(cols)].isna().all()
                continue
            ref = np.bincount(part, minlength=len(cols))
            assert row[list(cols)].tolist() == ref.tolist()
            assert row[peak] == int(np.argmax(ref)) + first
            assert 0 < row[p] <= 1


# --- runs -------------------------------------------------------------------------------

SAT_CENTRE = (458650.0, 304650.0)  # Leicester city centre: Saturday nights, 22:00-22:59
TUE_CENTRE = (459650.0, 303650.0)  # Tuesday afternoons, 14:00-14:59


def partner_export(rng: np.random.Generator) -> pd.DataFrame:
    """A case-system export, Jan-Jun 2025, with date-times (and some dates only)."""
    days = pd.date_range("2025-01-01", "2025-06-30", freq="D")
    saturdays, tuesdays = days[days.day_of_week == 5], days[days.day_of_week == 1]
    parts = []
    clusters = ((SAT_CENTRE, saturdays, 22, 150), (TUE_CENTRE, tuesdays, 14, 90))
    for centre, dates, hour, n in clusters:
        when = rng.choice(dates, n) + pd.to_timedelta(hour * 60 + rng.integers(0, 60, n), "min")
        xy = np.asarray(centre) + rng.normal(0, 25, (n, 2))
        parts.append(pd.DataFrame({"when": when, "x": xy[:, 0], "y": xy[:, 1]}))
    n = 200  # background anywhere in the centre, any time
    when = rng.choice(days, n) + pd.to_timedelta(rng.integers(0, 1440, n), "min")
    xy = rng.uniform([457000, 303000], [461000, 305000], (n, 2))
    parts.append(pd.DataFrame({"when": when, "x": xy[:, 0], "y": xy[:, 1]}))
    rows = pd.concat(parts, ignore_index=True)
    text = rows["when"].dt.strftime("%d/%m/%Y %H:%M")
    dated_only = rng.random(len(rows)) < 0.15  # some cases record the date only
    text[dated_only] = rows.loc[dated_only, "when"].dt.strftime("%d/%m/%Y")
    return pd.DataFrame(
        {
            "Ref": [f"C{i:05d}" for i in range(len(rows))],
            "Reported": text,
            "Type": "Anti-social behaviour",
            "Easting": rows["x"].round(0),
            "Northing": rows["y"].round(0),
        }
    )


def run_partner_export(folder: Path, *, seed: int, min_count: int = 1):
    """Write :func:`partner_export` to ``folder`` and run it; (result, output folder)."""
    partner_export(np.random.default_rng(seed)).to_csv(folder / "cases.csv", index=False)
    mapping = ColumnMapping(
        id="Ref", datetime="Reported", category="Type", easting="Easting", northing="Northing"
    )
    config = RunConfig(
        inputs=[InputSpec((str(folder / "cases.csv"),), "council", mapping)],
        areas=[("leicestershire/beats", {})],
        output=OutputConfig(dir=str(folder / "out"), min_count=min_count),
        population=PopulationConfig(enabled=False),
    )
    return run(config, write=True), folder / "out"


@pytest.fixture(scope="module")
def partner_run(tmp_path_factory):
    return run_partner_export(tmp_path_factory.mktemp("day_hour"), seed=3)


def reference(incidents: pd.DataFrame, key: str) -> pd.DataFrame:
    """Counts, rows and peaks per group written out with pandas alone."""
    out = {}
    precision, when = incidents["precision"], incidents["when"]
    for name, use, part, cols, first in (
        ("day", precision != "month", when.dt.day_of_week, DOW_COLUMNS, 1),
        ("hour", precision == "minute", when.dt.hour, HOUR_COLUMNS, 0),
    ):
        counts = pd.crosstab(incidents.loc[use, key].astype(object), part[use]).reindex(
            columns=range(len(cols)), fill_value=0
        )
        counts.columns = list(cols)
        counts[f"{name}_rows_ref"] = counts[list(cols)].sum(axis=1)
        counts[f"peak_{name}_ref"] = counts[list(cols)].to_numpy().argmax(axis=1) + first
        out[name] = counts
    return out["day"].join(out["hour"], how="outer")


def popups(page: str) -> list[str]:
    """Popup HTML of every polygon feature on the map page, unescaped to plain text."""
    dec = json.JSONDecoder()
    found = []
    for m in re.finditer(r"hsGeoJson\((?=\{)", page):
        data, _ = dec.raw_decode(page, m.end())
        found += [html.unescape(f["properties"].get("p", "")) for f in data["features"]]
    return found


def test_partner_run_publishes_day_and_hour(partner_run):
    result, out = partner_run
    inc = result.prepared.incidents
    assert set(inc["precision"].astype(str)) == {"day", "minute"}
    areas = pd.read_csv(out / "areas.csv")
    assert set(NEW_COLUMNS) <= set(areas.columns)
    beats = areas[areas["layer"] == "beat"].set_index("name")
    ref = reference(inc.loc[inc["beat"] != ""], "beat")
    assert set(ref.index) <= set(beats.index)
    got = beats.loc[ref.index]
    counts = list(DOW_COLUMNS) + list(HOUR_COLUMNS)
    assert (got[counts].fillna(0) == ref[counts].fillna(0)).all().all()
    assert (got["dow_rows"] == ref["day_rows_ref"]).all()
    assert (got["peak_day"] == ref["peak_day_ref"]).all()
    assert (got["peak_hour"] == ref["peak_hour_ref"]).all()
    quiet = beats.drop(index=ref.index)  # beats without incidents: 0 rows, no peak, no p
    assert (quiet["dow_rows"] == 0).all() and (quiet["hour_rows"] == 0).all()
    assert quiet[["peak_day", "day_p", "peak_hour", "hour_p"]].isna().all().all()

    hs = gpd.read_file(out / "hotspots.geojson")
    assert set(NEW_COLUMNS) <= set(hs.columns)
    members = inc.assign(hotspot_id=result.analysis.hotspot_set.labels)
    ref = reference(members[members["hotspot_id"] > 0], "hotspot_id")
    got = hs.set_index("hotspot_id").loc[ref.index]
    assert (got["peak_day"] == ref["peak_day_ref"]).all()
    assert (got["hour_rows"] == ref["hour_rows_ref"]).all()
    assert (got[list(HOUR_COLUMNS)] == ref[list(HOUR_COLUMNS)]).all().all()
    assert list(pd.read_csv(out / "hotspots.csv").columns) == list(hs.columns.drop("geometry"))
    # The Saturday-night cluster's hotspot.
    sat = got[(got["peak_day"] == 6) & (got["peak_hour"] == 22)]
    assert len(sat) >= 1 and (sat["day_p"] < 0.001).all() and (sat["hour_p"] < 0.001).all()

    texts = popups((out / "map.html").read_text())
    hot = [t for t in texts if t.startswith('<div class="hs-pop"><h4>Hotspot')]
    for dated, timed in zip(sat["dow_rows"], sat["hour_rows"], strict=True):
        line = (
            f"Peak day: Saturday (p < 0.001, {dated} dated incidents) · "
            f"peak hour: 22:00 (p < 0.001, {timed} timed)"
        )
        assert sum(line in t for t in hot) == 1
    castle = beats.loc["Castle"]  # the beat of the Saturday-night cluster
    line = (
        f"Peak day: Saturday (p < 0.001, {castle['dow_rows']} dated incidents) · "
        f"peak hour: 22:00 (p < 0.001, {castle['hour_rows']} timed)"
    )
    assert sum(line in t for t in texts if "<h4>Beat Castle</h4>" in t) == 1
    assert not any(
        "Peak day" in t for t in texts if "<h4>Beat" in t and "<th>Incidents</th><td>0</td>" in t
    )


def test_police_uk_run_has_no_day_or_hour_columns(tmp_path: Path, police_slice: Path):
    config = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)],
        output=OutputConfig(dir=str(tmp_path)),
        population=PopulationConfig(enabled=False),
    )
    run(config, write=True)
    areas = pd.read_csv(tmp_path / "areas.csv")
    hs = gpd.read_file(tmp_path / "hotspots.geojson")
    for columns in (areas.columns, hs.columns, pd.read_csv(tmp_path / "hotspots.csv").columns):
        assert "peak_month" in columns
        assert not set(NEW_COLUMNS) & set(columns)
    gpkg = tmp_path / "hotspots.gpkg"
    for layer in gpd.list_layers(gpkg)["name"]:
        assert not set(NEW_COLUMNS) & set(gpd.read_file(gpkg, layer=layer).columns), layer
    assert "Peak day" not in (tmp_path / "map.html").read_text()
