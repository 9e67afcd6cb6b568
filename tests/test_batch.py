"""Ingest to Parquet and batch runs on a two-worker LocalCluster.

The data: the shipped two months of Leicester police.uk rows ("Leicestershire Police"),
a copy moved 150 m north-east under another force name (a few Crime IDs kept, so they
are duplicates across files), and a third force moved 280 km away, outside the study
area, whose run must fail on its own.
"""

from __future__ import annotations

import filecmp
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotspots.batch import GROUP_MARKER, group_config, ingest, run_batch, slug
from hotspots.batch._groups import group_slugs, list_groups
from hotspots.geocode import locate_incidents
from hotspots.io import InputSpec, load_incidents, read_incident_dataset, write_csv
from hotspots.pipeline import PopulationConfig, Prepared, RunConfig, run

distributed = pytest.importorskip("distributed")

FORCES = ("Leicestershire Police", "Rutland Shadow Police", "Far Away Police")
KEPT_IDS = 3  # Crime IDs the shadow force shares with the real one: cross-file duplicates


def _shift(frame: pd.DataFrame, col: str, by: float) -> pd.Series:
    values = pd.to_numeric(frame[col], errors="coerce") + by
    return values.map(lambda v: "" if v != v else f"{v:.6f}")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, police_slice: Path) -> list[InputSpec]:
    root = tmp_path_factory.mktemp("forces")
    for name, dlon, dlat in (("shadow", 0.0015, 0.0010), ("far", -4.0, 0.0)):
        folder = root / name
        folder.mkdir()
        for src in sorted(police_slice.glob("*.csv.gz")):
            f = pd.read_csv(src, dtype=str, keep_default_na=False)
            f["Falls within"] = FORCES[1] if name == "shadow" else FORCES[2]
            f["Longitude"], f["Latitude"] = (
                _shift(f, "Longitude", dlon),
                _shift(f, "Latitude", dlat),
            )
            has_id = f["Crime ID"] != ""
            renamed = f["Crime ID"] + f"-{name}"
            keep = has_id & (has_id.cumsum() <= (KEPT_IDS if name == "shadow" else 0))
            f["Crime ID"] = f["Crime ID"].where(keep | ~has_id, renamed)
            f.to_csv(
                folder / src.name.replace("leicestershire", name).removesuffix(".gz"), index=False
            )
    return [InputSpec.police_uk(police_slice), InputSpec.police_uk([root / "shadow", root / "far"])]


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, inputs, cluster) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("ingest") / "all.parquet"
    report = ingest(inputs, out, scheduler=cluster, chunk_mb=0.1, progress=False)
    return out, report


@pytest.fixture(scope="module")
def config() -> RunConfig:
    return RunConfig(
        areas=[("leicestershire/beats", {})],
        population=PopulationConfig(enabled=False),
    )


@pytest.fixture(scope="module")
def batch(tmp_path_factory, dataset, config, cluster):
    out = tmp_path_factory.mktemp("batch")
    return out, run_batch(
        dataset[0], by=["force"], config=config, out=out, scheduler=cluster, progress=False
    )


def test_ingest_rejects_exactly_what_run_rejects(tmp_path, dataset, inputs) -> None:
    path, report = dataset
    load = load_incidents(inputs)
    located = locate_incidents(load.incidents)
    rejects = pd.concat([load.rejects, located.rejects], ignore_index=True)
    expected = Prepared(located.incidents, load, rejects, [], None)
    write_csv(expected.rejects_table(), tmp_path / "rejects.csv")
    assert filecmp.cmp(tmp_path / "rejects.csv", path / "_rejects.csv", shallow=False)
    counts = expected.counts
    assert (report.rows_read, report.rows_used, report.rows_rejected) == (
        counts["rows_read"],
        counts["rows_used"],
        counts["rows_rejected"],
    )
    assert report.rows_read == report.rows_used + report.rows_rejected
    assert report.rejects_by_reason["duplicate_id"] == counts["rejects_by_reason"]["duplicate_id"]
    assert report.duplicates_across_files == 2 * KEPT_IDS  # one per month file, across chunks
    assert report.tasks == 6


def test_dataset_rows_are_the_located_rows_partitioned(dataset, inputs) -> None:
    path, _ = dataset
    located = locate_incidents(load_incidents(inputs).incidents).incidents
    rows = read_incident_dataset(path, categorical=False)
    assert sorted(rows["force"].unique()) == sorted(FORCES)
    assert sorted(p.name for p in path.glob("force=*")) == sorted(
        "force=" + f.replace(" ", "%20") for f in FORCES
    )
    by_id = rows.set_index("incident_id")[["x", "y"]].sort_index()
    want = located.set_index("incident_id")[["x", "y"]].sort_index()
    pd.testing.assert_frame_equal(by_id, want)
    one = read_incident_dataset(
        path, filters={"force": FORCES[1]}, categories=["ANTI-SOCIAL  behaviour"], categorical=False
    )
    expected = rows[(rows["force"] == FORCES[1]) & (rows["category"] == "Anti-social behaviour")]
    assert one["incident_id"].tolist() == expected["incident_id"].tolist()


