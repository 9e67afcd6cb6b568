"""Readers and row validation: every reject reason, encodings, delimiters, zips, folders."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.io import ColumnMapping, InputSpec, load_incidents, read_police_uk
from hotspots.io._text import decode_bytes, sniff_delimiter
from hotspots.schema import InputError, MissingFileError
from tests.helpers import write_police_csv

GOOD = {
    "Month": "2025-06",
    "Longitude": "-1.13",
    "Latitude": "52.63",
    "Location": "On or near High Street",
    "Crime type": "Anti-social behaviour",
}


def _reasons(result) -> dict[str, int]:
    return result.rejects["reason"].value_counts().to_dict()


def test_police_uk_file_folder_zip_give_same_rows(tmp_path: Path, police_slice: Path) -> None:
    folder = load_incidents(police_slice)
    files = sorted(police_slice.glob("*.csv.gz"))
    listed = load_incidents([InputSpec.police_uk(files)])
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in files:
            zf.writestr(f"2025-xx/{f.name[:-3]}", gzip.decompress(f.read_bytes()))
    zipped = load_incidents(archive)
    assert folder.rows_read == listed.rows_read == zipped.rows_read == 4197
    assert len(folder.incidents) == len(zipped.incidents)
    assert folder.rows_read == len(folder.incidents) + len(folder.rejects)
    assert (folder.incidents["precision"] == "month").all()
    assert folder.incidents["when"].dt.day.eq(1).all()  # never an invented day


def test_asb_rows_without_id_get_file_line_ids(tmp_path: Path) -> None:
    f = write_police_csv(
        tmp_path / "2025-06-x-street.csv", [GOOD, GOOD, {**GOOD, "Crime ID": "abc"}]
    )
    r = load_incidents(f)
    assert r.incidents["incident_id"].tolist() == [
        "2025-06-x-street.csv:2",
        "2025-06-x-street.csv:3",
        "abc",
    ]
    # identical ASB rows are separate incidents: never de-duplicated on content
    assert len(r.incidents) == 3


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({**GOOD, "Longitude": "", "Latitude": ""}, "no_location"),
        ({**GOOD, "Month": "2023-13"}, "bad_date"),
        ({**GOOD, "Month": "20X3-01"}, "bad_date"),
        ({**GOOD, "Month": ""}, "bad_date"),
        ({**GOOD, "Crime type": "  "}, "no_category"),
    ],
)
def test_each_row_reason(tmp_path: Path, row: dict[str, str], reason: str) -> None:
    f = write_police_csv(tmp_path / "2025-06-x-street.csv", [GOOD, row])
    r = load_incidents(f)
    assert _reasons(r) == {reason: 1}
    assert r.rows_read == 2 and len(r.incidents) == 1


def test_duplicate_crime_id_rejected_second(tmp_path: Path) -> None:
    rows = [{**GOOD, "Crime ID": "x1"}, {**GOOD, "Crime ID": "x1"}, {**GOOD, "Crime ID": "x2"}]
    r = load_incidents(write_police_csv(tmp_path / "a.csv", rows))
    assert _reasons(r) == {"duplicate_id": 1}
    assert r.rejects["_row"].tolist() == [1]


def test_period_and_category_filters_are_accounted(tmp_path: Path) -> None:
    rows = [GOOD, {**GOOD, "Month": "2024-01"}, {**GOOD, "Crime type": "Burglary"}]
    period = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"))
    r = load_incidents(
        write_police_csv(tmp_path / "a.csv", rows),
        period=period,
        categories=["anti-social  BEHAVIOUR"],
    )
    assert _reasons(r) == {"out_of_period": 1, "filtered_category": 1}
    assert r.rows_read == len(r.incidents) + len(r.rejects)


def test_cp1252_and_bom_and_semicolons(tmp_path: Path) -> None:
    text = "Ref;Date;Type;Postcode;Cost\nA1;25/11/2025;Youth nuisance;LE1 1AA;£5\n"
    p = tmp_path / "export.csv"
    p.write_bytes(text.encode("cp1252"))
    m = ColumnMapping(id="Ref", date="Date", category="Type", postcode="Postcode")
    r = load_incidents(
        InputSpec((str(p),), "council", m, {"Youth nuisance": "Anti-social behaviour"})
    )
    assert r.incidents["Cost"].tolist() == ["£5"]
    assert r.incidents["category"].tolist() == ["Anti-social behaviour"]
    assert r.incidents["when"].tolist() == [pd.Timestamp("2025-11-25")]
    assert r.incidents["precision"].tolist() == ["day"]
    assert r.files[0]["encoding"] == "cp1252"
    assert decode_bytes("\ufeffa,b".encode(), "x") == ("a,b", "utf-8")
    assert sniff_delimiter("a\tb\tc") == "\t"


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        load_incidents(empty)
    header = write_police_csv(tmp_path / "h.csv", [])
    r = load_incidents(header)
    assert r.rows_read == 0 and len(r.incidents) == 0


def test_not_police_uk_names_the_file_and_columns(tmp_path: Path) -> None:
    p = tmp_path / "wrong.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"wrong.csv.*missing column"):
        read_police_uk(p)
    with pytest.raises(MissingFileError):
        read_police_uk(tmp_path / "nope.csv")


def test_mapped_missing_column_is_named(tmp_path: Path) -> None:
    p = tmp_path / "e.csv"
    p.write_text("Ref,When,Type,PC\n1,01/02/2025,x,LE1 1AA\n")
    m = ColumnMapping(id="Ref", date="Date", category="Type", postcode="PC")
    with pytest.raises(InputError, match=r"\['Date'\] not found"):
        load_incidents(InputSpec((str(p),), "council", m))


def test_mapped_excel_and_datetimes(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Ref": ["a", "b", "c"],
            "Reported": [pd.Timestamp("2025-06-01 18:30"), pd.Timestamp("2025-06-02"), "45231"],
            "Type": ["Noise", "Noise", "Noise"],
            "E": [458000, 458100, 458200],
            "N": [304000, 304100, 304200],
            "Risk": ["high", "low", "low"],
        }
    )
    p = tmp_path / "cases.xlsx"
    frame.to_excel(p, index=False)
    m = ColumnMapping(id="Ref", datetime="Reported", category="Type", easting="E", northing="N")
    r = load_incidents(InputSpec((str(p),), "council", m))
    assert r.incidents["precision"].tolist() == ["minute", "day", "day"]
    assert r.incidents["when"].iloc[2] == pd.Timestamp("2023-11-01")  # Excel serial day
    assert r.incidents["Risk"].tolist() == ["high", "low", "low"]  # pass-through kept


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["2025-06", "2025-13", "", "junk", "2019-12"]),
            st.sampled_from(["-1.13", "", "abc", "0", "52.63", "inf"]),
            st.sampled_from(["52.63", "", "-1.13", "0", "nan"]),
            st.sampled_from(["Anti-social behaviour", "", "Burglary"]),
            st.sampled_from(["", "id1", "id2"]),
        ),
        min_size=0,
        max_size=25,
    )
)
def test_counts_always_add_up(tmp_path_factory, rows) -> None:
    d = tmp_path_factory.mktemp("prop")
    recs = [
        {"Month": m, "Longitude": lo, "Latitude": la, "Crime type": c, "Crime ID": i}
        for m, lo, la, c, i in rows
    ]
    r = load_incidents(write_police_csv(d / "p.csv", recs))
    assert r.rows_read == len(rows) == len(r.incidents) + len(r.rejects)
    assert r.rejects["_row"].is_unique
    assert set(r.rejects["_row"]).isdisjoint(set(r.incidents["_row"]))


def test_asb_subtypes_from_the_category_mapping(tmp_path: Path) -> None:
    p = tmp_path / "council.csv"
    p.write_text(
        "Ref,Date,Type,E,N\n1,01/06/2025,Noise,458000,304000\n"
        "2,02/06/2025,Fly tipping,458100,304100\n3,03/06/2025,Burglary,458200,304200\n"
    )
    m = ColumnMapping(id="Ref", date="Date", category="Type", easting="E", northing="N")
    cats = {"Noise": "Anti-social behaviour: nuisance", "Fly tipping": "environmental"}
    r = load_incidents(InputSpec((str(p),), "council", m, cats))
    assert r.incidents["category"].tolist() == ["Anti-social behaviour"] * 2 + ["Burglary"]
    assert r.incidents["asb_type"].tolist() == ["nuisance", "environmental", ""]
    assert r.unmapped_categories == {}


def test_an_input_wholly_outside_the_period_is_skipped_among_several(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    write_police_csv(old / "2023-01-leicestershire-street.csv", [{**GOOD, "Month": "2023-01"}])
    write_police_csv(new / "2025-06-leicestershire-street.csv", [GOOD])
    period = (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-12-31"))
    specs = [InputSpec.police_uk(old), InputSpec.police_uk(new)]
    r = load_incidents(specs, period=period)
    assert len(r.incidents) == 1 and r.rows_read == 1
    assert [Path(f).name for f in r.skipped_files] == ["2023-01-leicestershire-street.csv"]
    with pytest.raises(InputError, match="no files left to read: all are outside the period"):
        load_incidents([InputSpec.police_uk(old), InputSpec.police_uk(old)], period=period)


def test_last_months_of_an_export_count_back_from_its_latest_row(tmp_path: Path) -> None:
    from hotspots.pipeline import FilterConfig, RunConfig, prepare

    text = "Ref,Date,Type,Easting,Northing\n" + "".join(
        f"R{i},15/{m:02d}/2025,Youth nuisance,458500,304500\n" for i, m in enumerate(range(1, 13))
    )
    (tmp_path / "export.csv").write_text(text)
    m = ColumnMapping(
        id="Ref", date="Date", category="Type", easting="Easting", northing="Northing"
    )
    config = RunConfig(
        inputs=[InputSpec((str(tmp_path / "export.csv"),), "council", m)],
        filter=FilterConfig(last_months=3),
    )
    prepared = prepare(config)
    assert sorted(prepared.incidents["when"].dt.month) == [10, 11, 12]
    assert prepared.counts["rejects_by_reason"] == {"out_of_period": 9}
    assert prepared.period[0] == pd.Timestamp("2025-10-01")


def test_a_source_whose_times_are_all_midnight_has_dates_not_times(tmp_path: Path) -> None:
    m = ColumnMapping(id="Ref", datetime="When", category="Type", easting="E", northing="N")
    (tmp_path / "dates.csv").write_text(
        "Ref,When,Type,E,N\n1,03/03/2025 00:00:00,Drugs,458500,304500\n"
        "2,04/03/2025 00:00:00,Drugs,458500,304500\n"
    )
    (tmp_path / "times.csv").write_text(
        "Ref,When,Type,E,N\n1,03/03/2025 00:00:00,Drugs,458500,304500\n"
        "2,04/03/2025 22:15:00,Drugs,458500,304500\n"
    )
    dates = load_incidents(InputSpec((str(tmp_path / "dates.csv"),), "a", m)).incidents
    times = load_incidents(InputSpec((str(tmp_path / "times.csv"),), "b", m)).incidents
    assert dates["precision"].astype(str).tolist() == ["day", "day"]
    assert times["precision"].astype(str).tolist() == ["minute", "minute"]
