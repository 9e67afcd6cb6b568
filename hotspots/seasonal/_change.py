"""Before/after comparison per group: exact conditional binomial test with BH FDR."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binomtest, false_discovery_control

from hotspots.schema import InputError

from ._months import attach_span, month_range, month_start, prepare


def period_change(
    incidents: pd.DataFrame,
    *,
    by: str | Sequence[str],
    before: tuple[pd.Timestamp, pd.Timestamp],
    after: tuple[pd.Timestamp, pd.Timestamp],
    alpha: float = 0.05,
    months_with_data: Iterable[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Compare each group's count in an ``after`` window with a ``before`` window.

    Windows are inclusive whole months (days are ignored: police.uk data is monthly);
    they must not overlap. A window's length is its number of months with data (see
    ``months_with_data``), so a gap in the source does not look like a fall.

    Under H0 (same monthly rate in both windows) the after count given the total is
    Binomial(total, L_after / (L_before + L_after)); ``p`` is the exact two-sided
    ``scipy.stats.binomtest`` p-value (1 when both counts are 0) and ``significant`` is
    ``q < alpha`` after Benjamini–Hochberg adjustment across groups.

    Parameters
    ----------
    incidents : DataFrame
        Canonical incidents (``when`` plus the ``by`` columns).
    by : str or list of str
        Grouping column(s).
    before, after : (start, end)
        Inclusive month windows.
    alpha : float
        False discovery rate for ``significant``.
    months_with_data : iterable of dates, optional
        Months for which data exists; default months with any incident in ``incidents``
        (pass the full load's ``when`` column when ``incidents`` is a subset).

    Returns
    -------
    DataFrame
        One row per group, sorted: the ``by`` columns, ``before``, ``after`` (counts),
        ``change`` (after − before), ``change_pct`` (100 × change ÷ before, ``NaN`` when
        before is 0), ``rate_ratio`` (monthly rate after ÷ before, ``NaN`` when before is
        0), ``p``, ``q`` and ``significant``.

    Examples
    --------
    >>> inc = pd.DataFrame({"when": pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 8),
    ...                     "beat": "A"})
    >>> out = period_change(inc, by="beat", before=("2025-01-01", "2025-01-31"),
    ...                     after=("2025-02-01", "2025-02-28"))
    >>> out.loc[0, ["before", "after", "change", "change_pct"]].astype(float).tolist()
    [2.0, 8.0, 6.0, 300.0]
    >>> round(float(out["p"].iloc[0]), 4)
    0.1094
    """
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputError(f"alpha must be a number between 0 and 1, got {alpha!r}")
    b0, b1 = month_range(before, "before")
    a0, a1 = month_range(after, "after")
    if b0 <= a1 and a0 <= b1:
        raise InputError(f"before {before!r} and after {after!r} overlap; use separate windows")
    lo, hi = min(b0, a0), max(b1, a1)
    span = (month_start(lo)[0], month_start(hi)[0])
    prep = prepare(incidents, by, span, months_with_data)
    counts = np.nan_to_num(prep.counts())
    windows = {}
    for name, given, w0, w1 in (("before", before, b0, b1), ("after", after, a0, a1)):
        sl = slice(w0 - lo, w1 - lo + 1)
        length = int(prep.has_data[sl].sum())
        if length == 0:
            raise InputError(f"{name} window {given!r} has no months with data")
        windows[name] = (counts[:, sl].sum(axis=1).astype(np.int64), length)
    (nb, lb), (na, la) = windows["before"], windows["after"]
    share = la / (la + lb)
    total = nb + na
    pairs = zip(na.tolist(), total.tolist(), strict=True)
    p = np.array([binomtest(k, n, share).pvalue if n else 1.0 for k, n in pairs])
    q = false_discovery_control(p, method="bh") if len(p) else p
    table = prep.groups.copy()
    table["before"] = nb
    table["after"] = na
    table["change"] = na - nb
    with np.errstate(invalid="ignore", divide="ignore"):
        table["change_pct"] = np.where(nb > 0, 100.0 * (na - nb) / nb, np.nan)
        table["rate_ratio"] = np.where(nb > 0, (na / la) / (nb / lb), np.nan)
    table["p"] = p
    table["q"] = q
    table["significant"] = q < alpha
    table.attrs["months_before"] = lb
    table.attrs["months_after"] = la
    return attach_span(table, prep)
