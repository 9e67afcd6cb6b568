"""``hotspots impact``: WDD/WDQ against hand-worked values, a planted effect recovered, the
false-positive rate where nothing was planted, and the CLI end to end on embedded data."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspots.boundaries import load_areas
from hotspots.cli import main
from hotspots.impact import (
    COLUMNS,
    COUNT_COLUMNS,
    Impact,
    assign_zones,
    dose_response,
    impact,
    impact_table,
    relative_change,
    too_small,
    wdd,
    wdq,
)
from hotspots.impact._dose import patrol_dose
from hotspots.schema import InputError

# -- hand-worked values ------------------------------------------------------------------
# The worked example of Wheeler's ptools `wdd` (the Wheeler & Ratcliffe 2018 statistic):
# treated T 207 → 110, control C 308 → 318, treated buffer D 178 → 157, control buffer
# Cd 150 → 140.
T0, T1, C0, C1, D0, D1, CD0, CD1 = 207, 110, 308, 318, 178, 157, 150, 140


def test_wdd_hand_worked() -> None:
    r = wdd(T0, T1, C0, C1, D0, D1, CD0, CD1).iloc[0]
    # ΔT = 110 − 207 = −97; ΔC = 318 − 308 = 10; local = −97 − 10 = −107
    assert r.wdd_local == -107
    # ΔD = 157 − 178 = −21; ΔCd = 140 − 150 = −10; displacement = −21 − (−10) = −11
    assert r.wdd_displacement == -11
    # WDD = −107 + (−11) = −118
    assert r.wdd == -118
    # Var = 207 + 110 + 308 + 318 + 178 + 157 + 150 + 140 = 1568; se = √1568 = 39.5980
    assert r.wdd_se == pytest.approx(math.sqrt(1568))
    assert r.wdd_se == pytest.approx(39.5980, abs=1e-4)
    # z = −118 / 39.5980 = −2.97995; p = 2·Φ(−2.97995) = 0.002883
    assert r.wdd_z == pytest.approx(-118 / math.sqrt(1568))
    assert r.wdd_p == pytest.approx(math.erfc(118 / math.sqrt(1568) / math.sqrt(2)))
    assert r.wdd_p == pytest.approx(0.002883, abs=1e-6)
    # Local only (no buffers): −107 with se √(207 + 110 + 308 + 318) = √943 = 30.71 (ptools'
    # "Estimate −107 (30.7)").
    local = wdd(T0, T1, C0, C1).iloc[0]
    assert (local.wdd, round(local.wdd_se, 1)) == (-107, 30.7)


def test_wdq_hand_worked() -> None:
    # Bowers & Johnson (2003): WDQ = (Da/Ca − Db/Cb) / (Ra/Ca − Rb/Cb)
    # success measure: 110/318 − 207/308 = 0.345912 − 0.672078 = −0.326166
    # buffer measure:  157/318 − 178/308 = 0.493711 − 0.577922 = −0.084211
    # WDQ = −0.084211 / −0.326166 = 0.258186 (diffusion of benefits, smaller than the effect)
    r = wdq(T0, T1, C0, C1, D0, D1).iloc[0]
    assert r.success_measure == pytest.approx(110 / 318 - 207 / 308)
    assert r.success_measure == pytest.approx(-0.326166, abs=1e-6)
    assert r.buffer_measure == pytest.approx(-0.084211, abs=1e-6)
    assert r.wdq == pytest.approx(0.258186, abs=1e-6)
    # Displacement: buffer up while the treated area falls → negative WDQ.
    # (60/100 − 50/100) / (20/100 − 40/100) = 0.1 / −0.2 = −0.5
    assert wdq(40, 20, 100, 100, 50, 60).iloc[0].wdq == pytest.approx(-0.5)
    # No control after-count: undefined, not infinite.
    assert np.isnan(wdq(40, 20, 100, 0, 50, 60).iloc[0].wdq)


def test_unequal_periods_scale_the_after_counts() -> None:
    # 12 months before, 6 after: after counts × 12/6 = 2.
    # T 120 → 30 (rate 10 → 5 a month), C 120 → 60 (unchanged rate).
    # ΔT = 2·30 − 120 = −60, ΔC = 2·60 − 120 = 0; WDD = −60 (incidents over 12 months)
    # Var = 120 + 4·30 + 120 + 4·60 = 600; per month −60/12 = −5
    counts = pd.DataFrame(
        {
            "area": ["A"],
            "treated_before": [120],
            "treated_after": [30],
            "control_before": [120],
            "control_after": [60],
        }
    )
    t = impact_table(counts, months_before=12, months_after=6).iloc[0]
    assert t.after_scale == 2.0
    assert t.wdd == -60 and t.wdd_per_month == -5
    assert t.wdd_se == pytest.approx(math.sqrt(600))
    # relative change needs no scaling: (30/120)/(60/120) − 1 = −0.5
    assert t.relative_change == pytest.approx(-0.5)


def test_relative_change_interval_methods() -> None:
    # log-RR: RR = (50/100)/(100/100) = 0.5, se = √(1/100 + 1/50 + 1/100 + 1/100) = √0.05
    r = relative_change(100, 50, 100, 100).iloc[0]
    se = math.sqrt(0.05)
    assert r.interval_method == "log-rr"
    assert r.relative_change_low == pytest.approx(0.5 * math.exp(-1.959964 * se) - 1, abs=1e-6)
    assert r.relative_change_high == pytest.approx(0.5 * math.exp(1.959964 * se) - 1, abs=1e-6)
    # Small counts: the exact conditional (Fisher) interval of the 2×2 odds ratio, wider
    # than the Wald one and still covering the estimate; a zero count is handled.
    small = relative_change([6, 6], [2, 0], [5, 5], [7, 7]).iloc
    assert small[0].interval_method == "exact"
    assert small[0].relative_change_low < small[0].relative_change < small[0].relative_change_high
    assert small[1].relative_change == -1 and small[1].relative_change_low == -1
    assert np.isfinite(small[1].relative_change_high)


def test_too_small_rule() -> None:
    # equal periods, huge control: 1.96·√(3/T0) ≤ ln 2 needs T0 ≥ 24
    assert too_small([23, 24], [1e9, 1e9]).tolist() == [True, False]
    assert too_small([0], [100]).tolist() == [True]


def test_all_row_is_the_sums_and_bad_counts_refused() -> None:
    counts = pd.DataFrame({c: [5, 7, 11] for c in COUNT_COLUMNS}).assign(area=["b", "a", "c"])
    t = impact_table(counts, months_before=3, months_after=3)
    assert t.columns.tolist()[: len(COLUMNS)] == COLUMNS
    assert t["area"].tolist() == ["a", "b", "c", "all"]
    for c in COUNT_COLUMNS:
        assert t[c].iloc[-1] == t[c].iloc[:-1].sum()
    with pytest.raises(InputError, match="treated_before"):
        impact_table(counts.assign(treated_before=-1), months_before=3, months_after=3)
    with pytest.raises(InputError, match="'all'"):
        impact_table(counts.assign(area=["all", "x", "y"]), months_before=3, months_after=3)


# -- synthetic interventions ---------------------------------------------------------------
def _pooled_counts(rng: np.random.Generator, n_seeds: int, *, effect: float, rate: float):
    """Pooled counts of 10 treated areas, 10 controls and their buffers over n_seeds
    independent evaluations: Poisson ``rate`` per area and period, the treated after-rate
    multiplied by ``effect``."""
    shape = (n_seeds, 10)

    def draw(mult: float = 1.0) -> np.ndarray:
        return rng.poisson(rate * mult, size=shape).sum(axis=1)

    return (draw(), draw(effect), draw(), draw(), draw(2), draw(2), draw(2), draw(2))


def test_no_effect_false_positive_rate_is_nominal() -> None:
    rng = np.random.default_rng(20260101)
    t0, t1, c0, c1, d0, d1, cd0, cd1 = _pooled_counts(rng, 400, effect=1.0, rate=8.0)
    w = wdd(t0, t1, c0, c1, d0, d1, cd0, cd1)
    rc = relative_change(t0, t1, c0, c1)
    wdd_fpr = float((w["wdd_p"] < 0.05).mean())
    rc_fpr = float(((rc["relative_change_low"] > 0) | (rc["relative_change_high"] < 0)).mean())
    # 400 evaluations: the binomial SE of a 5 % rate is 1.1 %; allow ±3 SE.
    assert 0.017 <= wdd_fpr <= 0.083, wdd_fpr
    assert 0.017 <= rc_fpr <= 0.083, rc_fpr


def test_small_count_exact_interval_is_not_anticonservative() -> None:
    rng = np.random.default_rng(7)
    t0, t1, c0, c1 = (rng.poisson(4.0, size=150) for _ in range(4))
    rc = relative_change(t0, t1, c0, c1)
    assert (rc["interval_method"] == "exact").mean() > 0.9
    finite = rc["relative_change_low"].notna()
    wrong = (rc["relative_change_low"] > 0) | (rc["relative_change_high"] < 0)
    assert wrong[finite].mean() <= 0.06


def test_planted_effect_covered_at_nominal_rate() -> None:
    rng = np.random.default_rng(11)
    t0, t1, c0, c1, *_ = _pooled_counts(rng, 400, effect=0.7, rate=8.0)
    rc = relative_change(t0, t1, c0, c1)
    covered = (rc["relative_change_low"] <= -0.3) & (-0.3 <= rc["relative_change_high"])
    assert 0.92 <= covered.mean() <= 0.98, covered.mean()


def _synthetic_incidents(seed: int, *, drop: float) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Uniform incidents over 10 × 10 km for 12 months; ``drop`` of the treated areas'
    incidents removed from month 7 on (the planted reduction: true relative change −drop)."""
    rng = np.random.default_rng(seed)
    treated = gpd.GeoDataFrame(
        {"name": [f"T{i}" for i in range(6)]},
        geometry=[shapely.box(800 + i * 1500, 4000, 1200 + i * 1500, 4400) for i in range(6)],
        crs=27700,
    )
    months = pd.date_range("2024-01-01", periods=12, freq="MS")
    n = rng.poisson(12_000, size=12)
    inc = pd.DataFrame(
        {
            "x": rng.uniform(0, 10_000, n.sum()),
            "y": rng.uniform(0, 10_000, n.sum()),
            "when": np.repeat(months, n),
        }
    )
    inside = np.zeros(len(inc), dtype=bool)
    for xmin, ymin, xmax, ymax in treated.bounds.to_numpy():
        inside |= inc["x"].between(xmin, xmax).to_numpy() & inc["y"].between(ymin, ymax).to_numpy()
    after = (inc["when"] >= "2024-07-01").to_numpy()
    removed = inside & after & (rng.random(len(inc)) < drop)
    return inc.loc[~removed].reset_index(drop=True), treated


