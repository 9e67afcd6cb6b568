"""The output folder: names from data stay inside it, it appears whole or not at all, and a
bad output environment is exit 2 with one line.

Hostile names come in through a force's own boundary file (as in
test_template_injection.py): NPAs named ``../../evil``, ``a/b``, ``A/B`` and ``CON``, under
a layer key ``../x``. Most checks call :func:`write_outputs` on one computed run (the
analysis is the slow part); the CLI checks go through ``hotspots run`` end to end or with
``hotspots.cli._commands.run`` writing that same result.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyogrio
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hotspots.cli._commands
import hotspots.pipeline._outputs as outputs
from hotspots.boundaries import load_areas
from hotspots.cli import main
from hotspots.io import InputSpec
from hotspots.io._atomic import leftovers, remove_stale
from hotspots.io._names import WINDOWS_RESERVED, output_path, safe_slug, unique_slugs
from hotspots.pipeline import OutputConfig, RunConfig, run, write_outputs
from hotspots.schema import InputError

#: NPA names that would leave the folder, make folders, clash, or be a device on Windows.
HOSTILE_NPAS = ["../../evil", "a/b", "A/B", "CON"]


def folder_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def error_lines(capsys) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("hotspots: error:")]


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def hostile_areas(tmp_path_factory) -> Path:
    """A beat file whose NPA column holds the hostile names (on the first NPAs)."""
    beats_layer, npa_layer = load_areas("leicestershire/beats")[:2]
    beats = beats_layer.polygons.rename(columns={"name": "BEAT"})
    npa = beats["BEAT"].map(npa_layer.parent_names)
    renames = dict(zip(sorted(set(npa)), HOSTILE_NPAS, strict=False))
    beats["NPA"] = npa.map(lambda n: renames.get(n, n))
    path = tmp_path_factory.mktemp("areas") / "beats.geojson"
    beats.to_crs(4326).to_file(path, driver="GeoJSON")
    return path


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, police_slice: Path, hostile_areas: Path) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    out = root / "deep" / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            str(hostile_areas),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "../x=NPA",
            "--map-per-area",
            "../x",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


@pytest.fixture(scope="module")
def result(police_slice: Path, tmp_path_factory):
    """One computed run (not written) to write many times."""
    cfg = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)],
        areas=[("leicestershire/beats", {})],
        output=OutputConfig(dir=str(tmp_path_factory.mktemp("unused") / "out")),
    )
    return run(cfg, write=False)


# --- 1. names from data stay inside --out --------------------------------------------------


def test_hostile_names_are_slugged_and_stay_inside_out(hostile_run: Path) -> None:
    root = hostile_run.parents[1]
    outside = [p for p in root.rglob("*") if hostile_run not in (p, *p.parents)]
    assert sorted(p.relative_to(root).as_posix() for p in outside) == ["deep"]
    maps = sorted(p.name for p in (hostile_run / "maps").iterdir())
    assert {"evil.html", "a-b.html", "a-b-2.html", "con-0.html"} <= set(maps)
    assert len(maps) == 6 and all(p.is_file() for p in (hostile_run / "maps").iterdir())
    assert (hostile_run / "funnel_x.png").is_file() and (hostile_run / "funnel_beat.png").is_file()
    layers = [name for name, _ in pyogrio.list_layers(hostile_run / "hotspots.gpkg")]
    assert {"areas_beat", "areas_x"} <= set(layers)
    for path in hostile_run.rglob("*"):  # every name is a slug or a fixed name
        assert re.fullmatch(r"[a-z0-9_-]+(\.[a-z]+)?", path.name), path
    areas = pd.read_csv(hostile_run / "areas.csv")  # the data keeps the names as given
    assert set(HOSTILE_NPAS) <= set(areas.loc[areas["layer"] == "../x", "name"])


def test_run_json_lists_every_published_file(hostile_run: Path) -> None:
    meta = json.loads((hostile_run / "run.json").read_text(encoding="utf-8"))
    on_disk = {
        p.relative_to(hostile_run).as_posix(): p.stat().st_size
        for p in hostile_run.rglob("*")
        if p.is_file()
    }
    # run.log is written last, with the times of this run: kept out of run.json.
    assert meta["files"] == {k: v for k, v in on_disk.items() if k not in ("run.json", "run.log")}
    assert set(meta["outputs"]) == set(on_disk) - {"run.log"}


@given(st.text(max_size=40))
def test_a_slug_is_a_plain_file_name(value: str) -> None:
    slug = safe_slug(value)
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= 82
    assert slug not in WINDOWS_RESERVED
    assert output_path("/tmp/out", f"maps/{slug}.html").parent.name == "maps"


@given(st.lists(st.text(max_size=6), max_size=10))
def test_distinct_values_get_distinct_slugs(values: list[str]) -> None:
    slugs = unique_slugs(values)
    assert len(set(slugs)) == len(slugs)


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/../../x", ".", "", "a\x00b"])
def test_output_path_refuses_names_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(RuntimeError, match="outside the output folder"):
        output_path(tmp_path, name)


def test_batch_folders_of_hostile_key_values_stay_inside(tmp_path: Path) -> None:
    from hotspots.batch._groups import group_slugs

    groups = [("../../evil",), ("a/b",), ("A/B",), ("CON",), ("..",), (None,), ("",)]
    names = [s for (s,) in group_slugs(groups)]
    assert len(set(names)) == len(names)
    assert names[:4] == ["evil", "a-b-" + names[1][4:], "a-b-" + names[2][4:], "con-0"]
    assert names[1] != names[2] and names[5] == "null"
    assert names[4].startswith("blank-") and names[6].startswith("blank-")  # ".." and ""
    for name in names:
        assert output_path(tmp_path, name).parent == tmp_path


# --- 2. all or nothing ----------------------------------------------------------------------


def test_files_of_an_earlier_run_are_gone(result, tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_outputs(result, out)
    first = folder_files(out)
    for extra in ("duplicates.csv", "maps/leicester-city.html", "funnel_x.png", ".staging-x/a"):
        (out / extra).parent.mkdir(parents=True, exist_ok=True)
        (out / extra).write_text("from an earlier run")
    write_outputs(result, out)
    assert folder_files(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging, no aside
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert meta["files"] == {k: len(v) for k, v in first.items() if k != "run.json"}


def test_a_crash_mid_publish_leaves_the_old_folder(result, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    write_outputs(result, out)
    (out / "duplicates.csv").write_text("only in the old folder")
    before = folder_files(out)
    real_rename = os.rename
    calls = []

    def rename(src, dst):  # the old folder goes aside, then the new one fails to move in
        calls.append((Path(src).name, Path(dst).name))
        if ".staging-" in Path(src).name:
            raise RuntimeError("killed")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(RuntimeError, match="killed"):
        write_outputs(result, out)
    assert calls[0][0] == "out" and calls[0][1].startswith("out.aside-")
    assert calls[1][0].startswith("out.staging-") and calls[1][1] == "out"
    monkeypatch.undo()
    assert folder_files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failure_while_writing_leaves_the_old_folder(result, tmp_path, monkeypatch) -> None:
    out = tmp_path / "out"
    write_outputs(result, out)
    before = folder_files(out)

    def broken(*_args, **_kwargs):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr(outputs, "static_map_png", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        write_outputs(result, out)
    assert folder_files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_kill_between_the_renames_is_undone_by_the_next_run(result, tmp_path: Path) -> None:
    """Killed after the old folder went aside: the next run puts it back first."""
    out = tmp_path / "out"
    write_outputs(result, out)
    before = folder_files(out)
    pid = dead_pid()
    os.rename(out, tmp_path / f"out.aside-{pid}-0123abcd")
    (tmp_path / f"out.staging-{pid}-89abcdef").mkdir()
    (tmp_path / f"out.staging-{pid}-89abcdef" / "map.html").write_text("half")
    removed = remove_stale(out)
    assert [p.name for p in removed] == [f"out.staging-{pid}-89abcdef"]
    assert folder_files(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_only_our_stale_folders_are_removed(result, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pid = dead_pid()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            f"out.staging-{pid}-0123abcd": False,  # dead run: removed
            f"out.aside-{pid}-0123abce": False,  # put back as out, then replaced
            f"out.staging-{alive.pid}-0123abcf": True,  # a run still writing: kept
            "out.staging-mine": True,  # not our pattern: kept
            f"other.staging-{pid}-0123abcd": True,  # beside another folder: kept
        }
        for name in names:
            (tmp_path / name).mkdir()
            (tmp_path / name / "run.json").write_text('{"config": {}, "outputs": []}')
        write_outputs(result, out)
        kept = {p.name for p in tmp_path.iterdir()}
        assert kept == {"out", *(n for n, keep in names.items() if keep)}
        assert [p.name for p, _, _ in leftovers(out)] == [f"out.staging-{alive.pid}-0123abcf"]
    finally:
        alive.kill()
        alive.wait()


def test_a_folder_that_is_not_a_run_output_is_refused(result, tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_text("years of work")
    with pytest.raises(
        InputError,
        match=r"thesis: is a folder that is not empty and has no "
        r"run\.json",
    ):
        write_outputs(result, out)
    assert folder_files(out) == {"chapter1.docx": b"years of work"}
    (out / "run.json").write_text('{"not": "ours"}')
    with pytest.raises(InputError, match="no run.json from an earlier hotspots run"):
        write_outputs(result, out)
    empty = tmp_path / "empty"
    empty.mkdir()
    write_outputs(result, empty)  # an empty folder is fine
    assert (empty / "run.json").is_file()


def test_a_symlinked_out_keeps_its_link(result, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    write_outputs(result, link)
    assert link.is_symlink() and (real / "run.json").is_file()


# --- 3. the output environment: exit 2, one line, nothing left ------------------------------


@pytest.fixture()
def cli_writes(result, monkeypatch):
    """``hotspots run`` writing the computed result into its --out (no analysis)."""

    def fake_run(cfg, write=True):  # noqa: ARG001 - run()'s signature
        write_outputs(result, Path(cfg.output.dir))
        return result

    monkeypatch.setattr(hotspots.cli._commands, "run", fake_run)
    monkeypatch.setattr(hotspots.cli._commands, "_print_summary", lambda *_: None)
    return lambda out: main(["-q", "run", "--out", str(out)])


def test_out_is_an_existing_file(tmp_path, police_slice, capsys) -> None:
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            "leicestershire/beats",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    (line,) = error_lines(capsys)
    assert f"--out {out}: is a file, not a folder" in line
    assert out.read_text() == "keep me" and sorted(p.name for p in tmp_path.iterdir()) == [
        "out.txt"
    ]


def test_out_in_a_read_only_folder(cli_writes, tmp_path, monkeypatch, capsys) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o555)  # enough on its own unless the tests run as root; then:
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if Path(path).parent == parent:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    try:
        assert cli_writes(parent / "out") == 2
    finally:
        parent.chmod(0o755)
    (line,) = error_lines(capsys)
    assert f"--out {parent / 'out'}: cannot write the outputs: permission denied" in line
    assert list(parent.iterdir()) == []


def test_an_unwritable_earlier_output(cli_writes, result, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    write_outputs(result, out)
    before = folder_files(out)

    def rename(src, _dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", rename)
    assert cli_writes(out) == 2
    monkeypatch.undo()
    (line,) = error_lines(capsys)
    assert f"--out {out}: cannot write the outputs: permission denied" in line
    assert folder_files(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_disk_full(cli_writes, result, tmp_path, monkeypatch, capsys) -> None:
    def full(_layers, path):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(outputs, "write_gpkg", full)
    out = tmp_path / "new"
    assert cli_writes(out) == 2
    (line,) = error_lines(capsys)
    assert f"--out {out}: cannot write the outputs: no space left on the device" in line
    assert list(tmp_path.iterdir()) == []  # no partial folder
    monkeypatch.undo()
    old = tmp_path / "old"
    write_outputs(result, old)
    before = folder_files(old)
    monkeypatch.setattr(outputs, "write_gpkg", full)
    assert cli_writes(old) == 2
    assert folder_files(old) == before and sorted(p.name for p in tmp_path.iterdir()) == ["old"]


def test_disk_full_seen_by_gdal(cli_writes, tmp_path, monkeypatch, capsys) -> None:
    """GDAL's writers fail without an errno: a full file system says what it was."""

    def gdal_failed(_layers, _path):
        raise RuntimeError("sqlite3_exec(CREATE TABLE ...) failed: database or disk is full")

    monkeypatch.setattr(outputs, "write_gpkg", gdal_failed)
    monkeypatch.setattr(outputs.shutil, "disk_usage", lambda _: SimpleNamespace(free=0))
    assert cli_writes(tmp_path / "out") == 2
    (line,) = error_lines(capsys)
    assert "no space left on the device (disk full)" in line
    assert list(tmp_path.iterdir()) == []


