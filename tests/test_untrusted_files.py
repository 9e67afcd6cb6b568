"""Hostile and accidental input files stay inert and bounded (issue #15, readers).

Every case ends in exit 2 with one ``hotspots: error: ...`` line naming the file (and the
member, line, column or value), or in rows where ``read == used + rejected``; never a
traceback, never exit 1, never unbounded memory. Large hostile files are built in
``tmp_path``; small ones are in tests/data/bad (see its README).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hotspots.cli import main
from hotspots.io import (
    ColumnMapping,
    InputSpec,
    SourceFile,
    expand_paths,
    load_incidents,
    read_mapped,
)
from hotspots.io._text import (
    MAX_COLUMNS,
    MAX_FIELD_CHARS,
    MAX_LINE_CHARS,
    MAX_RATIO,
    ReadBudget,
    ReadLimits,
    gunzip,
)
from hotspots.schema import InputError
from tests.helpers import DATA, ROOT

BAD = DATA / "bad"
HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
    "LSOA name,Crime type,Last outcome category,Context\n"
)
MIB = 1024 * 1024


def _row(i: int | str, month: str = "2025-06", location: str = "On or near High Street") -> str:
    return (
        f"r{i},{month},Leicestershire Police,Leicestershire Police,-1.1400,52.6300,"
        f"{location},,,Burglary,,\n"
    )


def _varied_rows(n: int, seed: int = 0) -> str:
    """Rows that compress like real police.uk ones (ids and points differ)."""
    import random

    rnd = random.Random(seed)
    return "".join(
        f"{rnd.getrandbits(64):016x},2025-06,Leicestershire Police,Leicestershire Police,"
        f"-1.{rnd.randint(10000, 19999)},52.{rnd.randint(60000, 65000)},"
        f"On or near {rnd.choice(['High Street', 'Church Gate', 'Parking Area'])},"
        f"E0{rnd.randint(1000000, 1099999)},Leicester 0{rnd.randint(10, 40)}A,"
        f"{rnd.choice(['Burglary', 'Vehicle crime', 'Shoplifting'])},"
        f"{rnd.choice(['Under investigation', 'Unable to prosecute suspect', ''])},\n"
        for _ in range(n)
    )


def _cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["validate", *map(str, args)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return code, out, err


def _error_line(code: int, err: str) -> str:
    """The one error line of an exit-2 run (log lines aside)."""
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("hotspots: error:")]
    assert len(lines) == 1, err
    return lines[0]


def _read_used_rejected(out: str) -> tuple[int, int, int]:
    m = re.search(r"rows read ([\d,]+): ([\d,]+) usable, ([\d,]+) rejected", out)
    assert m, out
    return tuple(int(g.replace(",", "")) for g in m.groups())  # type: ignore[return-value]


def _zip(path: Path, members: dict[str, bytes], level: int = 6) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _bomb_zip(path: Path, size: int) -> Path:
    """A zip of one police.uk-named member of ``size`` bytes of one repeated row."""
    block = (_row(1) * 10_000).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        with zf.open("2025-06-leicestershire-street.csv", "w", force_zip64=True) as fh:
            fh.write(HEADER.encode())
            for _ in range(size // len(block)):
                fh.write(block)
    return path


# --- 1. decompression caps ----------------------------------------------------------------


def test_zip_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    bomb = _bomb_zip(tmp_path / "bomb.zip", 256 * MIB)
    info = zipfile.ZipFile(bomb).infolist()[0]
    assert info.file_size / info.compress_size > MAX_RATIO  # it is a bomb by the rule
    (member,) = expand_paths(bomb)
    budget = ReadBudget()
    with pytest.raises(
        InputError,
        match=r"bomb\.zip!2025-06-leicestershire-street\.csv: "
        r"expands more than 100 times",
    ):
        member.read(budget)
    assert budget.used == 0  # refused from the stated sizes, nothing decompressed


def test_zip_bomb_cli_exit_2_and_bounded_memory(tmp_path: Path) -> None:
    """The CLI's peak memory on a 256 MiB bomb stays near its start-up size.

    Before the caps, `validate` held the whole member (and a frame of it): ~2.2 GiB
    peak for this bomb, 8.6 GiB for a 1 GiB one.
    """
    bomb = _bomb_zip(tmp_path / "bomb.zip", 256 * MIB)
    probe = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run([sys.executable, '-m', 'hotspots.cli', 'validate', "
        f"'--incidents', {str(bomb)!r}], capture_output=True, text=True)\n"
        "print(p.returncode); print(p.stderr.strip().splitlines()[-1])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTSPOTS_MAX")}
    res = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    code, line, maxrss_kb = res.stdout.strip().splitlines()
    assert code == "2", res.stdout
    assert line.startswith("hotspots: error: ") and "bomb.zip!" in line and "100 times" in line
    assert int(maxrss_kb) < 600 * 1024, f"peak RSS {int(maxrss_kb) // 1024} MiB"


def test_zip_member_cap_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = (HEADER + _varied_rows(60_000)).encode()  # ~8 MiB, compresses ~3 times
    archive = _zip(tmp_path / "big.zip", {"2025-06-x-street.csv": data})
    (member,) = expand_paths(archive)
    assert member.read() == data  # the defaults admit it
    monkeypatch.setenv("HOTSPOTS_MAX_MEMBER_MB", "2")
    with pytest.raises(
        InputError,
        match=r"big\.zip!2025-06-x-street\.csv: decompresses to "
        r"more than 2 MiB.*HOTSPOTS_MAX_MEMBER_MB",
    ):
        member.read()
    monkeypatch.setenv("HOTSPOTS_MAX_MEMBER_MB", "two")
    refused = "HOTSPOTS_MAX_MEMBER_MB must be a positive number, got 'two'"
    with pytest.raises(InputError, match=refused):
        member.read()


def test_lying_zip_header_reads_no_more_than_it_states(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member whose directory says 1,000 bytes while it holds 4 MiB: only 1,000 bytes
    are decompressed, then the checksum fails: a damaged member, exit 2."""
    data = (HEADER + _row(1) * 40_000).encode()
    archive = _zip(tmp_path / "liar.zip", {"2025-06-x-street.csv": data})
    b = bytearray(archive.read_bytes())
    struct.pack_into("<I", b, b.index(b"PK\x03\x04") + 22, 1000)  # local header size
    struct.pack_into("<I", b, b.index(b"PK\x01\x02") + 24, 1000)  # central directory size
    archive.write_bytes(bytes(b))
    budget = ReadBudget()
    with pytest.raises(InputError, match=r"liar\.zip!2025-06-x-street\.csv: damaged zip member"):
        expand_paths(archive)[0].read(budget)
    assert budget.used <= 1000
    line = _error_line(*_cli(capsys, "--incidents", archive)[::2])
    assert "liar.zip!" in line and "damaged" in line


