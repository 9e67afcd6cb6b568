"""Memory-lean table helpers: results equal the plain-text pandas operations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyogrio
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hotspots.io import InputSpec, write_gpkg
from hotspots.io._frames import (
    CompactFiles,
    as_categorical,
    compact_text,
    concat_categorical,
    map_distinct,
    sorted_categorical,
)
from hotspots.pipeline import RunConfig, prepare, release_memory

_words = st.lists(st.sampled_from(["", "a", "b", " a", "Burglary", "é", "2025-01"]), max_size=30)


@settings(max_examples=60, deadline=None)
@given(_words)
def test_map_distinct_equals_mapping_every_row(values: list[str]) -> None:
    s = pd.Series(values, dtype="str")
    upper = map_distinct(s, lambda u: u.str.strip().str.upper())
    assert upper.astype(str).tolist() == [v.strip().upper() for v in values]
    assert isinstance(upper.dtype, pd.CategoricalDtype)
    length = map_distinct(s, lambda u: u.str.len())
    assert length.tolist() == [len(v) for v in values]
    assert upper.index.equals(s.index)


@settings(max_examples=60, deadline=None)
@given(st.lists(_words, min_size=1, max_size=4), st.booleans())
def test_concat_categorical_equals_text_concat(parts: list[list[str]], compact: bool) -> None:
    frames = [pd.DataFrame({"t": pd.Series(p, dtype="str"), "n": np.arange(len(p))}) for p in parts]
    if compact:  # a mix of categorical and text columns, as files compacted one by one
        frames = [
            f.assign(t=as_categorical(f["t"])) if i % 2 == 0 else f for i, f in enumerate(frames)
        ]
    joined = concat_categorical(frames, ignore_index=True)
    expected = pd.concat([f.astype({"t": str}) for f in frames], ignore_index=True)
    assert joined["t"].astype(str).tolist() == expected["t"].tolist()
    assert joined["n"].tolist() == expected["n"].tolist()
    assert list(joined.columns) == ["t", "n"]
    if compact:
        assert isinstance(joined["t"].dtype, pd.CategoricalDtype)


def test_compact_text_keeps_ids_as_text() -> None:
    frame = pd.DataFrame({"id": [f"x{i}" for i in range(50)], "month": ["2025-01"] * 50})
    out = compact_text(frame)
    assert out["id"].dtype == "str"
    assert isinstance(out["month"].dtype, pd.CategoricalDtype)
    assert out["month"].astype(str).tolist() == ["2025-01"] * 50


_file_text = st.lists(st.sampled_from(["a", "b", "c", "Burglary", "é"]), min_size=0, max_size=8)


def _files_frame(month: list[str], ids: bool, extra: bool) -> pd.DataFrame:
    frame = pd.DataFrame({"month": pd.Series(month, dtype="str")})
    if ids:
        frame["id"] = pd.Series([f"x{i}" for i in range(len(month))], dtype="str")
    if extra:  # a column only some files have
        frame["context"] = pd.Series(month[::-1], dtype="str")
    frame["_line"] = np.arange(2, len(month) + 2)
    return frame


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(_file_text, st.booleans(), st.booleans()), min_size=1, max_size=6),
    st.integers(1, 20),
)
# A column that two files of a run have, with different values, and a later file lacks.
@example([(["a"] * 3, False, True), (["b"] * 3, False, True), (["a"] * 3, True, False)], 20)
def test_compact_files_equals_compacting_each_file(
    files: list[tuple[list[str], bool, bool]], max_rows: int
) -> None:
    """Runs of files converted together give the very table (types, categories and their
    order, values) that converting each file alone and joining them gives."""
    compact = CompactFiles(max_rows=max_rows)
    for spec in files:
        compact.add(_files_frame(*spec))
    expected = concat_categorical(
        [compact_text(_files_frame(*spec)) for spec in files], ignore_index=True
    )
    table = compact.table()
    pd.testing.assert_frame_equal(table, expected)
    for col in table.columns:
        if isinstance(table[col].dtype, pd.CategoricalDtype):
            assert table[col].cat.categories.equals(expected[col].cat.categories)
            assert table[col].cat.categories.dtype == expected[col].cat.categories.dtype
    assert compact.rows == [len(spec[0]) for spec in files]


@settings(max_examples=60, deadline=None)
@given(_words, st.lists(st.sampled_from(["z", "a", "Burglary", "é"]), unique=True), st.booleans())
def test_sorted_categorical_equals_pandas_unused_removed_then_sorted(
    values: list[str], unused: list[str], missing: bool
) -> None:
    """Same values, categories (and their type) and codes as pandas'
    ``remove_unused_categories`` then ``reorder_categories(sorted(...))``."""
    categories = list(dict.fromkeys([*unused, *values]))
    cells = [None if missing and i % 3 == 0 else v for i, v in enumerate(values)]
    column = pd.Series(
        pd.Categorical(cells, categories=categories), index=np.arange(len(cells)) + 7
    )
    plain = column.cat.remove_unused_categories()
    expected = plain.cat.reorder_categories(sorted(plain.cat.categories))
    result = sorted_categorical(column)
    pd.testing.assert_series_equal(result, expected)
    assert result.cat.categories.dtype == expected.cat.categories.dtype
    assert result.cat.codes.dtype == expected.cat.codes.dtype


def test_prepared_incidents_are_compact_and_give_points(police_slice) -> None:
    config = RunConfig(
        inputs=[InputSpec.police_uk(police_slice)], areas=[("leicestershire/beats", {})]
    )
    prepared = prepare(config)
    inc = prepared.incidents
    assert "geometry" not in inc
    for col in ("category", "location", "beat", "npa"):
        cats = inc[col].cat.categories.tolist()
        assert cats == sorted(cats)  # text order: sorting by the column sorts by the text
    points = prepared.incident_points()
    assert points.crs.to_epsg() == 27700
    assert np.array_equal(points.geometry.x.to_numpy(), inc["x"].to_numpy())
    release_memory()  # returns memory to the OS; must not fail on this platform


def test_write_gpkg_builds_points_per_chunk(tmp_path, monkeypatch) -> None:
    import hotspots.io._writers as writers

    monkeypatch.setattr(writers, "GPKG_CHUNK_ROWS", 2)
    frame = pd.DataFrame(
        {
            "x": [450000.0, 451000.0, 452000.0],
            "y": [300000.0, 301000.0, 302000.0],
            "category": pd.Categorical(["b", "a", "b"]),
            "when": pd.to_datetime(
                ["2025-01-01", "2025-02-01 10:30", "2025-03-01"], format="ISO8601"
            ),
        }
    )
    write_gpkg({"incidents": frame}, tmp_path / "x.gpkg")
    back = pyogrio.read_dataframe(tmp_path / "x.gpkg", layer="incidents")
    assert back.crs.to_epsg() == 27700
    assert back.geometry.x.tolist() == frame["x"].tolist()
    assert back["category"].tolist() == ["b", "a", "b"]
    assert back["when"].tolist() == ["2025-01-01 00:00", "2025-02-01 10:30", "2025-03-01 00:00"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e7, 1e7), st.floats(-1e7, 1e7)), max_size=20))
def test_point_wkb_equals_shapely(coords: list[tuple[float, float]]) -> None:
    import shapely

    from hotspots.io._writers import point_wkb

    xy = np.array(coords, dtype=float).reshape(-1, 2)
    ours = point_wkb(xy[:, 0], xy[:, 1]).to_pylist()
    assert ours == list(shapely.to_wkb(shapely.points(xy[:, 0], xy[:, 1])))


def test_write_gpkg_restores_the_callers_gdal_settings(tmp_path) -> None:
    import hashlib
    import sqlite3

    frame = pd.DataFrame({"x": [450000.0, 451000.0], "y": [300000.0, 301000.0]})
    pyogrio.set_gdal_config_options({"OGR_SQLITE_JOURNAL": "DELETE", "OGR_CURRENT_DATE": None})
    try:
        write_gpkg({"incidents": frame}, tmp_path / "a.gpkg")
        write_gpkg({"incidents": frame}, tmp_path / "b.gpkg")
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_JOURNAL") == "DELETE"
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None
        assert pyogrio.get_gdal_config_option("OGR_CURRENT_DATE") is None
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_JOURNAL": None})
    digests = {
        hashlib.sha256((tmp_path / f).read_bytes()).hexdigest() for f in ("a.gpkg", "b.gpkg")
    }
    assert len(digests) == 1  # the fixed layer time: the same inputs, the same bytes
    with sqlite3.connect(tmp_path / "a.gpkg") as db:  # a whole, consistent SQLite file
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT last_change FROM gpkg_contents").fetchone()[0].startswith("2000")
    assert not list(tmp_path.glob("*-journal"))
