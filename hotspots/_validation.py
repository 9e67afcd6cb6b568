"""One set of argument checks for every stage, modelled on scikit-learn's ``check_scalar``.

Each check returns the value in its working type or raises :class:`InputError` (or
:class:`CRSError`) with a message that names the argument, the value and what was expected.
A stage validates its own public arguments with these, so the same rule reads the same
way everywhere: booleans are never numbers, whole numbers are whole, weights are finite
and non-negative, months are ``YYYY-MM``, and two CRSs are compared by what they mean.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

import numpy as np
import pandas as pd

from hotspots.schema import CRSError, InputError

__all__ = [
    "category_key",
    "check_scalar",
    "check_same_crs",
    "check_weights",
    "parse_month",
    "positive_number",
    "require_metric_crs",
    "whole_number",
]


def check_scalar(
    value: object,
    name: str,
    kind: type[int] | type[float],
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: str = "both",
    unit: str = "",
) -> int | float:
    """``value`` as ``kind`` if it is a number of that kind within the bounds, else
    :class:`InputError`.

    ``kind=int`` takes whole numbers only (``2.0`` is refused as a float, ``True`` as a
    boolean); ``kind=float`` takes any finite real number. ``include_boundaries`` is
    ``"both"``, ``"left"``, ``"right"`` or ``"neither"``, as in scikit-learn.

    Examples
    --------
    >>> check_scalar(3, "top_n", int, min_val=1)
    3
    >>> check_scalar(0.5, "quantile", float, min_val=0, max_val=1, include_boundaries="neither")
    0.5
    >>> check_scalar(True, "top_n", int, min_val=1)
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: top_n must be a whole number, got True
    >>> check_scalar(1.0, "quantile", float, min_val=0, max_val=1, include_boundaries="left")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: quantile must be below 1, got 1.0
    """
    what = "a whole number" if kind is int else "a number"
    if unit:
        what += f" of {unit}"
    v: int | float
    if isinstance(value, bool | np.bool_):
        raise InputError(f"{name} must be {what}, got {value!r}")
    if kind is int and isinstance(value, numbers.Integral):
        v = int(value)
    elif kind is not int and isinstance(value, numbers.Real):
        v = float(value)
    else:
        raise InputError(f"{name} must be {what}, got {value!r}")
    if kind is float and not math.isfinite(v):
        raise InputError(f"{name} must be {what}, got {value!r}")
    low_in = include_boundaries in ("both", "left")
    high_in = include_boundaries in ("both", "right")
    if include_boundaries not in ("both", "left", "right", "neither"):
        raise ValueError(f"include_boundaries={include_boundaries!r}")
    if min_val is not None and (v < min_val or (v == min_val and not low_in)):
        word = "at least" if low_in else "above"
        raise InputError(f"{name} must be {word} {min_val:g}, got {value!r}")
    if max_val is not None and (v > max_val or (v == max_val and not high_in)):
        word = "at most" if high_in else "below"
        raise InputError(f"{name} must be {word} {max_val:g}, got {value!r}")
    return v


def whole_number(value: object, name: str, *, minimum: int = 1, unit: str = "") -> int:
    """``value`` as an int if it is a whole number ``>= minimum`` (never a boolean).

    Examples
    --------
    >>> whole_number(np.int64(4), "train_months", unit="months")
    4
    >>> whole_number(0, "train_months", unit="months")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: train_months must be at least 1, got 0
    """
    return int(check_scalar(value, name, int, min_val=minimum, unit=unit))


def positive_number(
    value: object, name: str, *, unit: str = "", at_most: float | None = None
) -> float:
    """``value`` as a float if it is a finite number above zero (and not above ``at_most``
    when given), else :class:`InputError`. Numeric text (``"250"``) is accepted, because
    values arrive from CLI flags and TOML; booleans are not.

    ``unit`` names what it counts in the message ("metres").

    Examples
    --------
    >>> positive_number("250", "bandwidth_m", unit="metres")
    250.0
    >>> positive_number(0, "bandwidth_m", unit="metres")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: bandwidth_m must be a positive number of metres, got 0
    >>> positive_number(1e12, "bandwidth_m", unit="metres", at_most=100_000)
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: bandwidth_m must be at most 100,000 metres, got 1000000000000.0
    """
    what = f"a positive number of {unit}" if unit else "a positive number"
    if isinstance(value, bool | np.bool_):
        raise InputError(f"{name} must be {what}, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]  # any float()-able value is welcome
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {what}, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be {what}, got {value!r}")
    if at_most is not None and v > at_most:
        limit = f"{at_most:,g} {unit}".rstrip()
        raise InputError(f"{name} must be at most {limit}, got {value!r}")
    return v


def check_weights(
    weights: Any, n: int, *, frame: Any = None, name: str = "weights", positive_sum: bool = False
) -> np.ndarray:
    """One finite, non-negative float per incident (all ones when ``weights`` is None).

    ``weights`` may be an array, or the name of a column of ``frame``. ``positive_sum``
    also refuses weights that add up to zero (nothing to estimate from).

    Examples
    --------
    >>> check_weights(None, 2).tolist()
    [1.0, 1.0]
    >>> check_weights("w", 2, frame=pd.DataFrame({"w": [0.5, 2]})).tolist()
    [0.5, 2.0]
    >>> check_weights([1, -1], 2)
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: weights must be finite and >= 0; row 1 is -1.0
    """
    if weights is None:
        return np.ones(n)
    if isinstance(weights, str):
        if not isinstance(frame, pd.DataFrame) or weights not in frame.columns:
            raise InputError(f"{name}={weights!r} is not a column of the incidents")
        weights = frame[weights]
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numbers: {exc}") from None
    if w.shape != (n,):
        raise InputError(f"{name} must have one value per incident ({n}), got shape {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise InputError(f"{name} must be finite and >= 0; row {bad[0]} is {w[bad[0]]!r}")
    if positive_sum and w.sum() <= 0:
        raise InputError(f"{name} sum to zero: there is nothing to estimate a density from")
    return w


def require_metric_crs(crs: object, what: str) -> None:
    """Raise :class:`CRSError` unless ``crs`` is projected in metres.

    Parameters
    ----------
    crs
        Anything :class:`pyproj.CRS` accepts, or ``None``.
    what
        Name of the argument, for the message.

    Examples
    --------
    >>> require_metric_crs("EPSG:27700", "points")
    >>> require_metric_crs("EPSG:4326", "points")
    Traceback (most recent call last):
    ...
    hotspots.schema.CRSError: points is in EPSG:4326 (geographic, degrees) but this needs ...
    """
    from pyproj import CRS

    if crs is None:
        raise CRSError(f"{what} has no CRS; set one (e.g. gdf.set_crs(27700)) before metric work")
    c = CRS.from_user_input(crs)
    if c.is_geographic or not c.axis_info or c.axis_info[0].unit_name not in ("metre", "meter"):
        code = c.to_string()
        raise CRSError(
            f"{what} is in {code} (geographic, degrees) but this needs metres; "
            "reproject first, e.g. gdf.to_crs(27700)"
        )


def check_same_crs(crs: object, other: object, what: str, other_what: str) -> None:
    """Raise :class:`CRSError` when two CRSs differ in meaning (``None`` is unknown: passes).

    Compared with :meth:`pyproj.CRS.equals`, so ``"EPSG:27700"`` and its WKT are the same.

    Examples
    --------
    >>> check_same_crs("EPSG:27700", "epsg:27700", "points", "grid")
    >>> check_same_crs("EPSG:27700", "EPSG:32630", "points", "grid")
    Traceback (most recent call last):
    ...
    hotspots.schema.CRSError: points are in EPSG:27700 but grid is in EPSG:32630; ...
    """
    if crs is None or other is None:
        return
    from pyproj import CRS

    a, b = CRS.from_user_input(crs), CRS.from_user_input(other)
    if not a.equals(b):
        raise CRSError(
            f"{what} are in {a.to_string()} but {other_what} is in {b.to_string()}; "
            f"reproject one, e.g. .to_crs({b.to_string()!r})"
        )


_MONTH = re.compile(r"\d{4}-\d{2}")


def parse_month(text: object, name: str) -> pd.Timestamp:
    """The first day of the month ``text`` (``YYYY-MM``), else :class:`InputError`.

    Examples
    --------
    >>> parse_month("2025-06", "--from")
    Timestamp('2025-06-01 00:00:00')
    >>> parse_month("June", "--from")
    Traceback (most recent call last):
    ...
    hotspots.schema.InputError: --from 'June' is not a month like 2025-06
    """
    ts = pd.NaT
    if isinstance(text, str) and _MONTH.fullmatch(text.strip()):
        ts = pd.to_datetime(text.strip(), format="%Y-%m", errors="coerce")
    if pd.isna(ts):
        raise InputError(f"{name} {text!r} is not a month like 2025-06")
    return ts


_SPACES = re.compile(r"[\s_]+")


def category_key(text: object) -> str:
    """The comparison key of a category name: trimmed, lower-cased, spacing collapsed.

    Every place that matches a user's category against the data uses this, so
    ``"Anti-Social  Behaviour"`` finds ``"Anti-social behaviour"`` everywhere.

    Examples
    --------
    >>> category_key("  Anti-Social   Behaviour ")
    'anti-social behaviour'
    """
    return _SPACES.sub(" ", str(text)).strip().lower()