def _run_json(folder: Path) -> dict:
    meta = json.loads((folder / "run.json").read_text())
    for key in ("timings_s", "outputs"):
        meta.pop(key)
    meta["config"]["output"].pop("dir")
    return meta


def test_batch_group_outputs_equal_a_run_of_that_group_alone(
    tmp_path, batch, dataset, config
) -> None:
    out, report = batch
    ok = report.summary.loc[report.summary["status"] == "ok"]
    assert ok["force"].tolist() == [FORCES[0], FORCES[1]]
    for force, folder in zip(ok["force"], ok["folder"], strict=True):
        alone = tmp_path / slug(force)
        run(group_config(config, dataset[0], ["force"], [force], alone))
        for name in ("hotspots.geojson", "areas.csv", "rejects.csv"):
            assert filecmp.cmp(out / folder / name, alone / name, shallow=False), (force, name)
        assert _run_json(out / folder) == _run_json(alone)


def test_run_from_the_dataset_equals_run_from_the_files(
    tmp_path, dataset, config, police_slice
) -> None:
    from_files = config.updated(
        inputs=[InputSpec.police_uk(police_slice)], output={"dir": str(tmp_path / "files")}
    )
    run(from_files)
    run(group_config(config, dataset[0], ["force"], [FORCES[0]], tmp_path / "dataset"))
    for name in ("hotspots.geojson", "areas.csv", "hotspots.csv", "patrol_list.csv"):
        assert filecmp.cmp(tmp_path / "files" / name, tmp_path / "dataset" / name, shallow=False), (
            name
        )


def test_failed_group_is_reported_and_others_finish(batch) -> None:
    out, report = batch
    s = report.summary.set_index("force")
    assert s.loc[FORCES[2], "status"] == "failed"
    assert s.loc[FORCES[2], "error"].startswith("InputError: ")  # everything outside the area
    assert report.counts == {"ok": 2, "skipped": 0, "failed": 1}
    assert not (out / "far-away-police" / GROUP_MARKER).exists()
    written = pd.read_csv(out / "summary.csv")
    assert written["force"].tolist() == sorted(FORCES)
    incidents = written.set_index("force")["incidents"]
    assert incidents[FORCES[0]] == s.loc[FORCES[0], "incidents"] > 0
    page = (out / "index.html").read_text()
    assert '<a href="leicestershire-police/map.html">Leicestershire Police</a>' in page
    assert 'href="far-away-police/map.html"' not in page


def test_rerun_skips_complete_groups_and_retries_failed(batch, dataset, config, cluster) -> None:
    out, _ = batch
    marker = out / "leicestershire-police" / GROUP_MARKER
    before = marker.stat().st_mtime_ns
    again = run_batch(
        dataset[0], by=["force"], config=config, out=out, scheduler=cluster, progress=False
    )
    assert again.summary["status"].tolist() == ["failed", "skipped", "skipped"]
    assert marker.stat().st_mtime_ns == before


def test_evaluate_task_summarises_the_best_backtest_method(tmp_path, dataset, config) -> None:
    months = {"train": ("2025-06", "2025-06"), "test": ("2025-07", "2025-07")}
    report = run_batch(
        dataset[0],
        by=["force"],
        config=config,
        out=tmp_path,
        scheduler="sync",
        task="evaluate",
        evaluate_args=months,
        progress=False,
    )
    assert report.summary["status"].tolist() == ["failed", "ok", "ok"]
    for _, row in report.summary.iloc[1:].iterrows():
        table = pd.read_csv(tmp_path / row["folder"] / "evaluation.csv")
        at_1pc = table.loc[table["area_share"] == 0.01]
        assert row["pai"] == pytest.approx(at_1pc["pai"].max(), rel=1e-6)
        assert row["method"] in set(at_1pc.loc[at_1pc["pai"] == at_1pc["pai"].max(), "method"])
        assert row["incidents"] == at_1pc["n_train"].iloc[0] + at_1pc["n_test"].iloc[0]


def test_groups_by_two_keys_and_their_folders(dataset, config) -> None:
    sizes = list_groups(dataset[0], ["force", "category"], config)
    rows = read_incident_dataset(dataset[0], columns=["force", "category"], categorical=False)
    expected = rows.groupby(["force", "category"]).size()
    assert sizes == {k: int(v) for k, v in expected.items()}
    groups = list(sizes)
    assert groups == sorted(groups)
    folders = group_slugs(groups)
    assert ("leicestershire-police", "anti-social-behaviour") in folders
    assert len(set(folders)) == len(groups)


@given(st.lists(st.text(max_size=12), min_size=1, max_size=8, unique=True))
def test_group_folder_names_are_safe_and_distinct(values) -> None:
    names = [s for (s,) in group_slugs([(v,) for v in values])]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", n) for n in names)


def test_core_and_batch_imports_leave_dask_out() -> None:
    code = "import sys, hotspots, hotspots.pipeline, hotspots.batch; print('dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