def test_synthetic_intervention_recovered_with_auto_controls() -> None:
    inc, treated = _synthetic_incidents(1, drop=0.4)
    res = impact(
        inc,
        treated=treated,
        before="2024-01:2024-06",
        after="2024-07:2024-12",
        controls="auto",
        seed=5,
        study_area=shapely.box(0, 0, 10_000, 10_000),
    )
    every = res.table.iloc[-1]
    assert every["area"] == "all"
    assert every["relative_change_low"] <= -0.4 <= every["relative_change_high"]
    assert every["relative_change_high"] < 0  # a fall, detected
    assert every["wdd"] < 0 and every["wdd_p"] < 0.05
    assert not every["too_small"]
    # Nothing was displaced: the buffers' change is within noise of the controls'.
    assert abs(every["wdd_displacement"]) < 3 * every["wdd_se"]
    # Reproducible with the seed; controls are untreated cells away from the treated areas.
    again = impact(
        inc,
        treated=treated,
        before="2024-01:2024-06",
        after="2024-07:2024-12",
        controls="auto",
        seed=5,
        study_area=shapely.box(0, 0, 10_000, 10_000),
    )
    pd.testing.assert_frame_equal(res.table, again.table)
    ctrl = res.zones[res.zones["role"] == "control"]
    assert len(ctrl) == len(treated)
    assert ctrl.distance(shapely.union_all(treated.geometry.values)).min() >= 500 - 1e-6
    assert res.months_before == res.months_after == 6
    p = res.params()
    assert p["months_before"] == p["months_after"] == 6 and p["after_scale"] == 1.0
    assert p["before"] == ["2024-01", "2024-06"] and p["after"] == ["2024-07", "2024-12"]
    assert p["controls"].startswith("auto: ") and p["candidates"] > len(treated)
    assert p["unequal_periods"] == "equal lengths: no scaling" and p["seed"] == 5
    assert p["buffer_rule"].endswith("(default width)") and p["weighted"] == "counts"
    assert json.loads(json.dumps(p)) == p
    # A frozen, keyword-only result: rebuilt from its fields it gives the same parameters.
    fields = {f.name: getattr(res, f.name) for f in dataclasses.fields(res)}
    assert Impact(**fields).params() == p
    with pytest.raises(TypeError):
        Impact(*fields.values())  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.seed = 1  # type: ignore[misc]


