"""Write the golden manifest of the demo's outputs, tests/data/demo_outputs.sha256.json.

tests/test_reproducible.py compares a fresh ``hotspots demo`` with this manifest and names
every file whose bytes changed, so no refactor changes a published output unnoticed.
Regenerate the manifest only when an output changes on purpose, and say in the commit
which outputs changed and why::

    python scripts/output_manifest.py              # runs `hotspots demo` in a temporary folder
    python scripts/output_manifest.py --from OUT   # hashes a demo folder already written

What is hashed:

- every published CSV, GeoJSON, HTML, GeoTIFF, GeoPackage and PNG file, by its bytes,
  except that in CSV files an absolute path to the package's shipped data (rejects.csv
  names the input file of each rejected row) becomes ``<hotspots>/_data/``: that path is
  wherever the checkout is, and CI runs in a fresh clone in another folder;
- run.json as JSON without ``timings_s`` (wall-clock seconds), with ``config.output.dir`` as
  ``<out>``, the same path rule and the published files' sizes left out (each file's own
  hash covers its size, and rejects.csv's size follows the length of the checkout's path),
  written with sorted keys; the recorded library versions stay in, so an upgrade shows;
- not run.log, whose lines carry time stamps.

The bytes of the PNG files (matplotlib with its FreeType and zlib), the GeoPackage (GDAL,
SQLite) and the GeoTIFF (GDAL) depend on the installed library versions, not only on this
package. They are included because CI runs on this same machine with the same libraries;
after upgrading one of them, regenerate the manifest and say so in the commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "tests" / "data" / "demo_outputs.sha256.json"
PUBLISHED = (".csv", ".geojson", ".html", ".tif", ".gpkg", ".png")
# An absolute path up to the shipped data folder, inside one CSV field or JSON string.
_DATA_PATH = re.compile(rb'/[^,"\n\r]*/hotspots/_data/')
_DATA_PLACEHOLDER = b"<hotspots>/_data/"


def normalised_run_json(meta: dict[str, Any]) -> dict[str, Any]:
    """run.json without what differs between two runs of the same inputs.

    Parameters
    ----------
    meta : dict
        run.json as read by :func:`json.loads`.

    Returns
    -------
    dict
        A copy without ``timings_s``, with ``config.output.dir`` as ``"<out>"``, paths to the
        shipped data starting ``<hotspots>/_data/`` and ``files`` as a sorted list of names
        (each file's size is in its own hash).

    Examples
    --------
    >>> normalised_run_json({"timings_s": {"density": 0.2},
    ...                      "config": {"output": {"dir": "/tmp/x"}},
    ...                      "inputs": [{"file": "/a/b/hotspots/_data/x.csv"}]})
    {'config': {'output': {'dir': '<out>'}}, 'inputs': [{'file': '<hotspots>/_data/x.csv'}]}
    """
    meta = {k: v for k, v in meta.items() if k != "timings_s"}
    if "config" in meta:
        config = meta["config"]
        meta["config"] = {**config, "output": {**config.get("output", {}), "dir": "<out>"}}
    if "files" in meta:  # names only: rejects.csv's size follows the length of its paths
        meta["files"] = sorted(meta["files"])
    text = json.dumps(meta, ensure_ascii=False).encode()
    return json.loads(_DATA_PATH.sub(_DATA_PLACEHOLDER, text))


def file_digest(path: Path) -> str:
    """The sha256 of one output file as the manifest counts it (see the module docstring)."""
    if path.name == "run.json":
        meta = normalised_run_json(json.loads(path.read_text(encoding="utf-8")))
        data = json.dumps(meta, sort_keys=True, ensure_ascii=False, indent=1).encode()
    elif path.suffix == ".csv":
        data = _DATA_PATH.sub(_DATA_PLACEHOLDER, path.read_bytes())
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()


def manifest(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every counted output in a demo folder, and of run.json."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix in PUBLISHED and p.is_file())
    paths.append(folder / "run.json")
    return {p.relative_to(folder).as_posix(): file_digest(p) for p in paths}


def _run_demo(out: Path) -> Path:
    # This checkout's package (cwd=ROOT), as tests/test_reproducible.py runs it.
    cmd = [sys.executable, "-m", "hotspots.cli", "demo", "--out", str(out), "-q"]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folder", type=Path, help="a demo output folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or _run_demo(Path(tmp) / "demo")
        if not (folder / "run.json").is_file():
            parser.error(f"--from {folder}: no run.json there; give a `hotspots demo` folder")
        files = manifest(folder)
    body = {
        "about": "sha256 of each `hotspots demo` output; see scripts/output_manifest.py",
        "files": files,
    }
    MANIFEST.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(files)} hashes to {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