# --- 4. beats carrying their NPA, and the NPA file too --------------------------------------


@pytest.mark.parametrize("npa_first", [False, True])
def test_separate_beat_and_npa_files(tmp_path, police_slice, npa_first, capsys) -> None:
    beats_layer, npa_layer = load_areas("leicestershire/beats")[:2]
    beats = beats_layer.polygons.rename(columns={"name": "BEAT"})
    beats["NPA"] = beats["BEAT"].map(npa_layer.parent_names)
    beats.to_crs(4326).to_file(tmp_path / "beats.geojson", driver="GeoJSON")
    npa_layer.polygons.rename(columns={"name": "NPA"}).to_file(tmp_path / "npa.gpkg")
    files = [str(tmp_path / "beats.geojson"), str(tmp_path / "npa.gpkg")]
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(police_slice),
            "--areas",
            *(files[::-1] if npa_first else files),
            "--area-field",
            "beat=BEAT",
            "--area-field",
            "npa=NPA",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [(a["layer"], a["source"]) for a in meta["areas"]] == [
        ("beat", f"{files[0]}:BEAT"),
        ("npa", f"{files[1]}:NPA"),
    ][:: -1 if npa_first else 1]
    for name in ("areas.csv", "hotspots.csv"):
        header = (out / name).read_text(encoding="utf-8").splitlines()[0].split(",")
        assert len(header) == len(set(header)), name
    areas = pd.read_csv(out / "areas.csv")
    assert areas.groupby("layer").size().to_dict() == {"beat": 171, "npa": 6}
