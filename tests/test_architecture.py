"""The layer contract (import-linter), ruff (lint and format), deptry and mypy run as part of
the test suite."""

from __future__ import annotations

import ast
import importlib
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


def _private_imports_across_packages() -> list[str]:
    """``from hotspots.<pkg>._<module> import …`` written outside ``hotspots/<pkg>/``."""
    found = []
    for path in sorted((ROOT / "hotspots").rglob("*.py")):
        here = path.relative_to(ROOT).with_suffix("").parts  # ("hotspots", "batch", "_run")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                parts = name.split(".")
                private = [i for i, p in enumerate(parts) if p.startswith("_") and i >= 2]
                if parts[0] == "hotspots" and private:
                    package = tuple(parts[: private[0]])
                    if here[: len(package)] != package:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    return found


def test_private_modules_stay_behind_their_package() -> None:
    # A package's interface is its __init__; other stages never reach into its _modules.
    assert _private_imports_across_packages() == []


@pytest.mark.parametrize(
    "package",
    [
        "hotspots.io",
        "hotspots.pipeline",
        "hotspots.maps",
        "hotspots.seasonal",
        "hotspots.density",
        "hotspots.clusters",
        "hotspots.impact",
        "hotspots.linkage",
        "hotspots.change",
        "hotspots.batch",
    ],
)
def test_every_exported_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []
    # Names imported on first use are exported too (so the line above resolves each).
    assert set(getattr(module, "_LAZY", {})) <= set(module.__all__)


def test_importing_the_pipeline_stays_light() -> None:
    # The analysis modules (scikit-learn, folium, matplotlib) load on first use of the
    # names that need them (run_change draws a map: folium); the CLI's --help and a
    # config check do not pay for them.
    code = (
        "import sys, hotspots.pipeline as p; heavy = ('sklearn', 'folium', 'matplotlib');"
        "print(sorted(m for m in heavy if m in sys.modules));"
        "p.run_change; print('folium' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True"]