def test_synthetic_no_effect_with_given_controls() -> None:
    inc, treated = _synthetic_incidents(2, drop=0.0)
    controls = treated.assign(geometry=treated.translate(yoff=3000))  # same names: paired
    res = impact(
        inc, treated=treated, controls=controls, before="2024-01:2024-06", after="2024-07:2024-12"
    )
    every = res.table.iloc[-1]
    assert every["relative_change_low"] <= 0 <= every["relative_change_high"]
    assert res.table["control"].iloc[:-1].tolist() == treated["name"].tolist()
    with pytest.raises(InputError, match="overlaps treated"):
        impact(
            inc,
            treated=treated,
            controls=treated,
            before="2024-01:2024-06",
            after="2024-07:2024-12",
        )
    with pytest.raises(InputError, match="overlap"):
        impact(
            inc,
            treated=treated,
            controls=controls,
            before="2024-01:2024-06",
            after="2024-06:2024-12",
        )


def test_overlapping_buffers_count_once_for_the_nearest_area() -> None:
    treated = gpd.GeoDataFrame(
        {"name": ["A", "B"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(300, 0, 400, 100)],
        crs=27700,
    )
    controls = gpd.GeoDataFrame(
        {"name": ["C"]}, geometry=[shapely.box(0, 5000, 100, 5100)], crs=27700
    )
    x = np.array([50, 150, 260, 190, 50, 50, 50])
    y = np.array([50, 50, 50, 150, 5050, 5200, 9000])
    role, owner = assign_zones(x, y, treated, controls, buffer_m=250)
    # inside A; A's ring; B's ring (40 m from B, 160 m from A); in both rings, counted once
    # for A (103 m from A, 121 m from B); inside C; C's ring; nowhere
    assert role.tolist() == [0, 2, 2, 2, 1, 3, -1]
    assert owner.tolist() == [0, 0, 1, 0, 0, 0, -1]


def test_dose_response() -> None:
    table = pd.DataFrame(
        {
            "area": list("abcdef"),
            "treated_before": [40] * 6,
            "treated_after": [40, 38, 30, 28, 20, 18],
            "control_before": [40] * 6,
            "control_after": [40] * 6,
        }
    )
    log = pd.DataFrame(
        {
            "area": list("abcdef") * 2,
            "date": ["2025-07-07"] * 6 + ["2025-05-01"] * 6,  # second lot: before
            "minutes": [0, 60, 120, 180, 240, 300] * 2,
        }
    )
    dose = patrol_dose(
        log,
        areas=list("abcdef"),
        after=(pd.Period("2025-07"), pd.Period("2025-12")),
        months_after=6,
    )
    assert dose["minutes"].tolist() == [0, 60, 120, 180, 240, 300]
    bands, trend = dose_response(table, dose)
    assert bands["dose_band"].tolist() == ["low", "middle", "high"]
    assert bands["relative_change"].is_monotonic_decreasing
    assert trend["spearman_rho"] == pytest.approx(-1.0)
    with pytest.raises(InputError, match="not a treated area"):
        patrol_dose(
            log.assign(area="z"),
            areas=list("abc"),
            after=(pd.Period("2025-07"), pd.Period("2025-12")),
            months_after=6,
        )


# -- end to end ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def treated_file(tmp_path_factory) -> Path:
    """Four busy Leicester city beats as a partner's file of patrolled places (WGS84)."""
    beats = load_areas("leicestershire/beats")[0].polygons
    chosen = beats[beats["name"].isin(["Belgrave", "Latimer", "Westcotes", "Millfield"])]
    assert len(chosen) == 4
    path = tmp_path_factory.mktemp("treated") / "patrolled.geojson"
    chosen.rename(columns={"name": "place_id"}).to_crs(4326).to_file(path, driver="GeoJSON")
    return path


def _impact_args(treated: Path, out: Path) -> list[str]:
    from hotspots import embedded_police_uk

    return [
        "-q",
        "impact",
        "--incidents",
        str(embedded_police_uk()),
        "--treated",
        str(treated),
        "--treated-field",
        "place_id",
        "--before",
        "2025-01:2025-06",
        "--after",
        "2025-07:2025-12",
        "--controls",
        "auto",
        "--seed",
        "3",
        "--out",
        str(out),
    ]


def test_cli_impact_on_embedded_data(tmp_path: Path, treated_file: Path) -> None:
    out = tmp_path / "impact"
    assert main(_impact_args(treated_file, out)) == 0
    table = pd.read_csv(out / "impact.csv", keep_default_na=False, na_values=[""])
    for col in [
        "area",
        "treated_before",
        "treated_after",
        "control_before",
        "control_after",
        "buffer_before",
        "buffer_after",
        "wdd",
        "wdd_se",
        "wdd_z",
        "wdd_p",
        "wdq",
        "relative_change",
        "relative_change_low",
        "relative_change_high",
        "too_small",
    ]:
        assert col in table.columns, col
    assert table["area"].tolist() == ["Belgrave", "Latimer", "Millfield", "Westcotes", "all"]
    for col in COUNT_COLUMNS:
        assert table[col].iloc[-1] == table[col].iloc[:-1].sum(), col
    assert (table["treated_before"].iloc[:-1] > 0).all()
    assert table["wdd"].iloc[-1] == pytest.approx(table["wdd"].iloc[:-1].sum())
    meta = json.loads((out / "impact.json").read_text())
    assert meta["outputs"] == ["impact.csv", "impact.geojson", "impact.json", "impact.png"]
    assert meta["seed"] == 3 and meta["months_before"] == 6
    zones = gpd.read_file(out / "impact.geojson")
    assert zones.crs.to_epsg() == 4326
    assert set(zones["role"]) == {"treated", "control", "buffer", "control_buffer"}
    assert (out / "impact.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(out.glob(".staging-*"))
    # same seed, same controls, same bytes
    again = tmp_path / "again"
    assert main(_impact_args(treated_file, again)) == 0
    assert (again / "impact.csv").read_bytes() == (out / "impact.csv").read_bytes()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--before": "2025-13:2025-06"}, "--before"),
        ({"--after": "2025-03:2025-12"}, "overlap"),
        ({"--treated-field": "nope"}, "nope"),
        ({"--controls": "missing.gpkg"}, "--controls-field"),
    ],
)
def test_cli_impact_bad_input(tmp_path, treated_file, capsys, change, message) -> None:
    args = _impact_args(treated_file, tmp_path / "out")
    for flag, value in change.items():
        args[args.index(flag) + 1] = value
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err


