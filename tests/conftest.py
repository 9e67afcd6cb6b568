"""Shared fixtures (helpers to import are in ``helpers.py``). Tests that need
../shared/data skip cleanly when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DATA, SHARED, run_demo


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


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The folder ``hotspots demo`` writes, run once per session (read it, never write)."""
    return run_demo(tmp_path_factory.mktemp("demo") / "out", hash_seed=0)
