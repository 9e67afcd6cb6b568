r"""Andresen's S-index: how many areas kept their share of the incidents between periods.

Andresen (2009, *Journal of Quantitative Criminology* 25:333-348) compares the spatial
pattern of a *base* period with a *test* period area by area: an area is **similar** when
its share of the incidents did not change significantly, and the S-index is the share of
areas that are similar (0: every area changed, 1: none did). The number of incidents may
differ between periods: only each area's share of its period's total counts.

Two versions (``method=``):

``"fisher"`` (the default)
    Wheeler, Steenbeek & Andresen (2018, *Transactions in GIS* 22:760-774) replace the
    resampling by a test of the difference in proportions per area. Here: Fisher's exact
    test of the 2x2 table ``[[b, B - b], [a, A - a]]`` (the area's count ``b`` of the
    before total ``B``, ``a`` of the after total ``A``), two-sided, at ``alpha``. Exact for
    small counts, deterministic, and it allows for the randomness of both periods (the
    original treats the base period as fixed, so with large counts nearly every area
    "changes").
``"andresen"``
    The original Monte Carlo test: ``samples`` (200) random samples of ``sample_share``
    (85 %) of the after-period incidents, drawn with replacement, give each area's share
    in each sample; the 2.5 % lowest and highest (the 5 lowest and 5 highest of 200) are
    dropped, and the area is similar when its before-period share lies within the rest.
    Seeded. No p-value.

Summary figures (:func:`s_index`):

* ``s_index``: similar areas / all areas (Andresen's S);
* ``s_index_robust``: the same over the areas with an incident in either period
  (Andresen's "robust" S; areas empty in both periods are trivially similar);
* ``s_index_fdr`` (``"fisher"`` only): with Benjamini-Hochberg adjusted p-values, so that
  among, say, 600 areas some 5 % are not called different by chance alone.

Each area also gets ``direction``: ``"similar"``, ``"higher share"`` or ``"lower share"``
(after against before).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, fisher_exact

from hotspots.schema import InputError

METHODS = ("fisher", "andresen")
#: Andresen's resampling: the number of samples and the share of the test period sampled.
ANDRESEN_SAMPLES = 200
ANDRESEN_SAMPLE_SHARE = 0.85

COLUMNS = [
    "area",
    "before",
    "after",
    "before_share",
    "after_share",
    "share_change",
    "p",
    "q",
    "interval_low",
    "interval_high",
    "similar",
    "direction",
]


def s_index(
    before: pd.Series,
    after: pd.Series,
    *,
    method: str = "fisher",
    alpha: float = 0.05,
    samples: int = ANDRESEN_SAMPLES,
    sample_share: float = ANDRESEN_SAMPLE_SHARE,
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Per-area similarity of the two periods' spatial patterns, and the S-index.

    Parameters
    ----------
    before, after
        Counts per area (Series indexed by area name); an area missing from one is 0
        there. Include the areas with no incident in either period: they count in S.
    method
        ``"fisher"`` (default) or ``"andresen"`` (module notes).
    alpha
        Significance level of each area's test (and the FDR of ``s_index_fdr``).
    samples, sample_share, seed
        Andresen's resampling.

    Returns
    -------
    (DataFrame, dict)
        :data:`COLUMNS`, one row per area sorted by name (shares are 0-1; ``p``/``q``
        NaN for ``"andresen"``, ``interval_*`` NaN for ``"fisher"``), and the summary.

    Examples
    --------
    >>> t, s = s_index(pd.Series({"A": 5, "B": 5}), pd.Series({"A": 0, "B": 10}))
    >>> t["p"].round(4).tolist(), s["s_index"]
    ([0.0325, 0.0325], 0.0)
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise InputError(f"alpha must be between 0 and 1, got {alpha!r}")
    names = sorted(set(map(str, before.index)) | set(map(str, after.index)))
    b = _counts(before, names, "before")
    a = _counts(after, names, "after")
    total_b, total_a = int(b.sum()), int(a.sum())
    if total_b == 0 or total_a == 0:
        which = "before" if total_b == 0 else "after"
        raise InputError(f"the {which} period has no incidents in any area: nothing to compare")
    share_b, share_a = b / total_b, a / total_a
    p = np.full(len(names), np.nan)
    q = np.full(len(names), np.nan)
    low = np.full(len(names), np.nan)
    high = np.full(len(names), np.nan)
    if method == "fisher":
        for i, (bi, ai) in enumerate(zip(b.tolist(), a.tolist(), strict=True)):
            table = [[bi, total_b - bi], [ai, total_a - ai]]
            p[i] = 1.0 if bi == ai == 0 else fisher_exact(table).pvalue
        p = np.minimum(p, 1.0)
        q = false_discovery_control(p, method="bh") if len(p) else p
        similar = p >= alpha
        rule = (
            f"Fisher's exact test per area of its share before against after (two-sided), "
            f"similar when p ≥ {alpha:g} (Wheeler, Steenbeek & Andresen 2018)"
        )
    else:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 20:
            raise InputError(f"samples must be a whole number ≥ 20, got {samples!r}")
        if not (isinstance(sample_share, int | float) and 0 < sample_share <= 1):
            raise InputError(f"sample_share must be in (0, 1], got {sample_share!r}")
        m = max(1, int(round(sample_share * total_a)))
        rng = np.random.default_rng(seed)
        draws = rng.multinomial(m, share_a, size=samples) / m  # (samples, areas)
        draws.sort(axis=0)
        cut = int(math.floor(samples * alpha / 2))
        low, high = draws[cut], draws[samples - 1 - cut]
        similar = (share_b >= low - 1e-12) & (share_b <= high + 1e-12)
        rule = (
            f"Andresen (2009): {samples} samples of {sample_share:.0%} of the after-period "
            f"incidents with replacement (seed {seed}); similar when the before-period "
            f"share lies within the samples' shares with the {cut} lowest and {cut} highest "
            "dropped"
        )
    change = share_a - share_b
    direction = np.where(similar, "similar", np.where(change > 0, "higher share", "lower share"))
    table = pd.DataFrame(
        {
            "area": names,
            "before": b,
            "after": a,
            "before_share": share_b,
            "after_share": share_a,
            "share_change": change,
            "p": p,
            "q": q,
            "interval_low": low,
            "interval_high": high,
            "similar": similar,
            "direction": direction,
        }
    )
    used = (b + a) > 0
    summary: dict[str, object] = {
        "method": method,
        "rule": rule,
        "areas": len(names),
        "areas_with_incidents": int(used.sum()),
        "similar_areas": int(similar.sum()),
        "s_index": round(float(similar.mean()), 6),
        "s_index_robust": round(float(similar[used].mean()), 6) if used.any() else None,
        "s_index_fdr": round(float((q >= alpha).mean()), 6) if method == "fisher" else None,
        "incidents_before": total_b,
        "incidents_after": total_a,
    }
    return table[COLUMNS], summary


def _counts(values: pd.Series, names: list[str], what: str) -> np.ndarray:
    s = pd.Series(values)
    s.index = s.index.map(str)
    s = s.groupby(level=0).sum()
    num = pd.to_numeric(s, errors="coerce")
    if num.isna().any() or (num < 0).any() or (num != np.floor(num)).any():
        raise InputError(f"{what}: counts per area must be whole numbers ≥ 0")
    return num.reindex(names, fill_value=0).to_numpy(np.int64)
