"""A synthetic police/council export pair built from real police.uk rows (demo and test aid).

It imitates what a community safety partnership holds: the police case system (every
incident, a day-precision date, exact easting/northing) and a council ASB system that
re-reports a share of the ASB and criminal damage incidents -- located only by the postcode
centroid nearest the incident, dated the same day or a few days later, in council wording
-- plus council-only incidents, placed where real incidents happen and located the same
way. ``truth`` says which council record re-reports which police record, so linkage can be
scored (:func:`score_links`).

Nothing here reads or writes files: write :attr:`PartnerExports.files` yourself, e.g.
``for rel, table in pair.files.items(): table.to_csv(folder / rel, index=False)``, and
save :attr:`PartnerExports.config_toml` beside them as ``hotspots.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from hotspots.geocode import PostcodeIndex
from hotspots.schema import InputError

#: Council ASB-system wording -> common (police.uk) category, as an [inputs.categories] table.
COUNCIL_CATEGORIES: dict[str, str] = {
    "Youth nuisance": "Anti-social behaviour",
    "Noise": "Anti-social behaviour",
    "Neighbour dispute": "Anti-social behaviour",
    "Drunken behaviour": "Anti-social behaviour",
    "Fly tipping": "Anti-social behaviour",
    "Graffiti": "Criminal damage and arson",
    "Vandalism": "Criminal damage and arson",
}
POLICE_FILE = "exports/police_cases.csv"
COUNCIL_FILE = "exports/council_asb.csv"
_WORDING = {
    common: [k for k, v in COUNCIL_CATEGORIES.items() if v == common]
    for common in sorted(set(COUNCIL_CATEGORIES.values()))
}


@dataclass(frozen=True)
class PartnerExports:
    """The two exports, the truth and a run configuration for them.

    Attributes
    ----------
    police_cases
        ``Case Ref``, ``Date Reported`` (dd/mm/yyyy), ``Offence``, ``Easting``, ``Northing``.
    council
        ``Case Ref``, ``Date Reported``, ``ASB Type``, ``Postcode``, ``Caller ID`` (blank for
        anonymous reports), ``Risk Level``.
    truth
        One row per council re-report: ``council_ref``, ``police_ref`` and ``police_uk_id``
        (the ``incident_id`` of the police.uk row both came from).
    config_toml
        ``[[inputs]]`` tables that load both files (paths relative to the config file).
    """

    police_cases: pd.DataFrame
    council: pd.DataFrame
    truth: pd.DataFrame
    config_toml: str

    @property
    def files(self) -> dict[str, pd.DataFrame]:
        """Relative path -> table, in the folder layout an analyst would have."""
        return {POLICE_FILE: self.police_cases, COUNCIL_FILE: self.council}


def synthetic_partner_exports(
    police_uk: pd.DataFrame,
    postcodes: PostcodeIndex,
    *,
    share: float = 0.3,
    council_only: float = 0.5,
    max_delay_days: int = 3,
    late_share: float = 0.0,
    near_m: float = 0.0,
    max_postcode_m: float = 1000.0,
    postcode_within_m: float = 0.0,
    seed: int = 0,
) -> PartnerExports:
    """Build a police case export and a council ASB export from real police.uk incidents.

    Parameters
    ----------
    police_uk
        Located police.uk incidents (``_row``, ``incident_id``, ``when``, ``category``,
        ``x``, ``y``), e.g. from :func:`hotspots.io.load_incidents` then
        :func:`hotspots.geocode.locate_incidents`.
    postcodes
        Postcode centroids; council records are located by these only.
    share
        Fraction of the ASB and criminal damage incidents the council also records.
    council_only
        Council-only incidents, as a multiple of the re-reports.
    max_delay_days
        A re-report is dated 0 to this many days after the police record, at random.
    late_share
        Share of re-reports logged later still: ``max_delay_days + 1`` to ``2 *
        max_delay_days + 1`` days after (a weekend, a backlog).
    near_m
        0: a council-only incident is at the postcode nearest the point of a random real
        ASB or criminal damage incident -- where real incidents happen, located as the
        re-reports are. Above 0: at a random postcode within this distance of that point
        (spread out, so fewer coincide with police records).
    max_postcode_m
        Incidents with no postcode centroid this close (outside the table's postcode
        area) are never re-reported: the council would have located them by a postcode
        the table lacks.
    postcode_within_m
        0: a re-report is located at the postcode centroid nearest the incident. Above 0:
        at a random postcode centroid within this distance of it (the caller's postcode
        is not the nearest centroid: a postcode's addresses spread over tens to hundreds
        of metres); incidents with no centroid this close are not re-reported. Pass the
        same ``near_m`` to place council-only reports the same way.
    seed
        Random seed; the same inputs and seed give identical exports.
    """
    if not 0 <= share <= 1:
        raise InputError(f"share must be between 0 and 1, got {share!r}")
    if not 0 <= late_share <= 1:
        raise InputError(f"late_share must be between 0 and 1, got {late_share!r}")
    if (
        council_only < 0
        or max_delay_days < 0
        or near_m < 0
        or postcode_within_m < 0
        or max_postcode_m <= 0
    ):
        raise InputError(
            "council_only, max_delay_days, near_m and postcode_within_m must be >= 0, "
            f"max_postcode_m > 0; got {council_only!r}, {max_delay_days!r}, {near_m!r}, "
            f"{postcode_within_m!r}, {max_postcode_m!r}"
        )
    rng = np.random.default_rng(seed)
    inc = police_uk.sort_values("_row", kind="stable").reset_index(drop=True)
    month = inc["when"].to_numpy().astype("datetime64[M]")
    length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")).astype(int)
    day = month.astype("datetime64[D]") + rng.integers(0, length)
    police = pd.DataFrame(
        {
            "day": day,
            "Offence": inc["category"].astype(str).to_numpy(),
            "Easting": np.round(inc["x"].to_numpy()).astype(np.int64),
            "Northing": np.round(inc["y"].to_numpy()).astype(np.int64),
            "police_uk_id": inc["incident_id"].astype(str).to_numpy(),
        }
    )
    police = police.sort_values(["day"], kind="stable").reset_index(drop=True)
    police.insert(0, "Case Ref", [f"PC-{i:07d}" for i in range(1, len(police) + 1)])

    police_day = police["day"].to_numpy().astype("datetime64[D]")
    pc_names = postcodes.full.index.to_numpy()
    pc_xy = postcodes.full[["x", "y"]].to_numpy(float)
    tree = cKDTree(pc_xy)
    xy = police[["Easting", "Northing"]].to_numpy(float)
    near_d, near_i = tree.query(xy)
    reach = min(max_postcode_m, postcode_within_m) if postcode_within_m > 0 else max_postcode_m
    eligible = np.flatnonzero(police["Offence"].isin(list(_WORDING)).to_numpy() & (near_d <= reach))
    chosen = np.sort(rng.choice(eligible, size=round(share * len(eligible)), replace=False))
    delay = rng.integers(0, max_delay_days + 1, len(chosen))
    late = rng.random(len(chosen)) < late_share
    delay[late] = rng.integers(max_delay_days + 1, 2 * max_delay_days + 2, int(late.sum()))
    located = near_i[chosen]
    if postcode_within_m > 0:
        hoods = tree.query_ball_point(xy[chosen], postcode_within_m)
        located = np.array([sorted(h)[rng.integers(len(h))] for h in hoods], dtype=np.int64)
    rereport = pd.DataFrame(
        {
            "day": police_day[chosen] + delay,
            "common": police["Offence"].to_numpy()[chosen],
            "Postcode": pc_names[located],
            "police_ref": police["Case Ref"].to_numpy()[chosen],
            "police_uk_id": police["police_uk_id"].to_numpy()[chosen],
        }
    )
    # Council-only incidents happen where real incidents happen: at the point of one real
    # ASB or criminal damage incident, on the date of another (real seasonality, no tie to
    # that place's own incidents), located like the re-reports.
    n_only = round(council_only * len(chosen))
    place = rng.choice(eligible, size=n_only, replace=True)
    only_day = police_day[rng.choice(eligible, size=n_only, replace=True)]
    pick = near_i[place]
    if near_m > 0:
        hoods = tree.query_ball_point(xy[place], near_m)
        pick = np.array(
            [h[rng.integers(len(h))] if h else i for h, i in zip(hoods, pick, strict=True)],
            dtype=np.int64,
        )
    only = pd.DataFrame(
        {
            "day": only_day,
            "common": police["Offence"].to_numpy()[place],
            "Postcode": pc_names[pick],
            "police_ref": "",
            "police_uk_id": "",
        }
    )
    council = _council_table(pd.concat([rereport, only], ignore_index=True), rng)
    truth = council.loc[council["police_ref"] != "", ["Case Ref", "police_ref", "police_uk_id"]]
    truth = truth.rename(columns={"Case Ref": "council_ref"}).reset_index(drop=True)
    police["Date Reported"] = pd.DatetimeIndex(police["day"]).strftime("%d/%m/%Y")
    police = police[["Case Ref", "Date Reported", "Offence", "Easting", "Northing"]]
    council = council[
        ["Case Ref", "Date Reported", "ASB Type", "Postcode", "Caller ID", "Risk Level"]
    ]
    return PartnerExports(police, council, truth, partner_config_toml())


def _council_table(rows: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Council wording, case refs, callers (repeats at one postcode) and risk levels."""
    rows = rows.sort_values(["day", "Postcode"], kind="stable").reset_index(drop=True)
    rows["Case Ref"] = [f"ASB-{i:06d}" for i in range(1, len(rows) + 1)]
    rows["Date Reported"] = pd.DatetimeIndex(rows["day"]).strftime("%d/%m/%Y")
    rows["ASB Type"] = [opts[rng.integers(len(opts))] for opts in rows["common"].map(_WORDING)]
    # Postcodes as typed: some without the space, some in lower case.
    style = rng.random(len(rows))
    pcs = rows["Postcode"].astype(str)
    rows["Postcode"] = np.where(
        style < 0.1, pcs.str.replace(" ", ""), np.where(style < 0.15, pcs.str.lower(), pcs)
    )
    # Half of the reports from a postcode come from one resident there; 10% are anonymous.
    per_pc = pd.factorize(pcs, sort=True)[0]
    resident = rng.random(len(rows)) < 0.5
    caller = np.where(resident, per_pc, len(pcs) + np.arange(len(rows)))
    codes = pd.factorize(caller)[0]
    ids = pd.Series([f"C{c:06d}" for c in codes])
    rows["Caller ID"] = ids.where(rng.random(len(rows)) >= 0.1, "").to_numpy()
    rows["Risk Level"] = rng.choice(["Standard", "Medium", "High"], len(rows), p=[0.7, 0.2, 0.1])
    return rows


