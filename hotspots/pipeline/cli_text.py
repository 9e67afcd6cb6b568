"""Help epilogues and the end-of-run summary printed by the CLI."""

from __future__ import annotations

EPILOGS = {
    "main": """examples:
  hotspots demo                                   # embedded Leicestershire data -> outputs/
  hotspots run --incidents data/police/ --areas beats.gpkg --area-field beat=BEAT \\
               --area-field npa=NPA --out outputs/
  hotspots validate --incidents export.csv --config partners.toml
  hotspots boundaries leicestershire/beats""",
    "run": """examples:
  hotspots run --incidents 2025-*.csv --areas leicestershire/beats --out outputs/
  hotspots run --config run.toml --category "Anti-social behaviour" --last-months 12
  hotspots run --incidents archive.zip --areas beats.geojson --area-field beat=beat_name \\
               --area-field npa=npa_name --cell-size-m 50 --bandwidth-m 200 --out out/""",
    "demo": """examples:
  hotspots demo                    # latest 12 months of the embedded data -> outputs/
  hotspots demo --last-months 0 --out outputs/all   # all 51 months""",
    "evaluate": """examples:
  hotspots evaluate --incidents data/ --train-from 2021-01 --train-to 2021-12 \\
                    --test-from 2022-01 --test-to 2022-03 --category "Anti-social behaviour" \\
                    --areas leicestershire/force --out eval/
writes evaluation.csv (method, area_share, hit_rate, pai, pei, rri) and evaluation.png""",
    "profile": """examples:
  hotspots profile --incidents data/ --areas leicestershire/beats --out profiles/
  hotspots profile --incidents data/ --areas leicestershire/beats --category \\
                   "Anti-social behaviour" --before 2025-03:2025-05 --after 2025-06:2025-08
writes profiles.csv (m01..m12, peak_month, seasonal_p), trends.csv, trending_up.csv""",
    "ingest": """examples:
  hotspots ingest --incidents downloads/*.zip --out national.parquet
  hotspots ingest --incidents data/ --out leics.parquet --scheduler tcp://host:8786
writes a Parquet dataset partitioned by force and year (EPSG:27700) and its rejects""",
    "batch": """examples:
  hotspots batch --incidents national.parquet --by force --out by-force/
  hotspots batch --incidents national.parquet --by force,category --out out/ --workers 2
  hotspots batch --incidents national.parquet --by force --task evaluate --out eval/
one output folder per group (the `run` contract), summary.csv and index.html""",
    "validate": """examples:
  hotspots validate --incidents 2025-06-leicestershire-street.csv
  hotspots validate --config partners.toml --show 50""",
    "boundaries": """examples:
  hotspots boundaries                        # list shipped layers
  hotspots boundaries leicestershire/beats   # inspect one""",
}


def summary_text(result) -> str:
    """A short plain-text summary of a run."""
    c = result.prepared.counts
    lines = [
        f"{result.config.title}",
        f"period: {result.period_text}",
        f"rows read {c['rows_read']:,}: used {c['rows_used']:,}, rejected {c['rows_rejected']:,}"
        + (
            f" ({', '.join(f'{k} {v:,}' for k, v in c['rejects_by_reason'].items())})"
            if c["rejects_by_reason"]
            else ""
        ),
    ]
    s = result.analysis.surface
    lines.append(
        f"grid {s.cell_size_m:g} m ({s.grid.cell_size_rule}); bandwidth "
        f"{s.bandwidth_m:.0f} m ({s.bandwidth_rule}, {s.kernel})"
    )
    for lyr in result.prepared.layers:
        lines.append(f"areas: {lyr.layer} ({len(lyr.polygons)})")
    hs = result.analysis.hotspots
    lines.append(f"hotspots: {len(hs)}; top {min(5, len(hs))}:")
    area_cols = [lyr.layer for lyr in result.prepared.layers][:2]
    for _, row in hs.sort_values("rank").head(5).iterrows():
        where = ", ".join(str(row[a]) for a in area_cols if a in row)
        lines.append(
            f"  #{int(row['rank'])} {row.get('label', '')} — {int(row['incidents'])} "
            f"incidents, {row['area_m2'] / 1e4:.1f} ha ({where})"
        )
    for source, cats in result.prepared.load.unmapped_categories.items():
        lines.append(f"unmapped categories ({source}): {', '.join(cats)}")
    if result.files:
        lines.append(f"outputs in {result.config.out}/: {', '.join(sorted(result.files))}")
    return "\n".join(lines)
