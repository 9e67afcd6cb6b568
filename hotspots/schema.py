"""Canonical incident table, reject reasons and the error family.

Every reader in :mod:`hotspots.io` returns incidents in one canonical shape, so that
later stages never see a source's own column names.

Canonical incident columns
--------------------------
``incident_id`` : str
    The source's id (police.uk ``Crime ID``), or ``"<file>:<line>"`` where the source has
    none (police.uk ASB rows). Unique within a load.
``when`` : datetime64[ns]
    The start of the period the incident is known to: the first of the month for
    month-precision rows, the day or the minute otherwise. Never more precise than the data.
``precision`` : str
    ``"month"``, ``"day"`` or ``"minute"``: how much of ``when`` is real.
``category`` : str
    Harmonised category (police.uk ``Crime type`` wording).
``source`` : str
    Label of the input the row came from (``"police.uk"`` by default).
``location`` : str
    Free-text location (police.uk ``Location``), may be empty.
``x``, ``y`` : float
    Easting and northing in metres, EPSG:27700 (filled by :mod:`hotspots.geocode`).
``loc_precision_m`` : float
    How precise the point is: 0 for coordinates, a few hundred metres for a postcode
    centroid, more for a postcode sector.

Any further input columns pass through unchanged, after these.
"""

from __future__ import annotations

import math
from enum import StrEnum

CRS_METRIC = "EPSG:27700"
CRS_WGS84 = "EPSG:4326"

CANONICAL_COLUMNS: tuple[str, ...] = (
    "incident_id",
    "when",
    "precision",
    "category",
    "source",
    "location",
    "x",
    "y",
    "loc_precision_m",
)

#: Columns that may hold personal data or free text; dropped from published outputs
#: unless the user asks to keep them.
PERSONAL_COLUMN_HINTS: tuple[str, ...] = (
    "name",
    "person",
    "caller",
    "victim",
    "suspect",
    "address",
    "phone",
    "email",
    "dob",
    "description",
    "notes",
    "narrative",
    "comment",
    "free_text",
)


class Reason(StrEnum):
    """Reason codes for rejected rows (the ``reason`` column of ``rejects.csv``)."""

    NO_LOCATION = "no_location"
    BAD_COORDINATES = "bad_coordinates"
    NULL_ISLAND = "null_island"
    LATLON_SWAPPED = "latlon_swapped"
    OUTSIDE_UK = "outside_uk"
    OUTSIDE_STUDY_AREA = "outside_study_area"
    BAD_DATE = "bad_date"
    DUPLICATE_ID = "duplicate_id"
    UNKNOWN_POSTCODE = "unknown_postcode"
    BAD_POSTCODE = "bad_postcode"
    NO_CATEGORY = "no_category"
    OUT_OF_PERIOD = "out_of_period"
    FILTERED_CATEGORY = "filtered_category"


#: Longer explanations shown in summaries and the docs.
REASON_TEXT: dict[str, str] = {
    Reason.NO_LOCATION: "no coordinates or postcode",
    Reason.BAD_COORDINATES: "coordinates not numbers, infinite or out of range",
    Reason.NULL_ISLAND: "coordinates at (0, 0), a blank written as zero",
    Reason.LATLON_SWAPPED: "latitude and longitude swapped and not repairable",
    Reason.OUTSIDE_UK: "point outside Great Britain's national grid",
    Reason.OUTSIDE_STUDY_AREA: "point outside the study area (beyond the snapping tolerance)",
    Reason.BAD_DATE: "date or month missing or not a real date",
    Reason.DUPLICATE_ID: "id already seen in this source",
    Reason.UNKNOWN_POSTCODE: "postcode not in the lookup table",
    Reason.BAD_POSTCODE: "text that is not a UK postcode",
    Reason.NO_CATEGORY: "category missing",
    Reason.OUT_OF_PERIOD: "outside the requested period",
    Reason.FILTERED_CATEGORY: "category not among those requested",
}


class HotspotsError(Exception):
    """Base of every error a user can fix (bad file, column, value or option).

    The CLI prints the message and exits with status 2, without a traceback.
    """


class InputError(HotspotsError, ValueError):
    """Bad input data or options: names the file, column, row and value where known."""


class MissingFileError(HotspotsError, FileNotFoundError):
    """A named input file or folder does not exist."""


class CRSError(InputError):
    """A metric operation was given data in a geographic (degree) CRS."""


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


def positive_number(
    value: object, name: str, *, unit: str = "", at_most: float | None = None
) -> float:
    """``value`` as a float if it is a finite number above zero (and not above ``at_most``
    when given), else :class:`InputError`.

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
    if isinstance(value, bool):
        raise InputError(f"{name} must be {what}, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {what}, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(f"{name} must be {what}, got {value!r}")
    if at_most is not None and v > at_most:
        limit = f"{at_most:,g} {unit}".rstrip()
        raise InputError(f"{name} must be at most {limit}, got {value!r}")
    return v

