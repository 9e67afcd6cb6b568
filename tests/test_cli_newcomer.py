"""A newcomer's first run reads cleanly: the CLI's own names in errors, flags anywhere."""

from __future__ import annotations

import pytest

from hotspots.cli import main


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--last-months", "-1"], "--last-months ([filter] last_months) -1: give a whole number"),
        (["--from", "2025-13"], "--from ([filter] from) '2025-13' is not a month"),
        (["--from", "2025-08", "--to", "2025-01"], "--from 2025-08 is after --to 2025-01"),
    ],
)
def test_errors_use_the_cli_names(police_slice, capsys, args, words):
    assert main(["validate", "--incidents", str(police_slice), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
