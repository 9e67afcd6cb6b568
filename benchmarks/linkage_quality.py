"""Precision and recall of duplicate linking on a synthetic police/council export pair.

The pair is built from the real 2025 Leicestershire police.uk rows and the LE postcode
table (:func:`hotspots.linkage.synthetic.synthetic_partner_exports`), written as CSV files
with its TOML config, and read back through the real loaders (config, load, geocode) as an
analyst's run would. :func:`hotspots.linkage.link_duplicates` then runs with its defaults
and its links are scored against the known truth (:func:`score_links`):

* day case: police case export (day dates, exact easting/northing) vs council export;
* month case: the police.uk rows themselves (month only) vs the same council export;
* a sensitivity table for the day case (council-only volume, delays, share re-reported).

Run: ``python benchmarks/linkage_quality.py [--quick] [--seed N]`` (``--quick``: two months,
no sensitivity table). Results are recorded in docs/partnership.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.geocode import PostcodeIndex, locate_incidents
from hotspots.io.load import InputSpec, load_incidents
from hotspots.io.postcodes import read_postcode_table
from hotspots.linkage import LinkResult, link_duplicates
from hotspots.linkage.synthetic import PartnerExports, score_links, synthetic_partner_exports
from hotspots.pipeline.config import load_config

DATA = Path(__file__).resolve().parents[1] / "hotspots" / "_data" / "police_uk" / "leicestershire"


def write_pair(pair: PartnerExports, folder: Path) -> Path:
    """Write the exports and their config as an analyst would have them; return the config."""
    for rel, table in pair.files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(folder / rel, index=False)
    config = folder / "hotspots.toml"
    config.write_text(pair.config_toml, encoding="utf-8")
    return config


def explain(
    result: LinkResult,
    incidents: pd.DataFrame,
    truth: set[tuple[str, str]],
    police: str,
    only_council: set[str],
) -> dict[str, int]:
    """Sort the errors into their causes."""
    wide = result.links.pivot_table(index="group", columns="source", values="id", aggfunc="first")[
        [police, "council"]
    ].dropna()
    found = set(zip(wide[police], wide["council"], strict=True))
    wrong, missed = found - truth, truth - found
    linked_council = set(wide["council"])
    at = incidents.set_index(["source", "incident_id"])
    causes = {
        "false: council-only linked": sum(c in only_council for _, c in wrong),
        "false: re-report linked to another record": sum(c not in only_council for _, c in wrong),
        "missed: beyond the distance limit": 0,
        "missed: re-report dated in the next month": 0,
        "missed: re-report linked to another record": 0,
        "missed: left unlinked (its partner was taken)": 0,
    }
    for p, c in missed:
        rp, rc = at.loc[(police, p)], at.loc[("council", c)]
        limit = max(
            result.params["min_distance_m"],
            rp["loc_precision_m"] + rc["loc_precision_m"] + result.params["allowance_m"],
        )
        if np.hypot(rp["x"] - rc["x"], rp["y"] - rc["y"]) > limit:
            causes["missed: beyond the distance limit"] += 1
        elif rp["precision"] == "month" and rp["when"].month != rc["when"].month:
            causes["missed: re-report dated in the next month"] += 1
        elif c in linked_council:
            causes["missed: re-report linked to another record"] += 1
        else:
            causes["missed: left unlinked (its partner was taken)"] += 1
    return causes


def by_confidence(result: LinkResult, truth: set[tuple[str, str]], police: str) -> pd.DataFrame:
    wide = result.links.pivot_table(index="group", columns="source", values="id", aggfunc="first")[
        [police, "council"]
    ].dropna()
    conf = result.groups.set_index("group")["confidence"].reindex(wide.index)
    ok = [pair in truth for pair in zip(wide[police], wide["council"], strict=True)]
    band = pd.cut(conf, [0, 0.2, 1 / 3, 0.5, 0.99, 1.0], include_lowest=True)
    return (
        pd.DataFrame({"confidence": band, "ok": ok})
        .groupby("confidence", observed=True)["ok"]
        .agg(["size", "mean"])
        .rename(columns={"size": "links", "mean": "exact precision"})
    )


def run_case(
    name: str,
    inputs: list[InputSpec],
    postcodes: PostcodeIndex,
    truth: set[tuple[str, str]],
    police: str,
    only_council: set[str],
    verbose: bool = True,
) -> dict[str, float]:
    t0 = time.perf_counter()
    loaded = load_incidents(inputs)
    located = locate_incidents(loaded.incidents, postcodes=postcodes)
    t1 = time.perf_counter()
    result = link_duplicates(located.incidents)
    t2 = time.perf_counter()
    s = score_links(result.links, located.incidents, truth, police_source=police)
    if not verbose:
        return s
    print(
        f"\n== {name}: {len(located.incidents):,} records "
        f"({len(loaded.rejects) + len(located.rejects):,} rejected); load+locate "
        f"{t1 - t0:.1f} s, link {t2 - t1:.2f} s, {result.params['candidate_pairs']:,} "
        f"candidate pairs; typical delay {result.params['typical_delay_days']}"
    )
    print(
        f"links {s['links']:,} for {s['true']:,} true pairs\n"
        f"  exact partner          precision {s['precision']:.3f}  recall {s['recall']:.3f}\n"
        f"  partner or look-alike  precision {s['place_precision']:.3f}  "
        f"recall {s['place_recall']:.3f}\n"
        f"  right records merged   precision {s['record_precision']:.3f}  "
        f"recall {s['record_recall']:.3f}"
    )
    for k, v in explain(result, located.incidents, truth, police, only_council).items():
        print(f"  {k}: {v:,}")
    print(by_confidence(result, truth, police).round(3).to_string())
    return s


def build(
    police_uk: pd.DataFrame, postcodes: PostcodeIndex, folder: Path, **kw
) -> tuple[PartnerExports, list[InputSpec], set[str]]:
    pair = synthetic_partner_exports(police_uk, postcodes, **kw)
    only = set(
        pair.council.loc[~pair.council["Case Ref"].isin(pair.truth["council_ref"]), "Case Ref"]
    )
    return pair, load_config(write_pair(pair, folder)).inputs, only


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two months, no sensitivity table")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    months = ["2025-06", "2025-07"] if args.quick else [f"2025-{m:02d}" for m in range(1, 13)]
    files = [DATA / f"{m}-leicestershire-street.csv.gz" for m in months]
    police_uk = locate_incidents(load_incidents(InputSpec.police_uk(files)).incidents).incidents
    postcodes = PostcodeIndex.from_table(read_postcode_table()[0])
    with tempfile.TemporaryDirectory() as tmp:
        pair, inputs, only = build(police_uk, postcodes, Path(tmp), seed=args.seed)
        print(
            f"police.uk rows {len(police_uk):,} ({months[0]}..{months[-1]}); police cases "
            f"{len(pair.police_cases):,}; council {len(pair.council):,} "
            f"({len(pair.truth):,} re-reports, {len(only):,} council-only)"
        )
        day_truth = set(zip(pair.truth["police_ref"], pair.truth["council_ref"], strict=True))
        run_case(
            "day case: police cases vs council", inputs, postcodes, day_truth, "police_cases", only
        )
        month_truth = set(zip(pair.truth["police_uk_id"], pair.truth["council_ref"], strict=True))
        council = [i for i in inputs if i.source == "council"]
        run_case(
            "month case: police.uk (month only) vs council",
            [*council, InputSpec.police_uk(files)],
            postcodes,
            month_truth,
            "police.uk",
            only,
        )
    if args.quick:
        return
    print(
        "\n== day case, sensitivity: precision/recall for exact partner; partner or "
        "look-alike; right records merged"
    )
    for kw in (
        {"council_only": 0.0},
        {"council_only": 0.25},
        {"council_only": 1.0},
        {"max_delay_days": 0},
        {"max_delay_days": 6},
        {"share": 0.1},
    ):
        with tempfile.TemporaryDirectory() as tmp:
            pair, inputs, only = build(police_uk, postcodes, Path(tmp), seed=args.seed, **kw)
            truth = set(zip(pair.truth["police_ref"], pair.truth["council_ref"], strict=True))
            s = run_case("", inputs, postcodes, truth, "police_cases", only, verbose=False)
        print(
            f"  {kw}: {s['precision']:.3f}/{s['recall']:.3f}; {s['place_precision']:.3f}/"
            f"{s['place_recall']:.3f}; {s['record_precision']:.3f}/{s['record_recall']:.3f}"
        )


if __name__ == "__main__":
    main()
