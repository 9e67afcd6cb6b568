"""Scoring internals that must agree with their slower public counterparts."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.scoring import _leading_cells, rank_cells


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, np.nan, np.inf]), min_size=1, max_size=60),
    inside=st.lists(st.booleans(), min_size=60, max_size=60),
    n=st.integers(min_value=1, max_value=70),
)
def test_leading_cells_are_the_head_of_rank_cells(values, inside, n) -> None:
    scores = np.array(values)
    mask = np.array(inside[: len(values)])
    assert _leading_cells(scores, mask, n).tolist() == rank_cells(scores, mask)[:n].tolist()
