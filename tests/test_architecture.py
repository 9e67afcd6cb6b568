"""The layer contract (import-linter), ruff (lint and format), deptry and mypy run as part of
the test suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = Path(sys.executable).parent / name
    found = str(exe) if exe.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} not installed (pip install -e '.[dev]')")
    return found


def test_stage_layers_are_respected() -> None:
    proc = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_clean() -> None:
    proc = subprocess.run(
        [_tool("ruff"), "check", "hotspots", "tests", "benchmarks", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_formatted() -> None:
    proc = subprocess.run(
        [_tool("ruff"), "format", "--check", "hotspots", "tests", "benchmarks", "scripts"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, "run `ruff format`:\n" + proc.stdout + proc.stderr


def test_dependencies_are_declared_and_used() -> None:
    # deptry reads [tool.deptry] in pyproject.toml: the package's imports against
    # [project] dependencies and the fast/distributed extras (dev extras are tools).
    proc = subprocess.run([_tool("deptry"), "hotspots"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_package_type_checks() -> None:
    # mypy reads [tool.mypy] in pyproject.toml: the files to check and the modules not
    # yet clean. Its output lines (file:line: error: ...) are the failure message.
    proc = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_core_does_not_import_dask() -> None:
    code = "import hotspots, hotspots.pipeline, sys; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
