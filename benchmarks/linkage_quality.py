"""Precision and recall of duplicate linking on a synthetic police/council export pair.

The pair is built from real police.uk rows and the LE postcode table
(:func:`tests.partner_pairs.synthetic_partner_exports`), written as CSV files with
its TOML config, and read back through the real loaders (config, load, geocode) as an
analyst's run would. :func:`hotspots.linkage.link_duplicates` then runs with its defaults,
given the postcode table the records were located with, and its links are scored against
the known truth (:func:`score_links`):

* day case: police case export (day dates, exact easting/northing) vs council export;
* month case: the police.uk rows themselves (month only) vs the same council export;
* postcode-geocoded re-reports (issue 20): each at a random postcode centroid within
  150 m of the incident, 0-2 days later, with and without council-only reports, with
  recall by distance band and by delay, and the ceiling on the partner choice;
* the same on other data: Leicester city centre (the tests' two months), Leicestershire
  2021, other seeds; a sensitivity table over the builder's settings; the linker without
  the postcode table and without the probability threshold; speed on 1.1M records.

The main table is printed as the Markdown rows of docs/partnership.md's results table.
Run: ``python benchmarks/linkage_quality.py [--quick] [--seed N]`` (``--quick``: two
months, main cases only). Results are recorded in docs/partnership.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io import InputSpec, load_incidents, read_postcode_table
from hotspots.linkage import LinkResult, link_duplicates
from hotspots.linkage._evidence import postcode_precision
from hotspots.pipeline import load_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic pair builder is a test aid, in tests/
from tests.partner_pairs import (  # noqa: E402
    PartnerExports,
    score_links,
    synthetic_partner_exports,
)

DATA = ROOT / "hotspots" / "_data" / "police_uk" / "leicestershire"
CITY = sorted((ROOT / "tests" / "data" / "police_uk_slice").glob("*.csv.gz"))
MEASURES = (
    ("exact", "precision", "recall"),
    ("twin", "twin_precision", "twin_recall"),
    ("look-alike", "place_precision", "place_recall"),
    ("records", "record_precision", "record_recall"),
)


def months(year: int) -> list[Path]:
    return [DATA / f"{year}-{m:02d}-leicestershire-street.csv.gz" for m in range(1, 13)]


def write_pair(pair: PartnerExports, folder: Path) -> Path:
    """Write the exports and their config as an analyst would have them; return the config."""
    for rel, table in pair.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / rel, index=False)
    config = folder / "hotspots.toml"
    config.write_text(pair.config_toml, encoding="utf-8")
    return config


class Case:
    """One synthetic pair, loaded and located for the day and the month case."""

    def __init__(self, files: list[Path], postcodes: PostcodeIndex, **builder) -> None:
        police_uk = locate_incidents(load_incidents(InputSpec.police_uk(files)).incidents)
        self.pair = synthetic_partner_exports(police_uk.incidents, postcodes, **builder)
        with tempfile.TemporaryDirectory() as tmp:
            inputs = load_config(write_pair(self.pair, Path(tmp))).inputs
            council = [i for i in inputs if i.source == "council"]
            self.day = locate_incidents(load_incidents(inputs).incidents, postcodes=postcodes)
            self.month = locate_incidents(
                load_incidents([*council, InputSpec.police_uk(files)]).incidents,
                postcodes=postcodes,
            )
        assert self.day.rejects.empty, "every synthetic row should load"
        t = self.pair.truth
        self.truth = {
            "day": set(zip(t["police_ref"], t["council_ref"], strict=True)),
            "month": set(zip(t["police_uk_id"], t["council_ref"], strict=True)),
        }
        self.only = set(self.pair.council["Case Ref"]) - set(t["council_ref"])
        self.postcodes = postcodes

    def incidents(self, case: str) -> pd.DataFrame:
        return (self.day if case == "day" else self.month).incidents

    def link(self, case: str, **kw) -> tuple[LinkResult, dict[str, float], float]:
        kw.setdefault("postcode_points", self.postcodes)
        inc = self.incidents(case)
        t0 = time.perf_counter()
        result = link_duplicates(inc, **kw)
        seconds = time.perf_counter() - t0
        police = "police_cases" if case == "day" else "police.uk"
        return (
            result,
            score_links(result.links, inc, self.truth[case], police_source=police),
            seconds,
        )


def row(s: dict[str, float]) -> str:
    return " | ".join(f"{s[p]:.3f} / {s[r]:.3f}" for _, p, r in MEASURES)


def explain(case: Case, kind: str, result: LinkResult) -> dict[str, int]:
    """Sort the errors into their causes."""
    police = "police_cases" if kind == "day" else "police.uk"
    truth, inc = case.truth[kind], case.incidents(kind)
    wide = result.links.pivot_table(index="group", columns="source", values="id", aggfunc="first")
    wide = wide[[police, "council"]].dropna()
    found = set(zip(wide[police], wide["council"], strict=True))
    linked = set(wide["council"])
    at = inc.set_index(["source", "incident_id"])
    pts = case.postcodes.full[["x", "y"]].to_numpy()
    partner = {c: p for p, c in truth}
    causes = dict.fromkeys(
        [
            "false: council-only report linked",
            "false: re-report linked to a record at the same point",
            "false: re-report linked to a record elsewhere",
            "missed: re-report linked elsewhere",
            "missed: partner beyond the distance limit",
            "missed: re-report dated in the next month",
            "missed: below min_probability, or partner taken",
        ],
        0,
    )
    for p, c in found - truth:
        if c in case.only:
            causes["false: council-only report linked"] += 1
        elif np.allclose(at.loc[(police, p), ["x", "y"]], at.loc[(police, partner[c]), ["x", "y"]]):
            causes["false: re-report linked to a record at the same point"] += 1
        else:
            causes["false: re-report linked to a record elsewhere"] += 1
    for p, c in truth - found:
        rp, rc = at.loc[(police, p)], at.loc[("council", c)]
        prec = postcode_precision(
            np.array([[rc["x"], rc["y"]]]), np.array([rc["loc_precision_m"]]), pts
        )[0][0]
        limit = max(
            result.params["min_distance_m"],
            rp["loc_precision_m"] + prec + result.params["allowance_m"],
        )
        if c in linked:
            causes["missed: re-report linked elsewhere"] += 1
        elif np.hypot(rp["x"] - rc["x"], rp["y"] - rc["y"]) > limit:
            causes["missed: partner beyond the distance limit"] += 1
        elif rp["precision"] == "month" and rp["when"].month != rc["when"].month:
            causes["missed: re-report dated in the next month"] += 1
        else:
            causes["missed: below min_probability, or partner taken"] += 1
    return causes


#: The postcode-geocoded case (issue 20): each re-report located at a random postcode
#: centroid within 150 m of the incident, dated 0-2 days later; council-only reports
#: located the same way.
POSTCODE_GEOCODED = {"postcode_within_m": 150.0, "near_m": 150.0, "max_delay_days": 2}
BANDS_M = (0.0, 50.0, 100.0, 150.0)


def recall_by_band(case: Case, result: LinkResult) -> pd.DataFrame:
    """Day case: recall (look-alike and records) of the re-reports by the distance from the
    police point to the council record's postcode centroid, and by delay in days."""
    inc = case.incidents("day").set_index(["source", "incident_id"])
    links = result.links
    wide = links.pivot_table(index="group", columns="source", values="id", aggfunc="first")
    wide = wide[["police_cases", "council"]].dropna()
    linked_to = dict(zip(wide["council"], wide["police_cases"], strict=True))
    merged = set(links.loc[(links["source"] == "council") & ~links["kept"], "id"])
    rows = []
    for p, c in case.truth["day"]:
        rp, rc = inc.loc[("police_cases", p)], inc.loc[("council", c)]
        q = linked_to.get(c)
        alike = q is not None and (
            q == p
            or (
                inc.loc[("police_cases", q), ["x", "y", "category"]].tolist()
                == rp[["x", "y", "category"]].tolist()
            )
        )
        rows.append(
            {
                "distance_m": float(np.hypot(rp["x"] - rc["x"], rp["y"] - rc["y"])),
                "delay_days": int((rc["when"] - rp["when"]).days),
                "look-alike": alike,
                "records": c in merged,
            }
        )
    frame = pd.DataFrame(rows)
    band = pd.cut(frame["distance_m"], [*BANDS_M[:-1], np.inf], right=False)
    out = []
    for name, key in (("distance", band), ("delay", frame["delay_days"])):
        g = frame.groupby(key, observed=True)[["look-alike", "records"]].agg(["size", "mean"])
        g = g.droplevel(0, axis=1).iloc[:, [0, 1, 3]]
        g.columns = ["re-reports", "look-alike recall", "records recall"]
        g.index = [f"{name} {k}" for k in g.index]
        out.append(g)
    return pd.concat(out).round(3)


