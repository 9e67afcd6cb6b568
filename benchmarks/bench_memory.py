"""Peak memory of a whole run on ~5M police.uk rows: ``python benchmarks/bench_memory.py``.

The embedded 51 monthly Leicestershire files are replicated (``--copies``, default 12 →
5.3M rows) into a temporary folder and the full pipeline (load, validate, geocode, assign,
density, hotspots, Gi*, seasonal, all outputs) runs on them in a child process whose peak
RSS is reported. ``--quick`` uses 2 copies. Reported: the child's wall time (a fresh
process: imports and every output included), its whole-process peak RSS, and the peak per
stage; the last line is a ``RESULT {json}`` record that ``run_all.py`` collects.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, threading, time
import hotspots.pipeline as pipeline
import hotspots.pipeline._analysis as analysis
import hotspots.pipeline._outputs as outputs
from hotspots.io import InputSpec

PAGE = 4096
stage = ["start"]
peaks = {}

def sample():  # the resident set every 20 ms, kept per stage
    while True:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * PAGE
        peaks[stage[0]] = max(peaks.get(stage[0], 0), rss)
        time.sleep(0.02)

def labelled(name, func):
    def call(*args, **kwargs):
        stage[0] = name
        return func(*args, **kwargs)
    return call

threading.Thread(target=sample, daemon=True).start()
pipeline.prepare = labelled("load, validate, geocode, assign", pipeline.prepare)
analysis.analyse = labelled("density, hotspots, Gi*, seasonal", analysis.analyse)
outputs.write_outputs = labelled("write outputs", outputs.write_outputs)
t = time.perf_counter()
pipeline.release_memory_between_stages()  # as the CLI does
config = pipeline.RunConfig(
    inputs=[InputSpec.police_uk(sys.argv[1])], output=pipeline.OutputConfig(dir=sys.argv[2])
)
result = pipeline.run(config)
c = result.prepared.counts
print(f"rows read {c['rows_read']:,}, used {c['rows_used']:,}, rejected {c['rows_rejected']:,}")
print("timings (s):", {**result.timings, **result.analysis.timings})
print(f"total {time.perf_counter() - t:.1f} s")
for name, peak in peaks.items():
    print(f"peak RSS during {name}: {peak / 1024**3:.2f} GiB")
print(json.dumps({"rows_read": int(c["rows_read"]), "rows_used": int(c["rows_used"])}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=12)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from hotspots.io import EMBEDDED_POLICE_UK

    copies = 2 if args.quick else args.copies
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for f in sorted(EMBEDDED_POLICE_UK.glob("*.csv.gz")):
            text = gzip.decompress(f.read_bytes()).decode()
            for c in range(copies):
                # Each copy gets its own Crime IDs, as another year's files would.
                lines = text.splitlines()
                body = [f"c{c}{line}" if line[:1] not in ("", ",") else line for line in lines[1:]]
                out = "\n".join([lines[0], *body]) + "\n"
                (data / f"c{c:02d}-{f.name}").write_bytes(gzip.compress(out.encode(), 1))
        t = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(data), str(Path(tmp) / "out")],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t
        print(proc.stdout.strip())
        if proc.returncode:
            print(proc.stderr[-2000:])
            sys.exit(1)
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(
        f"{copies} copies of the embedded data: wall {wall:.0f} s, peak RSS {peak_gib:.2f} GiB "
        "(target: under 3.5 GiB at 5.3M rows)"
    )
    record = {"bench": "memory", "copies": copies, **json.loads(proc.stdout.splitlines()[-1])}
    record |= {"wall_s": wall, "peak_gib": peak_gib, "load_avg": os.getloadavg()[0]}
    print("RESULT " + json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
