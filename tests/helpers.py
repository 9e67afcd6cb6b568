"""Paths and small builders that tests import (``from tests.helpers import ...``).

Fixtures live in ``conftest.py``. pytest imports that file itself, so a test importing
from it would load it a second time as another module; plain helpers live here instead.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from hotspots.io import POLICE_UK_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("HOTSPOTS_SHARED", ROOT.parent / "shared")) / "data"


def write_police_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write police.uk-format rows (missing columns blank) to ``path``."""
    cols = list(POLICE_UK_COLUMNS)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def run_demo(out: Path, *, hash_seed: int) -> Path:
    """``hotspots demo --out out`` in a fresh interpreter with the given ``PYTHONHASHSEED``.

    A process of its own, so that two runs differ in string hashing (set and dict order
    of names) as two analysts' runs would; ``cwd=ROOT`` runs this checkout's package.
    """
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    proc = subprocess.run(
        [sys.executable, "-m", "hotspots.cli", "demo", "--out", str(out), "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    return out
