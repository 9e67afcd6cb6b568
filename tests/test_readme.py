"""The README's Python snippet runs as written in a fresh clone."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_snippet_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README has a Python snippet"
    scope: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), scope)  # noqa: S102 - our own README
    assert scope["surface"].bandwidth_m > 0
    assert len(scope["found"].polygons) > 0


def test_readme_links_the_your_force_guide_on_its_first_screen():
    first_screen = README.read_text(encoding="utf-8").splitlines()[:40]
    assert any("docs/your-force.md" in line for line in first_screen)