def same_point_rivals(case: Case) -> float:
    """Expected twin-measure errors of a perfect linker: the share of re-reports that have
    other police records at their partner's point, category and within 0 to 3 days before
    the report, among which even the true delay distribution cannot choose."""
    inc = case.incidents("day")
    pol = inc[inc["source"] == "police_cases"]
    key = (
        pol["x"].round(1).astype(str) + pol["y"].round(1).astype(str) + pol["category"].astype(str)
    )
    day = pol["when"].to_numpy().astype("datetime64[D]").astype(np.int64)
    by_key = pd.Series(day, index=key.to_numpy()).groupby(level=0).agg(list)
    info = pd.DataFrame({"key": key.to_numpy(), "day": day}, index=pol["incident_id"].to_numpy())
    council = inc[inc["source"] == "council"].set_index("incident_id")
    loss = 0.0
    for p, c in case.truth["day"]:
        d_c = council.at[c, "when"].to_datetime64().astype("datetime64[D]").astype(np.int64)
        days = np.asarray(by_key[info.at[p, "key"]])
        rivals = np.sum((d_c - days >= 0) & (d_c - days <= 3) & (days != info.at[p, "day"]))
        loss += rivals / (1 + rivals)
    return loss / len(case.truth["day"])


def calibration(case: Case, kind: str, result: LinkResult) -> pd.DataFrame:
    """Share of links that merged a true re-report, by learnt probability band."""
    police = "police_cases" if kind == "day" else "police.uk"
    links = result.links
    council = links[(links["source"] == "council") & ~links["kept"]].set_index("group")["id"]
    groups = result.groups.set_index("group").reindex(council.index)
    truth = {c for _, c in case.truth[kind]}
    band = pd.cut(groups["probability"], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], include_lowest=True)
    return (
        pd.DataFrame({"probability": band, "right": council.isin(truth).to_numpy()})
        .groupby("probability", observed=True)["right"]
        .agg(["size", "mean"])
        .rename(columns={"size": "links", "mean": f"records right ({police})"})
    )