# --- harm weights -------------------------------------------------------------------------


def test_weighted_table_hand_worked() -> None:
    # Sums of weights and of squared weights: T 10→4 (Σw² 30, 8), C 6→6 (Σw² 12, 10).
    counts = pd.DataFrame(
        {
            "area": ["A"],
            "treated_before": [10.0],
            "treated_after": [4.0],
            "control_before": [6.0],
            "control_after": [6.0],
            "treated_before_sq": [30.0],
            "treated_after_sq": [8.0],
            "control_before_sq": [12.0],
            "control_after_sq": [10.0],
        }
    )
    row = impact_table(counts, months_before=6, months_after=6, weighted=True).iloc[0]
    assert row["wdd"] == -6.0  # (4 − 10) − (6 − 6)
    assert row["wdd_se"] == pytest.approx(math.sqrt(60))  # 30 + 8 + 12 + 10
    assert row["relative_change"] == pytest.approx(0.4 / 1.0 - 1)
    se = math.sqrt(30 / 100 + 8 / 16 + 12 / 36 + 10 / 36)  # Σw²/(Σw)² of each count
    assert row["relative_change_low"] == pytest.approx(0.4 * math.exp(-1.959964 * se) - 1)
    assert row["relative_change_high"] == pytest.approx(0.4 * math.exp(1.959964 * se) - 1)
    assert row["interval_method"] == "log-rr-weighted"
    # effective counts (Σw)²/Σw²: T0 100/30 ≈ 3.3 treated incidents before: too small
    assert bool(row["too_small"])
    assert (
        "treated_before_sq"
        not in impact_table(counts, months_before=6, months_after=6, weighted=True).columns
    )


def test_unit_weights_give_the_unweighted_wdd_and_doubled_weights_scale_it() -> None:
    inc, treated = _synthetic_incidents(3, drop=0.3)
    kw = dict(
        treated=treated,
        before="2024-01:2024-06",
        after="2024-07:2024-12",
        controls="auto",
        seed=2,
        study_area=shapely.box(0, 0, 10_000, 10_000),
    )
    plain = impact(inc, **kw).table
    ones = impact(inc, weights=np.ones(len(inc)), **kw).table
    twos = impact(inc, weights=np.full(len(inc), 2.0), **kw).table
    for col in ("treated_before", "control_after", "wdd", "wdd_se", "relative_change"):
        np.testing.assert_allclose(ones[col].astype(float), plain[col].astype(float))
    np.testing.assert_allclose(twos["wdd"], 2 * plain["wdd"])
    np.testing.assert_allclose(twos["wdd_se"], 4 * plain["wdd_se"] / 2)  # √(Σ 4) = 2√n
    np.testing.assert_allclose(twos["wdd_z"], plain["wdd_z"])
    with pytest.raises(InputError, match="weights"):
        impact(inc, weights=-np.ones(len(inc)), **kw)