def partner_config_toml(police: str = POLICE_FILE, council: str = COUNCIL_FILE) -> str:
    """``[[inputs]]`` tables for the two exports (see ``docs/partnership.md``).

    Examples
    --------
    >>> import tomllib
    >>> cfg = tomllib.loads(partner_config_toml())
    >>> [(i["source"], i["columns"]["date"]) for i in cfg["inputs"]]
    [('council', 'Date Reported'), ('police_cases', 'Date Reported')]
    """
    lines = [
        "[[inputs]]",
        f'path = "{council}"',
        'source = "council"',
        "[inputs.columns]",
        'id = "Case Ref"',
        'date = "Date Reported"',
        'category = "ASB Type"',
        'postcode = "Postcode"',
        "[inputs.categories]",
    ]
    lines += [f'"{k}" = "{v}"' for k, v in COUNCIL_CATEGORIES.items()]
    lines += [
        "",
        "[[inputs]]",
        f'path = "{police}"',
        'source = "police_cases"',
        "[inputs.columns]",
        'id = "Case Ref"',
        'date = "Date Reported"',
        'category = "Offence"',
        'easting = "Easting"',
        'northing = "Northing"',
    ]
    return "\n".join(lines) + "\n"


def score_links(
    links: pd.DataFrame,
    incidents: pd.DataFrame,
    truth: set[tuple[str, str]],
    *,
    police_source: str,
    council_source: str = "council",
) -> dict[str, float]:
    """Precision and recall of duplicate links against the known pairs, four ways.

    ``truth`` holds (police id, council id) pairs: ``police_ref`` or ``police_uk_id`` with
    ``council_ref`` from :attr:`PartnerExports.truth`. ``incidents`` are the located
    records that were linked (for the places, dates and categories of the police records).

    * ``precision`` / ``recall``: the exact partner was linked.
    * ``twin_precision`` / ``twin_recall``: the partner or a twin was linked -- a police
      record identical to it in everything the linker sees (point, category, and date at
      the record's precision: the day, or the month for police.uk rows).
    * ``place_precision`` / ``place_recall``: the partner or a look-alike was linked -- a
      police record of the same category at the same point, on any date inside the
      window; it changes no count, density, ranking or repeat location.
    * ``record_precision`` / ``record_recall``: the right council records were merged as
      duplicates, whatever they were merged with (what the counts depend on).

    Examples
    --------
    >>> inc = pd.DataFrame({"source": "p", "incident_id": ["P1", "P2", "P3"],
    ...     "x": [0.0, 0.0, 0.0], "y": [0.0, 0.0, 0.0], "category": "ASB",
    ...     "when": pd.to_datetime(["2025-06-01", "2025-06-01", "2025-06-02"])})
    >>> links = pd.DataFrame({"group": [1, 1, 2, 2], "source": ["p", "c", "p", "c"],
    ...     "id": ["P2", "C1", "P3", "C2"], "kept": [True, False, True, False]})
    >>> s = score_links(links, inc, {("P1", "C1"), ("P2", "C2")}, police_source="p",
    ...                 council_source="c")
    >>> [s[k] for k in ("precision", "twin_precision", "place_precision", "record_precision")]
    [0.0, 0.5, 1.0, 1.0]
    """
    wide = links.pivot_table(index="group", columns="source", values="id", aggfunc="first")
    pairs = (
        set(zip(wide[police_source], wide[council_source], strict=True))
        if police_source in wide and council_source in wide
        else set()
    )
    pairs = {(p, c) for p, c in pairs if isinstance(p, str) and isinstance(c, str)}
    partner = {c: p for p, c in truth}
    police = incidents[incidents["source"] == police_source].set_index("incident_id")
    place = dict(
        zip(
            police.index,
            zip(police["x"].round(1), police["y"].round(1), police["category"], strict=True),
            strict=True,
        )
    )
    when = dict(zip(police.index, police["when"], strict=True))

    def alike(p: str, c: str) -> bool:
        return c in partner and place.get(partner[c]) == place.get(p)

    exact = sum(partner.get(c) == p for p, c in pairs)
    twin = sum(alike(p, c) and when.get(partner[c]) == when.get(p) for p, c in pairs)
    look = sum(alike(p, c) for p, c in pairs)
    merged = set(links.loc[(links["source"] == council_source) & ~links["kept"], "id"])
    right = len(merged & set(partner))
    n_links, n_true = max(len(pairs), 1), max(len(truth), 1)
    return {
        "links": len(pairs),
        "true": len(truth),
        "precision": exact / n_links,
        "recall": exact / n_true,
        "twin_precision": twin / n_links,
        "twin_recall": twin / n_true,
        "place_precision": look / n_links,
        "place_recall": look / n_true,
        "record_precision": right / max(len(merged), 1),
        "record_recall": right / n_true,
    }
