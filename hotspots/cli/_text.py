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


def summary_text(result, elapsed_s: float | None = None) -> str:
    """The end-of-run summary, a few lines for stderr; the details are in ``run.log``."""
    c = result.prepared.counts
    reasons = c["rejects_by_reason"]
    lines = [
        f"{result.config.output.title}: {result.period_text}",
        f"rows read {c['rows_read']:,}: used {c['rows_used']:,}, rejected {c['rows_rejected']:,}"
        + (f" ({', '.join(f'{k} {v:,}' for k, v in reasons.items())})" if reasons else ""),
    ]
    s = result.analysis.surface
    hs = result.analysis.hotspots
    patrol = f", {int(hs['patrol'].sum())} for patrol" if "patrol" in hs else ""
    found = (
        f"hotspots found: {len(hs):,}{patrol} (grid {s.cell_size_m:g} m, "
        f"bandwidth {s.bandwidth_m:.0f} m)"
    )
    if len(hs):  # the label names the streets and the beat
        top = hs.sort_values("rank").iloc[0]
        found += f"; #1 {top.get('label', '')}, {int(top['incidents']):,} incidents"
    lines.append(found)
    unmapped = sorted(
        {c for cats in result.prepared.load.unmapped_categories.values() for c in cats}
    )
    if unmapped:
        lines.append(f"unmapped categories (kept as written): {', '.join(unmapped)}")
    if result.files:
        names = set(result.files)
        opened = "open map.html" if "map.html" in names else ""
        log = "the log is run.log" if "run.log" in names else ""
        notes = "; ".join(n for n in (opened, log) if n)
        lines.append(
            f"outputs in {result.config.output.dir}/: {len(names)} files"
            + (f" ({notes})" if notes else "")
        )
    if elapsed_s is not None:
        lines.append(f"finished in {elapsed_s:.1f} s")
    return "\n".join(lines)
