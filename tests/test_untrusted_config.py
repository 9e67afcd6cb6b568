"""Shared run configurations and parameters of the wrong shape or size: exit 2, one line.

A ``run.toml`` passed around by colleagues is untrusted like any data file: every value of
the wrong kind is refused before data is read, naming the file, the key and the value.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotspots.boundaries import AreaLayer, combine_layers, load_areas
from hotspots.cli import main
from hotspots.density import MAX_BANDWIDTH_M
from hotspots.schema import InputError

SLICE = Path(__file__).resolve().parent / "data" / "police_uk_slice"


def _error_line(capsys, args: list[str]) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("hotspots: error: "), err
    assert "report" not in err[0] and "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('inputs = "x"\n', ("inputs must be [[inputs]] tables", "'x'")),
        ("[[inputs]]\npath = 5\n", ("[[inputs]] path must be text or a list of text", "5")),
        ('[[inputs]]\npath = ["a.csv", 7]\n', ("[[inputs]] path = 7: expected text",)),
        ('[[inputs]]\npath = "a.csv"\ncategories = "x"\n', ("[inputs.categories]",)),
        ('[[inputs]]\npath = "a.csv"\ncolumns = 3\n', ("[inputs.columns] must be a table",)),
        (
            '[[areas]]\npath = "beats.gpkg"\nfields = "beat"\n',
            ("[[areas]] fields must be a table", "'beat'"),
        ),
        (
            '[[areas]]\npath = "beats.gpkg"\ncolour = "red"\n',
            ("unknown key(s) ['colour'] in [[areas]]",),
        ),
        ("[[areas]]\npath = 3\n", ("[[areas]] path = 3: expected text",)),
        ("areas = 3\n", ("areas must be [[areas]] tables",)),
        ("postcodes = 3\n", ("postcodes = 3: expected text",)),
        ('[density]\nbandwidth_m = "wide"\n', ("[density] bandwidth_m", "'wide'")),
    ],
)
def test_config_values_of_the_wrong_shape(tmp_path, capsys, toml, words):
    cfg = tmp_path / "run.toml"
    cfg.write_text(toml, encoding="utf-8")
    line = _error_line(capsys, ["validate", "--config", str(cfg)])
    assert str(cfg) in line
    for w in words:
        assert w in line, (w, line)


def test_a_config_that_is_not_text(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_bytes(b"\xff\xfe\x00bandwidth")
    assert "not valid TOML" in _error_line(capsys, ["validate", "--config", str(cfg)])


@pytest.mark.parametrize("value", ["1e12", "1e308", str(MAX_BANDWIDTH_M * 2)])
def test_a_huge_bandwidth_is_refused(tmp_path, capsys, value):
    line = _error_line(
        capsys,
        ["run", "--incidents", str(SLICE), "--bandwidth-m", value, "--out", str(tmp_path / "out")],
    )
    assert "bandwidth_m must be at most 100,000 metres" in line
    assert not (tmp_path / "out" / "run.json").exists()


def test_a_layer_drawn_by_its_own_file_replaces_the_derived_one(tmp_path, capsys):
    """Beats carrying their NPA, and the NPA file too: the drawn NPAs are used."""
    beats = load_areas("leicestershire/beats")
    npas = load_areas("leicestershire/npas")
    layers = combine_layers([beats, npas])
    assert [x.layer for x in layers] == ["beat", "npa", "district"]
    assert layers[1] is npas[0]
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "run",
            "--incidents",
            str(SLICE),
            "--areas",
            "leicestershire/beats",
            "leicestershire/npas",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    header = (out / "areas.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert len(header) == len(set(header))


def test_the_same_layer_drawn_twice_is_an_error():
    npas = load_areas("leicestershire/npas")
    with pytest.raises(InputError, match="'npa' is given twice"):
        combine_layers([npas, [AreaLayer("npa", npas[0].polygons, "other.gpkg:NPA")]])