def test_gzip_bomb_stops_while_streaming(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gzip has no size to trust (its trailer is mod 4 GiB): the bytes are counted."""
    raw = (HEADER + _row(1) * 600_000).encode()  # 64 MiB
    bomb = tmp_path / "2025-06-x-street.csv.gz"
    bomb.write_bytes(gzip.compress(raw, compresslevel=9))
    budget = ReadBudget()
    with pytest.raises(InputError, match=r"x-street\.csv\.gz: expands more than 100 times"):
        gunzip(bomb.read_bytes(), str(bomb), budget)
    assert budget.used < 16 * MIB < len(raw)  # stopped early, not after the fact
    line = _error_line(*_cli(capsys, "--incidents", bomb)[::2])
    assert str(bomb) in line and "100 times" in line
    # The member cap holds whatever the ratio: 10 MiB of 64 MiB, refused at ~11 MiB.
    budget = ReadBudget(ReadLimits(member_bytes=10 * MIB, ratio=1e9))
    with pytest.raises(InputError, match="more than 10 MiB"):
        gunzip(bomb.read_bytes(), str(bomb), budget)
    assert budget.used <= 11 * MIB


def test_run_cap_counts_every_file_of_a_load(tmp_path: Path) -> None:
    for k in range(3):
        path = tmp_path / f"2025-0{k + 1}-x-street.csv.gz"
        path.write_bytes(gzip.compress((HEADER + _varied_rows(30_000, seed=k)).encode()))
    each = len(gzip.decompress(path.read_bytes()))
    limits = ReadLimits(run_bytes=int(each * 2.5))
    with pytest.raises(
        InputError,
        match=r"2025-03-x-street\.csv\.gz: reading it takes this "
        r"run past its limit",
    ):
        load_incidents(InputSpec.police_uk(tmp_path), limits=limits)
    assert load_incidents(InputSpec.police_uk(tmp_path)).rows_read == 90_000  # defaults


def test_realistic_archive_passes_the_defaults(tmp_path: Path) -> None:
    """A police.uk-like archive (ratio ~3-10), and a small file of blanks far more
    compressible than that (under the 1 MiB floor), read whole."""
    members = {
        f"2025-0{m}/2025-0{m}-x-street.csv": (HEADER + _varied_rows(20_000, m)).encode()
        for m in (1, 2)
    }
    members["2025-03/2025-03-x-street.csv"] = (HEADER + _row(1) + ",,,,,,,,,,,\n" * 50_000).encode()
    archive = _zip(tmp_path / "police.zip", members, level=9)
    load = load_incidents(InputSpec.police_uk(archive))
    assert load.rows_read == 40_000 + 50_001
    assert load.rows_read == len(load.incidents) + len(load.rejects)


# --- 2. non-regular files -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_non_regular_files_refused_unopened(tmp_path: Path, kind: str) -> None:
    if kind == "device":
        target = Path("/dev/zero")
        if not target.exists():
            pytest.skip("no /dev/zero")
    else:
        target = tmp_path / "pipe.csv"
        os.mkfifo(target)  # opening it for reading would block until a writer comes
    small = BAD / "2025-06-small_run-street.csv"
    runs = [
        ("--incidents", str(target)),
        ("--incidents", str(small), "--areas", str(target), "--area-field", "beat=beat"),
    ]
    for args in runs:  # a subprocess with a timeout: a regression hangs, it must not stall
        proc = subprocess.run(
            [sys.executable, "-m", "hotspots.cli", "validate", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        line = _error_line(proc.returncode, proc.stderr)
        assert str(target) in line
        assert ("a device" if kind == "device" else "a FIFO") in line


# --- 3. one huge line or field --------------------------------------------------------------


def test_fifty_megabyte_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "2025-06-huge-street.csv"
    path.write_text(HEADER + _row(1) + _row(2, location="x" * 50_000_000), encoding="utf-8")
    line = _error_line(*_cli(capsys, "--incidents", path)[::2])
    assert str(path) in line and "line 3 is 50,000," in line
    assert f"{MAX_LINE_CHARS:,}" in line
    assert "xxxxxxxxxx" not in line


def test_huge_header_field_and_multiline_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = tmp_path / "2025-06-head-street.csv"
    head.write_text("Month," + "y" * 200_000 + "\n2025-06,1\n", encoding="utf-8")
    line = _error_line(*_cli(capsys, "--incidents", head)[::2])
    assert str(head) in line and "line 1" in line and "yyyy" not in line
    quoted = tmp_path / "2025-06-quoted-street.csv"  # a value of 4,000 short lines
    value = "\n".join(["z" * 50] * 4_000)
    quoted.write_text(HEADER + _row(1) + _row(2, location=f'"{value}"') + _row(3), encoding="utf-8")
    line = _error_line(*_cli(capsys, "--incidents", quoted)[::2])
    assert str(quoted) in line and "starting on line 3" in line
    assert f"{MAX_FIELD_CHARS:,}" in line and "zzzz" not in line


# --- 4. encrypted members, unsupported compression ------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("encrypted_member.zip", "encrypted"),
        ("deflate64_member.zip", "method 9 (Deflate64)"),
    ],
)
def test_unreadable_zip_members(name: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error_line(*_cli(capsys, "--incidents", BAD / name)[::2])
    assert f"{name}!2025-06-leicestershire-street.csv" in line and words in line


# --- 5. months beyond datetime64[ns] --------------------------------------------------------


def test_month_9999_is_a_bad_date_reject(capsys: pytest.CaptureFixture[str]) -> None:
    path = BAD / "2025-06-month_9999-street.csv"
    load = load_incidents(path)
    assert load.rejects["reason"].tolist() == ["bad_date"]
    assert "'9999-12'" in load.rejects["detail"].iloc[0]
    assert load.incidents["when"].dt.strftime("%Y-%m").tolist() == ["2025-06"] * 3
    code, out, err = _cli(capsys, "--incidents", path)
    assert code == 0, err
    assert _read_used_rejected(out) == (4, 3, 1)


def test_month_9999_in_a_mapped_export(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "Ref,When,Type,E,N\n1,9999-12-31 10:00,ASB,458000,304000\n"
        "2,31/12/9999,ASB,458000,304000\n3,9999-12-31T10:00+01:00,ASB,458000,304000\n"
        "4,01/06/2025,ASB,458000,304000\n",
        encoding="utf-8",
    )
    for dayfirst in (True, False):
        cols = ColumnMapping(
            id="Ref", datetime="When", category="Type", easting="E", northing="N", dayfirst=dayfirst
        )
        load = load_incidents(InputSpec((str(path),), "council", cols))
        assert load.rejects["reason"].tolist() == ["bad_date"] * 3
        assert len(load.incidents) == 1


# --- 6. a table given as a boundary layer ---------------------------------------------------


def test_areas_without_geometry(capsys: pytest.CaptureFixture[str]) -> None:
    areas = BAD / "areas_table.csv"
    line = _error_line(
        *_cli(
            capsys,
            "--incidents",
            BAD / "2025-06-small_run-street.csv",
            "--areas",
            areas,
            "--area-field",
            "beat=beat_name",
        )[::2]
    )
    assert str(areas) in line and "has no geometry" in line


# --- 7. too many columns --------------------------------------------------------------------


def test_export_with_too_many_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 2_100
    extra = [f"extra_{i}" for i in range(n - 4)]
    path = tmp_path / "wide.csv"
    path.write_text(
        ",".join(["Ref", "Date", "Type", "Postcode", *extra])
        + "\n"
        + ",".join(["1", "01/06/2025", "ASB", "LE1 1AA", *["v"] * len(extra)])
        + "\n",
        encoding="utf-8",
    )
    cols = ColumnMapping(id="Ref", date="Date", category="Type", postcode="Postcode")
    with pytest.raises(
        InputError,
        match=rf"wide\.csv: the file has {n:,} columns, over the "
        rf"limit of {MAX_COLUMNS:,}",
    ):
        read_mapped(path, cols)
    config = tmp_path / "wide.toml"
    config.write_text(
        '[[inputs]]\npath = "wide.csv"\ncolumns = { id = "Ref", date = "Date", '
        'category = "Type", postcode = "Postcode" }\n',
        encoding="utf-8",
    )
    line = _error_line(*_cli(capsys, "--config", config)[::2])
    assert "wide.csv" in line and f"{n:,} columns" in line
    # At the limit the file is read, every column passing through.
    keep = tmp_path / "keep.csv"
    names = ["Ref", "Date", "Type", "Postcode", *extra[: MAX_COLUMNS - 4]]
    keep.write_text(
        ",".join(names)
        + "\n"
        + ",".join(["1", "01/06/2025", "ASB", "LE1 1AA"] + ["v"] * (MAX_COLUMNS - 4))
        + "\n",
        encoding="utf-8",
    )
    assert len(read_mapped(keep, cols).frame.columns) == MAX_COLUMNS + 2  # _file, _line


# --- 8. never echo a file the user did not mean to give -------------------------------------


def _secret_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln]


@pytest.mark.parametrize("variant", ["copy", "commas", "config"])
def test_no_echo_of_a_passwd_like_file(
    tmp_path: Path, variant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = BAD / "passwd_copy"
    if variant == "copy":
        args: tuple[str | Path, ...] = ("--incidents", src)
    elif variant == "commas":  # a GECOS field with commas: the first line splits in 4
        src = tmp_path / "passwd"
        src.write_text(
            "alice:x:1000:1000:Alice Example,,,:/home/alice:/bin/bash\n"
            "root:x:0:0:root:/root:/bin/bash\n",
            encoding="utf-8",
        )
        args = ("--incidents", src)
    else:
        config = tmp_path / "c.toml"
        config.write_text(
            f'[[inputs]]\npath = "{BAD / "passwd_copy"}"\ncolumns = {{ '
            'date = "Date", category = "Type", postcode = "Postcode" }\n',
            encoding="utf-8",
        )
        args = ("--config", config)
    line = _error_line(*_cli(capsys, *args)[::2])
    assert str(src) in line
    said = line.replace(str(src), "<file>")  # the file's name is said, not its content
    for secret in _secret_lines(src):
        for piece in [secret, *secret.split(":")]:
            if len(piece) >= 4:  # every field of every line, not only whole lines
                assert piece not in said, (piece, line)
    assert "not shown" in line


def test_real_etc_passwd_not_echoed(capsys: pytest.CaptureFixture[str]) -> None:
    passwd = Path("/etc/passwd")
    if not passwd.is_file():
        pytest.skip("no /etc/passwd")
    code, _, err = _cli(capsys, "--incidents", passwd)
    _error_line(code, err)
    for secret in _secret_lines(passwd):
        assert secret not in err
        assert ":/" not in err  # no home/shell path of any line


def test_tabular_headers_are_named_but_cut_short(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "other.csv"
    long_name = "An extremely long column name of 60 characters, more or less"
    path.write_text(f"Ref,{long_name},Type\n1,2,3\n", encoding="utf-8")
    line = _error_line(*_cli(capsys, "--incidents", path)[::2])
    assert "'Ref'" in line and "'Type'" in line
    assert long_name not in line and long_name[:39] + "…" in line


# --- 9. repeated member names ---------------------------------------------------------------


def test_duplicate_member_names_all_read(capsys: pytest.CaptureFixture[str]) -> None:
    archive = BAD / "duplicate_members.zip"
    names = [i.filename for i in zipfile.ZipFile(archive).infolist()]
    assert len(names) == 4 and len(set(names)) == 1
    files = expand_paths(archive)
    assert [f.name.split("!")[1] for f in files] == [
        "2025-06-leicestershire-street.csv",
        *(f"2025-06-leicestershire-street.csv (copy {k})" for k in (2, 3, 4)),
    ]
    load = load_incidents(archive)
    assert load.rows_read == 400
    assert (len(load.incidents), len(load.rejects)) == (360, 40)
    assert set(load.rejects["reason"]) == {"bad_date"}
    assert sorted({i[:3] for i in load.incidents["incident_id"]}) == ["m0-", "m1-", "m2-", "m3-"]
    code, out, err = _cli(capsys, "--incidents", archive)
    assert code == 0, err
    assert _read_used_rejected(out) == (400, 360, 40)


def test_member_index_survives_reads_by_name(tmp_path: Path) -> None:
    """A SourceFile made without an index (older callers) still reads by name."""
    archive = _zip(tmp_path / "a.zip", {"2025-06-x-street.csv": (HEADER + _row(1)).encode()})
    f = SourceFile(f"{archive}!2025-06-x-street.csv", archive, "2025-06-x-street.csv")
    assert f.read() == (HEADER + _row(1)).encode()


# --- 10. a zip inside a zip -----------------------------------------------------------------


def test_nested_zip_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    line = _error_line(*_cli(capsys, "--incidents", BAD / "nested.zip")[::2])
    assert "nested.zip!2025-07.zip" in line and "a zip inside a zip is not read" in line


def test_nested_zip_refused_even_beside_csvs(tmp_path: Path) -> None:
    inner = io.BytesIO()
    _zip_to(inner, {"a.csv": b"x"})
    outer = tmp_path / "outer.zip"
    with open(outer, "wb") as fh:
        buf = io.BytesIO()
        _zip_to(
            buf,
            {"2025-06-x-street.csv": (HEADER + _row(1)).encode(), "deeper/b.ZIP": inner.getvalue()},
        )
        fh.write(buf.getvalue())
    with pytest.raises(InputError, match=r"outer\.zip!deeper/b\.ZIP: a zip inside a zip"):
        expand_paths(outer)


def _zip_to(buf: io.BytesIO, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


# --- 11. duplicate column names -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (
            "2025-06-duplicate_header-street.csv",
            "column 'Month' appears twice in the header (columns 2 and 13)",
        ),
        (
            "2025-06-duplicate_header_case-street.csv",
            "columns 'Crime type' and 'crime type' both name the police.uk column 'Crime type'",
        ),
    ],
)
def test_duplicate_column_names(name: str, words: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = _error_line(*_cli(capsys, "--incidents", BAD / name)[::2])
    assert name in line and words in line


def test_duplicate_column_in_mapped_export(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text(
        "Ref,Date,Type,Postcode,Notes,Notes\n1,01/06/2025,ASB,LE1 1AA,a,b\n", encoding="utf-8"
    )
    cols = ColumnMapping(id="Ref", date="Date", category="Type", postcode="Postcode")
    with pytest.raises(
        InputError,
        match=r"dup\.csv: column 'Notes' appears twice in the "
        r"header \(columns 5 and 6\)",
    ):
        read_mapped(path, cols)