def scale_timing() -> str:
    """Seconds to link 1.1M records: 1M police (day, exact) and 100k council (postcode)."""
    rng = np.random.default_rng(0)
    hot = rng.uniform(0, 60_000, (20_000, 2))
    n_p, n_c = 1_000_000, 100_000
    xy = hot[rng.integers(0, len(hot), n_p + n_c)] + rng.normal(0, 150, (n_p + n_c, 2))
    again = rng.choice(n_p, 70_000, replace=False)
    xy[n_p : n_p + 70_000] = xy[again] + rng.normal(0, 30, (70_000, 2))
    day = rng.integers(0, 365, n_p + n_c)
    day[n_p : n_p + 70_000] = day[again] + rng.integers(0, 4, 70_000)
    cat = rng.integers(0, 4, n_p + n_c)
    cat[n_p : n_p + 70_000] = cat[again]
    names = np.array(["Anti-social behaviour", "Criminal damage and arson", "Burglary", "Drugs"])
    inc = pd.DataFrame(
        {
            "_row": np.arange(n_p + n_c),
            "incident_id": np.arange(n_p + n_c).astype(str),
            "when": np.datetime64("2025-01-01") + day.astype("timedelta64[D]"),
            "precision": "day",
            "category": names[cat],
            "source": np.where(np.arange(n_p + n_c) < n_p, "police", "council"),
            "x": xy[:, 0],
            "y": xy[:, 1],
            "loc_precision_m": np.where(np.arange(n_p + n_c) < n_p, 0.0, 100.0),
        }
    )
    t0 = time.perf_counter()
    result = link_duplicates(inc)
    return f"{time.perf_counter() - t0:.1f} s, {len(result.groups):,} groups"


