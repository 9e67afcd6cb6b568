"""Tests for hotspots.labels: street labels, snap-point qualifiers, artefact flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspots.labels import (
    ARTEFACT_NOTES,
    artefact_flags,
    compose_label,
    is_snap_type,
    label_parts,
    place_labels,
    place_name,
)


def test_place_name_strips_prefix_and_drops_no_location():
    assert place_name("On or near Granby Street") == "Granby Street"
    assert place_name("on or near  Belvoir   Street ") == "Belvoir Street"
    assert place_name("No Location") is None and place_name("") is None
    assert place_name(np.nan) is None and place_name(pd.NA) is None


def test_snap_types_are_qualifiers_not_names():
    for t in (
        "Parking Area",
        "Supermarket",
        "Shopping Area",
        "Petrol Station",
        "Nightclub",
        "Sports/Recreation Area",
        "Further/Higher Educational Building",
        "Hospital",
        "Police Station",
    ):
        assert is_snap_type(t)
    assert not is_snap_type("Granby Street") and not is_snap_type("Station Road")
    names = (
        ["Parking Area"] * 6 + ["Granby Street"] * 5 + ["Belvoir Street"] * 1 + ["Supermarket"] * 2
    )
    # Parking Area is the commonest text, but only a qualifier; Belvoir Street (1) is under
    # 25% of Granby Street (5), so it is not named.
    assert label_parts(names) == ("Granby Street", "Parking Area")
    assert (
        compose_label(*label_parts(names), area="Castle") == "Granby Street (Parking Area), Castle"
    )


def test_ties_are_broken_by_name_and_the_rule_is_stable_across_run_lengths():
    one_year = ["Belvoir Street"] * 3 + ["Granby Street"] * 3 + ["Supermarket"]
    # Two years of the same pattern, in another order: same label.
    two_years = list(reversed(one_year * 2))
    assert label_parts(one_year) == label_parts(two_years) == ("Belvoir Street / Granby Street", "")


def test_place_labels_hand_made_hotspots():
    loc = pd.Series(
        ["On or near Granby Street"] * 5
        + ["On or near Belvoir Street"] * 2  # hotspot 1
        + ["On or near Supermarket"] * 3  # hotspot 2
        + ["On or near Mill Lane"] * 4  # nearby, none
        + ["No Location"]
    )  # hotspot 3
    ids = np.array([1] * 7 + [2] * 3 + [0] * 4 + [3])
    x = np.array([0.0] * 7 + [1000.0] * 3 + [1100.0] * 4 + [5000.0])
    t = place_labels(
        ids,
        [1, 2, 3],
        loc,
        x=x,
        y=np.zeros(15),
        centres=np.array([[0.0, 0.0], [1000.0, 0.0], [5000.0, 0.0]]),
        areas=["Castle", "Belgrave", None],
        fallback=["", "", "near 5000, 0"],
    )
    assert t["label"].tolist() == [
        "Granby Street / Belvoir Street, Castle",
        "Supermarket near Mill Lane, Belgrave",
        "near 5000, 0",
    ]
    assert t["streets"].tolist() == ["Granby Street / Belvoir Street", "", ""]
    assert t["qualifier"].tolist() == ["", "Supermarket", ""]


def test_artefact_flags_one_point_custody_hospital():
    loc = pd.Series(
        ["On or near Euston Street"] * 6
        + ["On or near Mill Lane"] * 2  # 1
        + ["On or near Police Station"] * 1
        + ["On or near A Road"] * 3  # 2
        + ["On or near Leicester Royal Infirmiry"] * 2
        + ["On or near B"] * 2  # 3
        + ["On or near C Road"] * 4
    )  # 4
    ids = np.array([1] * 8 + [2] * 4 + [3] * 4 + [4] * 4)
    x = np.array(
        [0.0] * 6 + [50, 60] + [100, 110, 120, 130] + [200, 210, 220, 230] + [300, 310, 320, 330]
    )
    f = artefact_flags(ids, [1, 2, 3, 4], x, np.zeros(20), loc, min_point_incidents=5)
    assert f["artefact"].tolist() == ["one_point", "police_station_or_custody", "hospital", ""]
    assert f["top_point_share"].tolist() == [0.75, 0.25, 0.25, 0.25]
    assert f["artefact_note"].tolist()[0] == (
        "most incidents are recorded at one point; check whether it is a recording address"
    )
    assert f["artefact_note"].tolist()[3] == ARTEFACT_NOTES[""] == ""
    # Below the per-point minimum, one point is not flagged.
    few = artefact_flags(ids, [1], x, np.zeros(20), loc, min_point_incidents=7)
    assert few["artefact"].tolist() == [""]


def test_name_codes_of_a_categorical_subset_name_only_used_rows() -> None:
    from hotspots.labels import _name_codes

    cats = ["On or near Mill Lane", "On or near  Mill Lane", "No Location", "On or near Unused"]
    loc = pd.Series(pd.Categorical([cats[1], None, cats[0], cats[2]], categories=cats))
    codes, distinct = _name_codes(loc)
    assert distinct.tolist() == ["Mill Lane"]
    assert codes.tolist() == [0, -1, 0, -1]
