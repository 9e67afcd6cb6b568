"""Shared fixtures. Tests that need ../shared/data skip cleanly when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("HOTSPOTS_SHARED", ROOT.parent / "shared")) / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder beside the repository, or skip."""
    if not SHARED.is_dir():
        pytest.skip(f"real data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def police_slice() -> Path:
    """Two months of real police.uk rows around Leicester city centre (shipped)."""
    return DATA / "police_uk_slice"


def write_police_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write police.uk-format rows (missing columns blank) to ``path``."""
    import csv

    from hotspots.io.readers import POLICE_UK_COLUMNS

    cols = list(POLICE_UK_COLUMNS)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path
