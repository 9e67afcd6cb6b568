"""Micro-place hotspots, measured for docs/hotspots.md (issue #18, item 6).

Prints, for the demo (embedded Leicestershire, last 12 months) or Lincolnshire 2025
(``../shared/data``), the top-20 patrol hotspots (label, NPA, incidents, shares, size,
artefact) and the PAI on the last three months of hotspots built on the months before
them: micro-places (with and without artefacts) against the old threshold hotspots.

    python benchmarks/hotspot_sizes.py demo
    python benchmarks/hotspot_sizes.py lincs
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from rasterio.features import rasterize

from hotspots.boundaries import study_area
from hotspots.clusters import threshold_hotspots
from hotspots.io import InputSpec
from hotspots.microplaces import microplace_hotspots
from hotspots.pipeline import OutputConfig, RunConfig, demo_config, run
from hotspots.rank import rank_hotspots
from hotspots.scoring import DEFAULT_METHOD, cell_scores

LINCS = Path(__file__).resolve().parents[2] / "shared/data/police-uk-street-lincolnshire-2025"


def config(which: str, out: str) -> RunConfig:
    if which == "demo":
        return demo_config(out=out)
    return RunConfig(
        inputs=[InputSpec.police_uk(LINCS)],
        areas=[("lincolnshire/beats", {})],
        output=OutputConfig(dir=str(out)),
    )


def top_table(result) -> None:
    ranked = result.analysis.hotspots.sort_values("rank")
    top = ranked[ranked["patrol"]].head(20)
    inc = result.prepared.incidents
    print(
        f"{inc['when'].min():%Y-%m}..{inc['when'].max():%Y-%m}: {len(inc):,} incidents, "
        f"{len(ranked)} micro-places, {result.analysis.surface.grid.cell_size_m:g} m cells"
    )
    print("| rank | label | NPA | incidents | share of incidents | ha | share of area | flag |")
    print("|---:|---|---|---:|---:|---:|---:|---|")
    for _, t in top.iterrows():
        print(
            f"| {t['rank']} | {t['label']} | {t.get('npa', '')} | {t['incidents']:,} | "
            f"{t['incident_share']:.2%} | {t['area_m2'] / 1e4:.0f} | {t['area_share']:.4%} | "
            f"{t['artefact'] or '–'} |"
        )
    print(
        f"top 20: {top['incident_share'].sum():.1%} of incidents on "
        f"{top['area_share'].sum():.3%} of the area; largest {top['area_m2'].max() / 1e6:.2f} km²"
    )


def pai_table(result, cfg: RunConfig) -> None:
    """PAI on the last three months of hotspots built on the months before them."""
    inc, grid, layers = (
        result.prepared.incidents,
        result.analysis.surface.grid,
        result.prepared.layers,
    )
    area_m2 = float(study_area(layers).area)
    month = inc["when"].dt.to_period("M")
    months = sorted(month.unique())
    train, test = inc[month.isin(months[:-3])], inc[month.isin(months[-3:])]
    scores = cell_scores(train, grid, method=DEFAULT_METHOD)
    columns = [layer.layer for layer in layers]
    rows, cols, on = grid.cell_of(test["x"].to_numpy(), test["y"].to_numpy())
    micro = microplace_hotspots(
        scores, grid, train, max_area_m2=cfg.hotspots.max_area_m2,
        max_extent_m=cfg.hotspots.max_extent_m,
        area_columns=columns, quantile=cfg.hotspots.quantile,
        min_incidents=cfg.hotspots.min_incidents, study_area_m2=area_m2,
    )  # fmt: skip
    old = threshold_hotspots(
        scores, grid, train, area_columns=columns, quantile=cfg.hotspots.quantile,
        min_incidents=cfg.hotspots.min_incidents,
    )  # fmt: skip
    old_ranked = rank_hotspots(old, score="incidents")
    sets = {
        "micro-places, top 20": rank_hotspots(micro, score="concentration").head(20),
        "micro-places, top 20, artefacts excluded": rank_hotspots(
            micro, score="concentration", exclude="artefact"
        ).head(20),
        "old hotspots, top 20": old_ranked.head(20),
        "old hotspots, all": old_ranked,
    }
    print(f"\nPAI: trained {months[0]}..{months[-4]}, tested {months[-3]}..{months[-1]} "
          f"({len(test):,} incidents), study area {area_m2 / 1e6:.0f} km²")  # fmt: skip
    print("| hotspots | n | km² | share of area | share of test incidents | PAI |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, ranked in sets.items():
        ids = ranked["hotspot_id"].astype(int).to_numpy()
        owner = rasterize(
            zip(ranked.geometry.values, ids.tolist(), strict=True),
            out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32",
        )  # fmt: skip
        inside = np.zeros(len(test), bool)
        inside[on] = np.isin(owner[rows[on], cols[on]], ids)
        hit, share = inside.mean(), ranked["area_m2"].sum() / area_m2
        print(f"| {name} | {len(ranked)} | {ranked['area_m2'].sum() / 1e6:.2f} | {share:.3%} | "
              f"{hit:.1%} | {hit / share:.1f} |")  # fmt: skip


def main(which: str) -> None:
    if which == "lincs" and not LINCS.is_dir():
        sys.exit(f"no {LINCS}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(which, str(Path(tmp) / "out"))
        result = run(cfg)
    pd.set_option("display.width", 200)
    print(f"## {which}")
    top_table(result)
    pai_table(result, cfg)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "demo")
