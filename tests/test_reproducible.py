"""Byte-identical reruns: the demo twice gives the same bytes, and the bytes of the manifest.

The two runs are separate processes with different ``PYTHONHASHSEED``s, so an output
that followed set or dict order of names would differ. Only run.log (time stamps) and
run.json's ``timings_s`` and ``config.output.dir`` may change between them. The manifest
(tests/data/demo_outputs.sha256.json, written by scripts/output_manifest.py) pins the
outputs across commits: a refactor that changes a published byte fails here by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.output_manifest import MANIFEST, manifest
from tests.helpers import run_demo


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_rerun_of_the_demo_is_byte_identical(demo_run: Path, tmp_path: Path) -> None:
    again = run_demo(tmp_path / "again", hash_seed=1)
    names = _files(demo_run)
    assert _files(again) == names
    changed = [
        name
        for name in names
        if name not in ("run.json", "run.log")
        and (demo_run / name).read_bytes() != (again / name).read_bytes()
    ]
    assert changed == []
    first, second = (json.loads((d / "run.json").read_text()) for d in (demo_run, again))
    assert first["timings_s"].keys() == second["timings_s"].keys()
    for meta in (first, second):
        # wall-clock seconds; the folder given
        del meta["timings_s"], meta["config"]["output"]["dir"]
    assert first == second


def test_the_demo_outputs_match_the_manifest(demo_run: Path) -> None:
    expected = json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    found = manifest(demo_run)
    changed = sorted(k for k in expected.keys() & found.keys() if expected[k] != found[k])
    missing = sorted(expected.keys() - found.keys())
    new = sorted(found.keys() - expected.keys())
    assert (changed, missing, new) == ([], [], []), (
        f"demo outputs differ from {MANIFEST.name}: changed {changed}, missing {missing}, "
        f"new {new}. If the change is intended, run `python scripts/output_manifest.py` "
        "and say in the commit why these outputs changed."
    )
