"""Day-of-week and hour outputs: a flat week stays flat, and min_count hides small counts."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest

from hotspots.seasonal import DOW_COLUMNS, HOUR_COLUMNS, seasonal_profiles
from tests.test_day_hour_outputs import run_partner_export

K = 5
COUNT_COLUMNS = ["dow_rows", *DOW_COLUMNS, "hour_rows", *HOUR_COLUMNS]


def test_police_uk_months_do_not_skew_the_flat_week_of_dated_rows():
    # police.uk rows (months only) Mar 2021 - Feb 2024; a partner export with dates for
    # Feb 2024 only, exactly 100 rows on every day of it: as flat a week as data can be.
    police = pd.DataFrame(
        {
            "when": pd.date_range("2021-03-01", "2024-02-01", freq="MS").repeat(50),
            "precision": "month",
            "beat": "A",
        }
    )
    days = pd.date_range("2024-02-01", "2024-02-29", freq="D")  # leap Feb: five Thursdays
    partner = pd.DataFrame({"when": days.repeat(100), "precision": "day", "beat": "A"})
    inc = pd.concat([police, partner], ignore_index=True)
    row = seasonal_profiles(inc, by="beat", months_with_data=inc["when"]).iloc[0]
    assert row[list(DOW_COLUMNS)].tolist() == [400, 400, 400, 500, 400, 400, 400]
    # The extra Thursday is the calendar, not the incidents: the week is flat.
    alone = seasonal_profiles(partner, by="beat").iloc[0]
    assert alone["day_p"] == pytest.approx(1.0)
    # Month-only rows add nothing to d1..d7, so they must not change the flat week either
    # (here they make it a "significant Thursday peak", p ~ 0.002).
    assert row["day_p"] == pytest.approx(alone["day_p"])


@pytest.fixture(scope="module")
def suppressed_run(tmp_path_factory):
    _, out = run_partner_export(tmp_path_factory.mktemp("review_day_hour"), seed=3, min_count=K)
    return out


def small_counts(table: pd.DataFrame) -> dict[str, int]:
    """How many published day/hour counts are between 1 and K-1 (which min_count blanks)."""
    cols = [c for c in COUNT_COLUMNS if c in table.columns]
    assert cols, "the run publishes no day/hour counts"
    values = table[cols].apply(pd.to_numeric, errors="coerce")
    small = ((values >= 1) & (values < K)).sum()
    return {c: int(n) for c, n in small.items() if n}


def test_min_count_blanks_small_day_hour_counts_in_areas_csv(suppressed_run):
    areas = pd.read_csv(suppressed_run / "areas.csv")
    blanked = areas["incidents"].isna()
    assert blanked.any()  # the run has areas whose count min_count hides
    # ... and their incidents must not be readable from dow_rows / d1..d7 / h00..h23.
    assert small_counts(areas) == {}
    # Nor from the monthly means, nor their one incident's weekday and hour from the peaks.
    assert areas.loc[blanked, [f"m{m:02d}" for m in range(1, 13)]].isna().all().all()
    assert areas.loc[areas["dow_rows"].isna(), ["peak_day", "day_p"]].isna().all().all()
    assert areas.loc[areas["hour_rows"].isna(), ["peak_hour", "hour_p"]].isna().all().all()


def test_min_count_blanks_small_day_hour_counts_in_hotspots_csv(suppressed_run):
    assert small_counts(pd.read_csv(suppressed_run / "hotspots.csv")) == {}
    assert small_counts(gpd.read_file(suppressed_run / "hotspots.geojson")) == {}


def test_min_count_blanks_small_counts_in_geopackage_area_layers(suppressed_run):
    gpkg = suppressed_run / "hotspots.gpkg"
    layers = [n for n in gpd.list_layers(gpkg)["name"] if n.startswith("areas_")]
    assert layers
    for layer in [*layers, "hotspots"]:
        table = gpd.read_file(gpkg, layer=layer)
        assert small_counts(table) == {}, layer
        incidents = table["incidents"]
        assert not ((incidents >= 1) & (incidents < K)).any(), layer
