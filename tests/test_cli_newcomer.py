"""A newcomer's first run reads cleanly: the CLI's own names in errors, flags anywhere, a
short summary on stderr, the whole log in run.log."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hotspots.cli import build_parser, main

#: A run log line: "2025-08-01 12:00:00,123 INFO hotspots.grid: Cell size set to …".
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) [\w.]+: ")


def _run(police_slice: Path, out: Path, *flags: str) -> list[str]:
    return [
        "run",
        "--incidents",
        str(police_slice),
        "--areas",
        "leicestershire/beats",
        "--out",
        str(out),
        *flags,
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--last-months", "-1"], "--last-months ([filter] last_months) must be at least 0"),
        (["--from", "2025-13"], "--from ([filter] from) '2025-13' is not a month"),
        (["--from", "2025-08", "--to", "2025-01"], "--from 2025-08 is after --to 2025-01"),
        (["--show", "-1"], "--show -1: give a whole number, 0 or more"),
    ],
)
def test_errors_use_the_cli_names(police_slice, capsys, args, words):
    assert main(["validate", "--incidents", str(police_slice), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--top-n", "0"], "--top-n ([hotspots] top_n) must be at least 1, got 0"),
        (
            ["--cell-size-m", "-5"],
            ("--cell-size-m ([grid] cell_size_m) must be a positive number of metres, got -5.0"),
        ),
        (["--bandwidth-m", "0"], "bandwidth_m) must be a positive number of metres, got 0.0"),
        (["--bandwidth-m", "nan"], "bandwidth_m) must be a positive number of metres, got nan"),
        (["--min-count", "-1"], "--min-count ([output] min_count) must be at least 0, got -1"),
    ],
)
def test_run_numbers_are_checked_with_the_flag_names(police_slice, tmp_path, capsys, args, words):
    assert main(_run(police_slice, tmp_path / "out", *args)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "out").exists()


def test_last_months_without_dated_file_names_names_the_flags(tmp_path, capsys):
    from tests.helpers import write_police_csv

    f = write_police_csv(
        tmp_path / "export.csv",
        [{"Month": "2025-06", "Longitude": "-1.13", "Latitude": "52.63", "Crime type": "Drugs"}],
    )
    assert main(["validate", "--incidents", str(f), "--last-months", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--last-months" in err and "give --from/--to" in err, err
    assert "month_from" not in err


def test_map_per_area_error_names_the_flag(police_slice, tmp_path, capsys):
    assert main(_run(police_slice, tmp_path / "out", "--map-per-area", "ward")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("hotspots: error: --map-per-area ([output] map_per_area) 'ward'")


@pytest.mark.parametrize(
    ("argv", "quiet", "verbose"),
    [
        (["run"], False, False),
        (["-q", "run"], True, False),  # before the subcommand, as always
        (["run", "-q"], True, False),  # after it
        (["run", "--quiet"], True, False),
        (["-v", "run"], False, True),
        (["run", "-v"], False, True),
        (["-q", "run", "-v"], True, True),  # one does not reset the other
        (["validate", "-q"], True, False),
        (["boundaries", "-v"], False, True),
    ],
)
def test_quiet_and_verbose_go_before_or_after_the_subcommand(argv, quiet, verbose):
    args = build_parser().parse_args(argv)
    assert (args.quiet, args.verbose) == (quiet, verbose)


@pytest.fixture(scope="module")
def default_run(police_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("default") / "out"
    return out, _captured(pytest.MonkeyPatch(), _run(police_slice, out))


@pytest.fixture(scope="module")
def quiet_run(police_slice, tmp_path_factory):
    out = tmp_path_factory.mktemp("quiet") / "out"
    return out, _captured(pytest.MonkeyPatch(), _run(police_slice, out, "-q"))


def _captured(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with stdout and stderr captured (module fixtures cannot use capsys)."""
    import io
    import sys

    out, err = io.StringIO(), io.StringIO()
    with monkeypatch.context() as m:
        m.setattr(sys, "stdout", out)
        m.setattr(sys, "stderr", err)
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_a_run_prints_a_short_summary_on_stderr(default_run):
    out, (code, stdout, stderr) = default_run
    assert code == 0, stderr
    lines = stderr.splitlines()
    assert 3 <= len(lines) <= 8, lines
    assert len(set(lines)) == len(lines), lines  # no line repeated
    assert not [line for line in lines if line.startswith("INFO")], lines
    text = "\n".join(lines)
    assert "rows read 4,197: used 4,187, rejected 10 (no_location 10)" in text
    assert re.search(r"hotspots found: \d+", text)
    assert f"outputs in {out}/" in text and "run.log" in text
    assert re.search(r"finished in \d+\.\d s", text)
    assert stdout == ""


def test_run_log_holds_the_info_lines(default_run):
    out, _ = default_run
    log = (out / "run.log").read_text(encoding="utf-8").splitlines()
    assert log and all(LOG_LINE.match(line) for line in log), log[:3]
    text = "\n".join(log)
    assert "INFO hotspots.pipeline: Read 4,197 rows: 4,187 used, 10 rejected" in text
    assert "Cell size set to 100 metres automatically" in text
    covered = [line for line in log if "Covered period" in line]
    assert len(covered) == 1, covered  # once per run, not once per seasonal table
    assert "pyogrio" not in text  # other libraries: warnings only
    meta = json.loads((out / "run.json").read_text())
    assert "run.log" not in meta["outputs"]  # run.json stays the same for the same inputs


def test_quiet_after_the_subcommand(quiet_run):
    out, (code, stdout, stderr) = quiet_run
    assert code == 0, stderr
    assert (stdout, stderr) == ("", "")
    log = (out / "run.log").read_text(encoding="utf-8")  # -q quietens the terminal only
    assert "INFO hotspots.pipeline: Read 4,197 rows" in log


def test_verbose_shows_the_log_on_stderr(police_slice, tmp_path, capsys):
    assert main(_run(police_slice, tmp_path / "out", "-v")) == 0
    err = capsys.readouterr().err.splitlines()
    assert (
        "INFO hotspots.pipeline: Read 4,197 rows: 4,187 used, 10 rejected "
        "{'no_location': 10}" in err
    )
    assert any(line.startswith("INFO hotspots.grid: Cell size set to") for line in err)
    assert not [line for line in err if line.startswith("DEBUG matplotlib")]  # ours, not theirs
    assert any(line.startswith("finished in") for line in err)


def test_a_warning_repeated_by_the_stages_is_shown_once(tmp_path, capsys):
    small = Path(__file__).parent / "data" / "bad" / "2025-06-small_run-street.csv"
    out = tmp_path / "out"
    argv = ["run", "--incidents", str(small), "--areas", "leicestershire/beats"]
    assert main([*argv, "--out", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(set(err)) == len(err) <= 8, err
    warned = [line for line in err if line.startswith("WARNING")]
    assert warned, err
    log = (out / "run.log").read_text(encoding="utf-8")
    for line in warned:  # run.log keeps every record, with its time
        assert log.count(line.removeprefix("WARNING ")) >= 1
