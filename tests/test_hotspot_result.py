"""Per-hotspot value counts of the hotspot summary agree with a plain pandas groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from hotspots.clusters._result import _counts_by


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from(["b", "a", "c", None])), max_size=40
    ),
    categorical=st.booleans(),
)
def test_counts_by_matches_groupby(rows, categorical) -> None:
    labels = np.array([r[0] for r in rows], dtype=np.int64)
    values = pd.Series([r[1] for r in rows], dtype=object)
    if categorical:
        values = values.astype(pd.CategoricalDtype(["c", "b", "a", "unused"]))
    m = labels > 0
    f = pd.DataFrame({"id": labels[m], "value": values.to_numpy()[m]}).dropna()
    want = f.groupby(["id", "value"]).size().reset_index(name="n")
    want = want.sort_values(["id", "n", "value"], ascending=[True, False, True], kind="stable")
    got = _counts_by(labels, values)
    assert got.values.tolist() == want.values.tolist()