def table_row(name: str, s: dict[str, float]) -> str:
    """One row of the main table: case, then P / R for each measure."""
    return f"| {name} | " + row(s) + " |"


def choice_ceiling(case: Case) -> dict[str, float]:
    """Day case linked without the council-only reports: what the linker scores when
    every council record is a re-report, i.e. how often the partner (or a look-alike) is
    chosen among the candidates even with no doubt about which records are duplicates."""
    inc = case.incidents("day")
    inc = inc[~inc["incident_id"].isin(case.only) | (inc["source"] != "council")]
    result = link_duplicates(inc, postcode_points=case.postcodes)
    return score_links(result.links, inc, case.truth["day"], police_source="police_cases")


def supervised_bound(case: Case) -> dict[str, float]:
    """Records precision a classifier *trained on the truth* reaches at given recalls, day
    case, from what the linker sees of each council record: how many police records of
    its category lie within its limit over the whole extract, and how many (and the
    nearest, as a share of the limit) at each day offset band. Cross-validated (5 folds),
    so no record is scored by a model that saw it. It ignores one-to-one competition,
    which the linker uses, so it is a guide to what place, day and category can tell
    apart, not a strict bound."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_predict

    inc = case.incidents("day")
    pol, cou = inc[inc["source"] == "police_cases"], inc[inc["source"] == "council"]
    pts = case.postcodes.full[["x", "y"]].to_numpy()
    c_xy = cou[["x", "y"]].to_numpy()
    limit = postcode_precision(c_xy, cou["loc_precision_m"].to_numpy(float), pts)[0] + 50.0
    day = {
        f: g["when"].to_numpy().astype("datetime64[D]").astype(np.int64)
        for f, g in (("p", pol), ("c", cou))
    }
    feats = np.zeros((len(cou), 13))
    for category in cou["category"].unique():
        ci = np.flatnonzero(cou["category"].to_numpy() == category)
        pi = np.flatnonzero(pol["category"].to_numpy() == category)
        tree = cKDTree(pol[["x", "y"]].to_numpy()[pi])
        for row_i, hood in zip(ci, tree.query_ball_point(c_xy[ci], limit[ci]), strict=True):
            near = pi[hood]
            dist = np.hypot(*(pol[["x", "y"]].to_numpy()[near] - c_xy[row_i]).T) / limit[row_i]
            off = day["c"][row_i] - day["p"][near]
            feats[row_i, 0] = len(near)
            for j, (lo, hi) in enumerate(((-7, -1), (0, 0), (1, 1), (2, 2), (3, 7), (8, 28))):
                band = (off >= lo) & (off <= hi)
                feats[row_i, 1 + 2 * j] = band.sum()
                feats[row_i, 2 + 2 * j] = dist[band].min() if band.any() else 2.0
    truth = cou["incident_id"].isin({c for _, c in case.truth["day"]}).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=300, random_state=0)
    p = cross_val_predict(model, feats, truth, cv=5, method="predict_proba")[:, 1]
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(truth[order])
    precision, recall = hits / np.arange(1, len(p) + 1), hits / truth.sum()
    out = {
        f"precision at recall {r}": float(precision[np.searchsorted(recall, r)])
        for r in (0.95, 0.984)
    }
    out["best min(P, R)"] = float(np.max(np.minimum(precision, recall)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two months, main cases only")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    postcodes = PostcodeIndex.from_table(read_postcode_table()[0])
    files = months(2025)[5:7] if args.quick else months(2025)
    main_case = Case(files, postcodes, seed=args.seed)
    pair = main_case.pair
    print(
        f"police cases {len(pair.police_cases):,}; council {len(pair.council):,} "
        f"({len(pair.truth):,} re-reports, {len(main_case.only):,} council-only)"
    )
    head = " | ".join(f"{name} P / R" for name, _, _ in MEASURES)
    for kind in ("day", "month"):
        result, s, sec = main_case.link(kind)
        print(f"\n== {kind} case: {len(main_case.incidents(kind)):,} records, link {sec:.2f} s")
        for k, v in result.params["learnt"].items():
            print(f"  learnt {k}: {v}")
        print(f"  {head}\n  {row(s)}")
        for k, v in explain(main_case, kind, result).items():
            print(f"  {k}: {v:,}")
        print(calibration(main_case, kind, result).round(3).to_string())
    print(
        f"\nsame-point rivals (twin-measure errors of a perfect linker): "
        f"{same_point_rivals(main_case):.3f}"
    )
    print("\n== postcode-geocoded re-reports (centroid within 150 m, 0-2 days later)")
    geo = Case(files, postcodes, seed=args.seed, **POSTCODE_GEOCODED)
    result, s, _ = geo.link("day")
    print(f"  day: {head}\n  {row(s)}")
    for k, v in explain(geo, "day", result).items():
        print(f"  {k}: {v:,}")
    print(recall_by_band(geo, result).to_string())
    print(f"  without the council-only reports (the choice ceiling): {row(choice_ceiling(geo))}")
    bound = {k: round(v, 3) for k, v in supervised_bound(geo).items()}
    print(f"  records, classifier trained on the truth: {bound}")
    print(f"  month: {head}\n  {row(geo.link('month')[1])}")
    if args.quick:
        return
    year = f"Leicestershire 2025, seed {args.seed}"
    cases = {
        year: main_case,
        "Leicestershire 2025, seed 1": Case(files, postcodes, seed=1),
        "Leicestershire 2025, seed 2": Case(files, postcodes, seed=2),
        "Leicestershire 2021, seed 1": Case(months(2021), postcodes, seed=1),
        "Leicestershire 2025-06..07 only (`--quick`)": Case(files[5:7], postcodes, seed=0),
        "Leicester city centre, 2025-06..07": Case(CITY, postcodes, seed=args.seed),
    }
    geo_only = Case(files, postcodes, seed=args.seed, council_only=0.0, **POSTCODE_GEOCODED)
    geo_cases = {
        f"re-reports only, {year}": geo_only,
        year: geo,
        "Leicestershire 2025, seed 1": Case(files, postcodes, seed=1, **POSTCODE_GEOCODED),
        "Leicestershire 2025, seed 2": Case(files, postcodes, seed=2, **POSTCODE_GEOCODED),
        "Leicestershire 2021, seed 1": Case(months(2021), postcodes, seed=1, **POSTCODE_GEOCODED),
        "Leicester city centre, 2025-06..07": Case(
            CITY, postcodes, seed=args.seed, **POSTCODE_GEOCODED
        ),
    }
    print(f"\n== main table (docs/partnership.md)\n| case | {head} |\n|---|---|---|---|---|")
    for kind in ("day", "month"):
        for name, case in cases.items():
            print(table_row(f"{kind}, {name}", case.link(kind)[1]))
    for name, case in geo_cases.items():
        print(table_row(f"postcode-geocoded, day, {name}", case.link("day")[1]))
    for name in (year, "Leicestershire 2021, seed 1"):
        print(table_row(f"postcode-geocoded, month, {name}", geo_cases[name].link("month")[1]))
    print("\n== recall by band, postcode-geocoded re-reports only")
    print(recall_by_band(geo_only, geo_only.link("day")[0]).to_string())
    print("\n== same-point rivals; choice ceiling (postcode-geocoded, no council-only)")
    for name, case in cases.items():
        print(f"  {name}: {same_point_rivals(case):.3f}")
    for name in (year, "Leicestershire 2025, seed 1", "Leicestershire 2021, seed 1"):
        print(f"  postcode-geocoded {name}: {row(choice_ceiling(geo_cases[name]))}")
    print(f"\n== linker settings, day case; month case -- {head}")
    for kw in (
        {"postcode_points": None},
        {"min_probability": 0.0},
        {"postcode_points": None, "min_probability": 0.0},
    ):
        print(
            f"  {kw}: day {row(main_case.link('day', **kw)[1])}; "
            f"month {row(main_case.link('month', **kw)[1])}"
        )
    print(f"\n== builder settings, day case -- {head}")
    for kw in (
        {"council_only": 0.0},
        {"council_only": 0.25},
        {"council_only": 1.0},
        {"near_m": 500.0},
        {"max_delay_days": 0},
        {"max_delay_days": 6},
        {"late_share": 0.1},
        {"share": 0.1},
    ):
        case = Case(files, postcodes, seed=args.seed, **kw)
        print(f"  {kw}: {row(case.link('day')[1])}")
    print(f"\n== speed: {scale_timing()}")


if __name__ == "__main__":
    main()
