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
