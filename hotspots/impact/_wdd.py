"""The before/after statistics of a place-based intervention, vectorised over areas.

* WDD, the weighted displacement difference (Wheeler & Ratcliffe 2018, *Crime Science* 7:11):
  ``WDD = ΔT − ΔC + ΔD − ΔCd`` where ``ΔX = X1 − X0`` (after − before) for the treated area
  T, its control C, the treated area's buffer D and the control's buffer Cd. Counts are taken
  as Poisson, so ``Var(WDD) = T0 + T1 + C0 + C1 + D0 + D1 + Cd0 + Cd1``; ``z = WDD / se``
  with a two-sided normal p. A negative WDD is a fall in the treated area (and its buffer)
  beyond the control's.
* WDQ, the weighted displacement quotient (Bowers & Johnson 2003, *J. Quantitative
  Criminology* 19:275–301): ``WDQ = (D1/C1 − D0/C0) / (T1/C1 − T0/C0)``. The denominator
  (the *success measure*) is negative when the treated area improved relative to the
  control; WDQ is only read when it is. Then WDQ > 1: diffusion of benefits larger than
  the direct effect; 0 < WDQ ≤ 1: some diffusion; about 0: neither; < 0: displacement (−1 or
  less: more displaced than prevented).
* relative change ``(T1/T0) / (C1/C0) − 1``, the ratio of the treated area's rate ratio to
  the control's. It is the odds ratio of the 2×2 table ``[[T0, T1], [C0, C1]]``, and its
  interval is the log rate ratio ± 1.96 SE with ``Var(log RR) = 1/T0 + 1/T1 + 1/C0 + 1/C1``
  when every count is at least :data:`EXACT_BELOW`, and otherwise the exact conditional
  interval (conditioning on the margins, the after counts are non-central
  hypergeometric: :func:`scipy.stats.contingency.odds_ratio`, ``kind="conditional"``).

Harm-weighted counts (``weights`` in :func:`hotspots.impact.impact`): each count is a sum
of weights, and its variance is the sum of the squared weights (a compound Poisson count;
with unit weights, the count itself). WDD takes those variances; the relative change uses
the log rate ratio with ``Var(log X) = Σw² / (Σw)²`` (no exact method exists for weighted
counts); ``too_small`` uses the effective counts ``(Σw)² / Σw²``.

Periods of unequal length: WDD is computed on the after counts scaled to the length of the
before period (``after_scale = months_before / months_after``; each scaled count's Poisson
variance is ``after_scale² × count``), so with equal periods it is the papers' statistic on
the raw counts; ``wdd_per_month`` is the same difference per month. WDQ and the relative
change compare counts of the same period, so the lengths cancel.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats.contingency import odds_ratio

#: The log-rate-ratio (Wald) interval is used when all four counts reach this; below it the
#: exact conditional interval.
EXACT_BELOW = 10
#: ``too_small``: the before-period counts could not detect a halving of the treated area's
#: rate at the 5 % level (see :func:`too_small`).
DETECTABLE_RATIO = 0.5


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def wdd(
    t0, t1, c0, c1, d0=0, d1=0, cd0=0, cd1=0, *, after_scale: float = 1.0, variances=None
) -> pd.DataFrame:
    """Weighted displacement difference, its standard error, z and two-sided p.

    Parameters
    ----------
    t0, t1, c0, c1, d0, d1, cd0, cd1
        Counts before (0) and after (1) in the treated area, the control, the treated
        area's buffer and the control's buffer (scalars or equal-length arrays; buffers 0
        when not measured).
    after_scale
        Multiplier of the after counts (``months_before / months_after``) for periods of
        unequal length.
    variances
        The eight counts' variances in the same order (harm-weighted counts: sums of the
        squared weights); None: the counts (Poisson).

    Returns
    -------
    DataFrame
        ``wdd_local`` (ΔT − ΔC), ``wdd_displacement`` (ΔD − ΔCd), ``wdd``, ``wdd_se``,
        ``wdd_z``, ``wdd_p`` (NaN when every count is 0).

    Examples
    --------
    Wheeler's worked example (ptools ``wdd``): T 207→110, C 308→318, D 178→157, Cd 150→140.

    >>> r = wdd(207, 110, 308, 318, 178, 157, 150, 140).iloc[0]
    >>> float(r.wdd_local), float(r.wdd), round(float(r.wdd_se), 2), round(float(r.wdd_z), 2)
    (-107.0, -118.0, 39.6, -2.98)
    """
    s = float(after_scale)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"after_scale must be a positive number, got {after_scale!r}")
    t0, t1, c0, c1, d0, d1, cd0, cd1 = np.broadcast_arrays(
        *(_arr(v) for v in (t0, t1, c0, c1, d0, d1, cd0, cd1))
    )
    local = (s * t1 - t0) - (s * c1 - c0)
    displacement = (s * d1 - d0) - (s * cd1 - cd0)
    total = local + displacement
    v = (t0, t1, c0, c1, d0, d1, cd0, cd1) if variances is None else variances
    vt0, vt1, vc0, vc1, vd0, vd1, vcd0, vcd1 = np.broadcast_arrays(*(_arr(x) for x in v))
    var = (vt0 + vc0 + vd0 + vcd0) + s * s * (vt1 + vc1 + vd1 + vcd1)
    se = np.sqrt(var)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(se > 0, total / se, np.nan)
    p = np.where(np.isfinite(z), 2 * norm.sf(np.abs(z)), np.nan)
    return pd.DataFrame(
        {
            "wdd_local": np.atleast_1d(local),
            "wdd_displacement": np.atleast_1d(displacement),
            "wdd": np.atleast_1d(total),
            "wdd_se": np.atleast_1d(se),
            "wdd_z": np.atleast_1d(z),
            "wdd_p": np.atleast_1d(p),
        }
    )


def wdq(t0, t1, c0, c1, d0, d1) -> pd.DataFrame:
    """Weighted displacement quotient and its two parts (Bowers & Johnson 2003).

    Returns
    -------
    DataFrame
        ``success_measure`` ``T1/C1 − T0/C0`` (negative: the treated area improved relative
        to the control), ``buffer_measure`` ``D1/C1 − D0/C0`` and ``wdq`` (their quotient;
        NaN when a control count or the success measure is 0).

    Examples
    --------
    >>> r = wdq(207, 110, 308, 318, 178, 157).iloc[0]
    >>> round(float(r.success_measure), 4), round(float(r.wdq), 4)
    (-0.3262, 0.2582)
    """
    t0, t1, c0, c1, d0, d1 = np.broadcast_arrays(*(_arr(v) for v in (t0, t1, c0, c1, d0, d1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (c0 > 0) & (c1 > 0)
        success = np.where(ok, t1 / c1 - t0 / c0, np.nan)
        buffer = np.where(ok, d1 / c1 - d0 / c0, np.nan)
        q = np.where(ok & (success != 0), buffer / success, np.nan)
    return pd.DataFrame(
        {
            "success_measure": np.atleast_1d(success),
            "buffer_measure": np.atleast_1d(buffer),
            "wdq": np.atleast_1d(q) + 0.0,  # no negative zero
        }
    )


def relative_change(
    t0,
    t1,
    c0,
    c1,
    *,
    confidence: float = 0.95,
    exact_below: int = EXACT_BELOW,
    variances=None,
) -> pd.DataFrame:
    """Treated against control, ``(T1/T0)/(C1/C0) − 1``, with its interval.

    ``variances`` (of T0, T1, C0, C1; harm-weighted counts) gives the log-rate-ratio
    interval with ``Var(log X) = variance / X²`` for every row (``"log-rr-weighted"``).

    Returns
    -------
    DataFrame
        ``relative_change``, ``relative_change_low``, ``relative_change_high`` (−1 to ∞;
        NaN when T0 or C1 is 0 and no exact estimate exists), ``interval_method``
        (``"log-rr"`` or ``"exact"``).

    Examples
    --------
    >>> r = relative_change(100, 50, 100, 100).iloc[0]
    >>> float(r.relative_change), r.interval_method
    (-0.5, 'log-rr')
    >>> [round(float(r[c]), 3) for c in ("relative_change_low", "relative_change_high")]
    [-0.677, -0.225]
    """
    t0, t1, c0, c1 = np.broadcast_arrays(*(_arr(v) for v in (t0, t1, c0, c1)))
    t0, t1, c0, c1 = (np.atleast_1d(v) for v in (t0, t1, c0, c1))
    zq = norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = (t1 * c0) / (t0 * c1)
        if variances is None:
            se = np.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
        else:
            vs = (np.atleast_1d(_arr(v)) for v in variances)
            se = np.sqrt(sum(v / x**2 for v, x in zip(vs, (t0, t1, c0, c1), strict=True)))
        low, high = est * np.exp(-zq * se), est * np.exp(zq * se)
    if variances is not None:
        return pd.DataFrame(
            {
                "relative_change": est - 1,
                "relative_change_low": low - 1,
                "relative_change_high": high - 1,
                "interval_method": "log-rr-weighted",
            }
        )
    exact = np.minimum.reduce([t0, t1, c0, c1]) < exact_below
    for i in np.flatnonzero(exact):
        table = np.array([[t1[i], t0[i]], [c1[i], c0[i]]], dtype=np.int64)
        if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
            est[i] = low[i] = high[i] = np.nan  # a whole row or column empty: nothing known
            continue
        res = odds_ratio(table, kind="conditional")
        ci = res.confidence_interval(confidence_level=confidence)
        est[i] = est[i] if np.isfinite(est[i]) else np.nan
        low[i], high[i] = ci.low, ci.high
    return pd.DataFrame(
        {
            "relative_change": est - 1,
            "relative_change_low": low - 1,
            "relative_change_high": high - 1,
            "interval_method": np.where(exact, "exact", "log-rr"),
        }
    )


def too_small(t0, c0, *, after_scale: float = 1.0) -> np.ndarray:
    """True where the before-period counts are too small to say anything.

    The rule, fixed before looking at the after period: a halving of the treated area's
    rate (:data:`DETECTABLE_RATIO`), with the control unchanged, would not be significant
    at the 5 % level on these counts: ``1.96 × √(1/T0 + 1/(T0·r/2) + 1/C0 + 1/(C0·r)) >
    ln 2`` with ``r = 1 / after_scale`` (after length / before length), or T0 or C0 is 0.
    With equal periods and a large control this needs about 24 treated incidents before.

    Examples
    --------
    >>> too_small([10, 30], [200, 200]).tolist()
    [True, False]
    """
    t0, c0 = (np.atleast_1d(_arr(v)) for v in (t0, c0))
    r = 1.0 / float(after_scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(1 / t0 + 1 / (t0 * r * DETECTABLE_RATIO) + 1 / c0 + 1 / (c0 * r))
        small = ~(norm.ppf(0.975) * se <= -np.log(DETECTABLE_RATIO))
    return small | (t0 <= 0) | (c0 <= 0)
