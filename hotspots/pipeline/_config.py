"""The run configuration: frozen sections that mirror the TOML file, validated once.

``RunConfig`` holds the inputs, the areas and one frozen section per TOML table
(``[filter]``, ``[grid]``, ``[density]``, ``[hotspots]``, ``[repeats]``, ``[assign]``,
``[duplicates]``, ``[callers]``, ``[population]``, ``[patrol]``, ``[output]``). A section's
field names are its TOML keys (``[filter] from``/``to`` are ``month_from``/``month_to``).
Every section checks its values in ``__post_init__``, so a configuration is valid however it
is built: from TOML (:func:`load_config`), from CLI flags, or in Python::

    RunConfig(inputs=[InputSpec.police_uk("downloads/")],
              filter=FilterConfig(last_months=12),
              output=OutputConfig(dir="outputs"))

No field defaults to a force: with no ``areas`` the run uses the rows' own LSOAs,
districts and force (:mod:`hotspots.data_areas`). See ``docs/config.md`` for every key.
Units are metres (``*_m``) and hours (``*_h``); months are ``YYYY-MM``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from hotspots._validation import check_scalar, parse_month, positive_number
from hotspots.density import BANDWIDTH_RULES, KERNELS
from hotspots.io import EMBEDDED_POLICE_UK, ColumnMapping, InputSpec
from hotspots.rank import RANK_SCORES
from hotspots.schema import InputError, MissingFileError

EMBEDDED_INCIDENTS = EMBEDDED_POLICE_UK
POLICE_UK_ATTRIBUTION = (
    "Crime data: data.police.uk, contains public sector information licensed under the "
    "Open Government Licence v3.0."
)

Check = Callable[[Any, str], Any]


# ------------------------------------------------------------------ value checks
# Each returns the value in its stored form (lists become tuples: sections are frozen) or
# raises InputError naming ``key`` ("[hotspots] top_n") and the value.


def _optional(check: Check) -> Check:
    def optional(value: Any, key: str) -> Any:
        return None if value is None else check(value, key)

    return optional


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{key} = {value!r}: expected true or false")
    return value


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{key} = {value!r}: expected text")
    return value


def _texts(value: Any, key: str) -> tuple[str, ...]:
    """A list of text (one text alone is a list of one, not its letters)."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise InputError(f"{key} = {value!r}: expected a list of text")
    return tuple(values)


def _whole(minimum: int, maximum: int | None = None) -> Check:
    def whole(value: Any, key: str) -> int:
        return int(check_scalar(value, key, int, min_val=minimum, max_val=maximum))

    return whole


def _number(low: float | None = None, high: float | None = None, bounds: str = "both") -> Check:
    def number(value: Any, key: str) -> float:
        return float(
            check_scalar(value, key, float, min_val=low, max_val=high, include_boundaries=bounds)
        )

    return number


def _positive(unit: str = "") -> Check:
    def positive(value: Any, key: str) -> float:
        if isinstance(value, str):  # numbers only, not numeric text, in TOML and Python
            raise InputError(f"{key} = {value!r}: expected a number above 0")
        return positive_number(value, key, unit=unit)

    return positive


def _choice(options: tuple[str, ...]) -> Check:
    def choice(value: Any, key: str) -> str:
        if value not in options:
            raise InputError(f"{key} = {value!r}: expected one of {', '.join(options)}")
        return value

    return choice


def _month(value: Any, key: str) -> str:
    parse_month(value, key)
    return value.strip()


def _key(
    check: Check,
    default: Any,
    *,
    toml: str | None = None,
    flag: str | None = None,
    dest: str | None = None,
) -> Any:
    """A section field: its default, its check, its TOML key when it differs from the field
    name, and the CLI flag that sets it (``dest``: the flag's argparse name when it is not
    the field name)."""
    meta = {"check": check, "toml": toml, "flag": flag, "dest": dest}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class _Section:
    """A TOML table: fields are its keys; ``__post_init__`` checks and normalises them."""

    section: ClassVar[str]

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(
                self, f.name, f.metadata["check"](getattr(self, f.name), self.key_name(f.name))
            )

    @classmethod
    def key_name(cls, name: str) -> str:
        """How messages name a field: its flag and TOML key, e.g. ``--top-n ([hotspots] top_n)``."""
        meta = next(f.metadata for f in dataclasses.fields(cls) if f.name == name)
        key = f"[{cls.section}] {meta['toml'] or name}"
        return f"{meta['flag']} ({key})" if meta["flag"] else key

    @classmethod
    def toml_keys(cls) -> dict[str, str]:
        """TOML key → field name."""
        return {f.metadata["toml"] or f.name: f.name for f in dataclasses.fields(cls)}

    @classmethod
    def from_toml(cls, values: Any, where: str) -> _Section:
        """The section from its TOML table; unknown keys are errors naming them."""
        if not isinstance(values, dict):
            raise InputError(f"{where}: [{cls.section}] must be a table of keys, got {values!r}")
        keys = cls.toml_keys()
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise InputError(
                f"{where}: unknown key(s) {unknown} in [{cls.section}]; "
                f"expected some of {sorted(keys)}"
            )
        return cls(**{keys[k]: v for k, v in values.items()})

    def to_toml(self) -> dict[str, Any]:
        """The section as its TOML table (lists for tuples)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.metadata["toml"] or f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True, kw_only=True)
class FilterConfig(_Section):
    """``[filter]``: which rows a run uses."""

    section: ClassVar[str] = "filter"
    #: harmonised categories to keep (case- and space-insensitive); None: all
    categories: tuple[str, ...] | None = _key(
        _optional(_texts), None, flag="--category", dest="category"
    )
    month_from: str | None = _key(
        _optional(_month), None, toml="from", flag="--from", dest="month_from"
    )
    month_to: str | None = _key(_optional(_month), None, toml="to", flag="--to", dest="month_to")
    #: the latest N months (0 or None: every month)
    last_months: int | None = _key(_optional(_whole(0)), None, flag="--last-months")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.month_from and self.month_to and self.month_from > self.month_to:
            raise InputError(f"--from {self.month_from} is after --to {self.month_to}")

    def period(
        self, latest: pd.Timestamp | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Inclusive (start, end) from ``from``/``to``, or the last N months to ``latest``.

        Examples
        --------
        >>> FilterConfig(month_from="2025-01", month_to="2025-03").period()
        (Timestamp('2025-01-01 00:00:00'), Timestamp('2025-03-31 23:59:59'))
        >>> FilterConfig(last_months=2).period(pd.Timestamp("2025-06-01"))[0]
        Timestamp('2025-05-01 00:00:00')
        """
        start = pd.Timestamp(self.month_from) if self.month_from else None  # checked: YYYY-MM
        end = pd.Timestamp(self.month_to) if self.month_to else None
        if self.last_months and latest is not None and start is None:
            end = end or latest
            start = end - pd.DateOffset(months=self.last_months - 1)
        if start is None and end is None:
            return None
        start = start or pd.Timestamp("1990-01-01")
        end = (end or pd.Timestamp("2100-01-01")) + pd.offsets.MonthEnd(0)
        return start, end + pd.Timedelta("23:59:59")


@dataclass(frozen=True, kw_only=True)
class GridConfig(_Section):
    """``[grid]``: the analysis grid (None: automatic, reported with its rule)."""

    section: ClassVar[str] = "grid"
    cell_size_m: float | None = _key(_optional(_positive("metres")), None, flag="--cell-size-m")


@dataclass(frozen=True, kw_only=True)
class DensityConfig(_Section):
    """``[density]``: the kernel density surface (docs/density.md)."""

    section: ClassVar[str] = "density"
    bandwidth_m: float | None = _key(_optional(_positive("metres")), None, flag="--bandwidth-m")
    kernel: str = _key(_choice(KERNELS), "quartic", flag="--kernel")
    bandwidth_rule: str = _key(_choice(BANDWIDTH_RULES), "arcgis")


@dataclass(frozen=True, kw_only=True)
class HotspotsConfig(_Section):
    """``[hotspots]``: finding and ranking hotspots (docs/hotspots.md).

    Hotspots are cells in the top ``1 - quantile`` of scored cells (score > 0), merged
    with their 8 neighbours and cut into micro-places of at most ``max_area_m2`` and a
    ``max_extent_m`` box (one foot patrol's beat); those with fewer than
    ``min_incidents`` incidents are dropped.
    """

    section: ClassVar[str] = "hotspots"
    quantile: float = _key(_number(0, 1, "neither"), 0.995)
    min_incidents: int = _key(_whole(1), 5)
    top_n: int = _key(_whole(1), 20, flag="--top-n")
    max_area_share: float | None = _key(_optional(_number(0, 1, "right")), None)
    rank_by: str = _key(_choice(RANK_SCORES), "concentration")
    max_area_m2: float = _key(_positive("square metres"), 100_000.0)
    max_extent_m: float = _key(_positive("metres"), 300.0)
    #: artefact hotspots (one snap point, custody, hospital) ranked last, never patrolled
    exclude_artefacts: bool = _key(_bool, False, flag="--exclude-artefacts")
    #: per-incident harm weight column: weighted density, the "harm" ranking
    harm_column: str | None = _key(_optional(_text), None, flag="--harm-column")
    gistar_permutations: int = _key(_whole(0), 0)


@dataclass(frozen=True, kw_only=True)
class RepeatsConfig(_Section):
    """``[repeats]``: repeat locations, ``min_incidents`` in any ``window_months``."""

    section: ClassVar[str] = "repeats"
    min_incidents: int = _key(_whole(2), 3)
    window_months: int = _key(_whole(1), 6)


@dataclass(frozen=True, kw_only=True)
class AssignConfig(_Section):
    """``[assign]``: incidents to areas."""

    section: ClassVar[str] = "assign"
    #: nearest area for points this far outside every polygon
    tolerance_m: float = _key(_number(0), 100.0)
    #: run even when most rows fall outside the areas given
    allow_outside: bool = _key(_bool, False, flag="--allow-outside")


@dataclass(frozen=True, kw_only=True)
class DuplicatesConfig(_Section):
    """``[duplicates]``: one incident reported by several sources (docs/partnership.md)."""

    section: ClassVar[str] = "duplicates"
    enabled: bool = _key(_bool, True)
    window_days: int = _key(_whole(0), 7)
    source_priority: tuple[str, ...] | None = _key(_optional(_texts), None)


@dataclass(frozen=True, kw_only=True)
class CallersConfig(_Section):
    """``[callers]``: repeat callers or victims from a person id column (used only to count)."""

    section: ClassVar[str] = "callers"
    person_column: str | None = _key(_optional(_text), None)
    min_incidents: int = _key(_whole(2), 3)
    window_months: int = _key(_whole(1), 12)


@dataclass(frozen=True, kw_only=True)
class PopulationConfig(_Section):
    """``[population]``: rates per 1,000 residents (default: shipped Census 2011 LSOAs)."""

    section: ClassVar[str] = "population"
    enabled: bool = _key(_bool, True)
    file: str | None = _key(_optional(_text), None)
    layer: str | None = _key(_optional(_text), None)
    id_field: str = _key(_text, "lsoa11_code")
    residents_field: str = _key(_text, "all_usual_residents")


@dataclass(frozen=True, kw_only=True)
class PatrolConfig(_Section):
    """``[patrol]``: the patrol plan (docs/patrol.md).

    Koper (1995): 15-minute visits about every 2 h in a 4-hour peak window, 7 days a
    week; ``hours``: a weekly budget shared by score.
    """

    section: ClassVar[str] = "patrol"
    minutes_per_visit: float = _key(_number(0, 24 * 60, "right"), 15.0)
    visit_interval_h: float = _key(_number(0, 24 * 7, "right"), 2.0)
    peak_window_h: int = _key(_whole(1, 24), 4)
    days_per_week: int = _key(_whole(1, 7), 7)
    hours: float | None = _key(
        _optional(_positive("hours a week")), None, flag="--patrol-hours", dest="patrol_hours"
    )


@dataclass(frozen=True, kw_only=True)
class OutputConfig(_Section):
    """``[output]``: what is written, and for whom."""

    section: ClassVar[str] = "output"
    dir: str = _key(_text, "outputs", flag="--out", dest="out")
    title: str = _key(_text, "Hotspot patrol map", flag="--title")
    keep_personal: bool = _key(_bool, False)
    #: CSV text cells starting = + - @ tab CR get a leading ' (OWASP CSV injection)
    formula_guard: bool = _key(_bool, True, flag="--no-formula-guard", dest="formula_guard")
    #: disclosure control: counts 1 to min_count - 1 are hidden
    min_count: int = _key(_whole(0), 0, flag="--min-count")
    #: OpenStreetMap street tiles (fetched when the map opens; it works without them)
    online_tiles: bool = _key(_bool, True)
    #: no tile URL in the page at all
    offline_map: bool = _key(_bool, False, flag="--offline-map")
    briefings: bool = _key(_bool, True)
    #: e.g. "npa": also one map per NPA in maps/
    map_per_area: str | None = _key(_optional(_text), None, flag="--map-per-area")


_SECTIONS: tuple[type[_Section], ...] = (
    FilterConfig,
    GridConfig,
    DensityConfig,
    HotspotsConfig,
    RepeatsConfig,
    AssignConfig,
    DuplicatesConfig,
    CallersConfig,
    PopulationConfig,
    PatrolConfig,
    OutputConfig,
)
AreaSource = tuple[str, Mapping[str, str]]


def cli_flags() -> dict[str, tuple[str, str]]:
    """argparse name of each CLI flag that sets a key → (section, field name).

    Examples
    --------
    >>> cli_flags()["top_n"], cli_flags()["out"]
    (('hotspots', 'top_n'), ('output', 'dir'))
    """
    return {
        f.metadata["dest"] or f.name: (cls.section, f.name)
        for cls in _SECTIONS
        for f in dataclasses.fields(cls)
        if f.metadata["flag"]
    }


def _inputs(value: Iterable[InputSpec]) -> tuple[InputSpec, ...]:
    specs = tuple(value)
    bad = [s for s in specs if not isinstance(s, InputSpec)]
    if bad:
        raise InputError(f"inputs must be InputSpec values, got {bad[0]!r}"[:300])
    return specs


def _areas(value: Iterable[Any]) -> tuple[AreaSource, ...]:
    out = []
    for item in value:
        try:
            path, fields = item
        except (TypeError, ValueError):
            raise InputError(
                f"areas: each is (path, {{layer: field}}), got {item!r}"[:300]
            ) from None
        out.append((_text(str(path), "areas path"), dict(_mapping(fields or {}, "areas fields"))))
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Everything a run needs: inputs, areas and one frozen section per TOML table.

    Values left ``None`` are chosen automatically by documented rules and reported in the
    log and ``run.json``. Lists given for ``inputs`` and ``areas`` are stored as tuples.
    """

    inputs: tuple[InputSpec, ...] = ()
    #: (registry name or file, {layer: name field}); none: the rows' own LSOAs, districts
    #: and force (hotspots.data_areas)
    areas: tuple[AreaSource, ...] = ()
    postcodes: str | None = None
    filter: FilterConfig = field(default_factory=FilterConfig)
    grid: GridConfig = field(default_factory=GridConfig)
    density: DensityConfig = field(default_factory=DensityConfig)
    hotspots: HotspotsConfig = field(default_factory=HotspotsConfig)
    repeats: RepeatsConfig = field(default_factory=RepeatsConfig)
    assign: AssignConfig = field(default_factory=AssignConfig)
    duplicates: DuplicatesConfig = field(default_factory=DuplicatesConfig)
    callers: CallersConfig = field(default_factory=CallersConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    patrol: PatrolConfig = field(default_factory=PatrolConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", _inputs(self.inputs))
        object.__setattr__(self, "areas", _areas(self.areas))
        if self.postcodes is not None:
            _text(self.postcodes, "postcodes")
        for cls in _SECTIONS:
            if not isinstance(getattr(self, cls.section), cls):
                raise InputError(
                    f"{cls.section} must be a {cls.__name__}, got {getattr(self, cls.section)!r}"[
                        :300
                    ]
                )

    def updated(self, **changes: Any) -> RunConfig:
        """A copy with top-level fields replaced and section keys changed, checked again.

        A section is changed by a mapping of its field names, so flags override a TOML
        file key by key.

        Examples
        --------
        >>> cfg = RunConfig().updated(hotspots={"top_n": 5}, postcodes="pc.csv")
        >>> cfg.hotspots.top_n, cfg.hotspots.quantile, cfg.postcodes
        (5, 0.995, 'pc.csv')
        >>> RunConfig().updated(hotspots={"top_n": 0})
        Traceback (most recent call last):
        ...
        hotspots.schema.InputError: [hotspots] top_n must be at least 1, got 0
        """
        top = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(current, _Section) and isinstance(value, Mapping):
                value = dataclasses.replace(current, **value)
            top[name] = value
        return dataclasses.replace(self, **top)

    def period(
        self, latest: pd.Timestamp | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The ``[filter]`` period: see :meth:`FilterConfig.period`."""
        return self.filter.period(latest)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as its TOML tables (for ``run.json`` and ``--print-config``)."""
        d: dict[str, Any] = {
            "inputs": [
                {
                    "paths": list(i.paths),
                    "source": i.source,
                    "columns": dataclasses.asdict(i.columns) if i.columns else None,
                    "categories": dict(i.categories),
                }
                for i in self.inputs
            ],
            "areas": [{"path": p, "fields": dict(f)} for p, f in self.areas],
            "postcodes": self.postcodes,
        }
        for cls in _SECTIONS:
            d[cls.section] = getattr(self, cls.section).to_toml()
        return d


def _tables(value: Any, key: str, where: str) -> list[dict[str, Any]]:
    """``[[key]]`` entries: a list of tables, else an error naming the key."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"{where}: {key} must be [[{key}]] tables, got {value!r}"[:300])
    return value


def _mapping(value: Any, where: str) -> dict[str, str]:
    """A table of text values (field names, category renames)."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError(f"{where} must be a table of names to text, got {value!r}"[:300])
    return dict(value)


def _input_from_toml(item: dict[str, Any], base: Path, where: str) -> InputSpec:
    unknown = sorted(set(item) - {"path", "paths", "source", "columns", "categories"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown} in [[inputs]]")
    raw_paths = item.get("paths") or item.get("path")
    if not raw_paths:
        raise InputError(f"{where}: each [[inputs]] needs 'path'")
    raw = [raw_paths] if isinstance(raw_paths, str) else raw_paths
    if not isinstance(raw, list):
        raise InputError(f"{where}: [[inputs]] path must be text or a list of text, got {raw!r}")
    paths = [_text(q, f"{where}: [[inputs]] path") for q in raw]
    paths = [str(q if Path(q).is_absolute() else base / q) for q in paths]
    cols = item.get("columns")
    if cols is not None and not isinstance(cols, dict):
        raise InputError(f"{where}: [inputs.columns] must be a table, got {cols!r}"[:300])
    mapping = ColumnMapping.from_dict(dict(cols), f"{where} [inputs.columns]") if cols else None
    source = item.get("source", "police.uk" if not cols else "export")
    return InputSpec(
        tuple(paths),
        _text(source, f"{where}: [[inputs]] source"),
        mapping,
        _mapping(item.get("categories", {}), f"{where}: [inputs.categories]"),
    )


def _areas_from_toml(item: dict[str, Any], base: Path, where: str) -> tuple[str, dict[str, str]]:
    unknown = sorted(set(item) - {"path", "fields"})
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown} in [[areas]]; expected path, fields")
    if "path" not in item:
        raise InputError(f"{where}: each [[areas]] needs 'path' (a file or a registry name)")
    src = _text(item["path"], f"{where}: [[areas]] path")
    if "/" not in src or Path(base / src).exists():
        src = str(base / src) if not Path(src).is_absolute() else src
    return src, _mapping(item.get("fields", {}), f"{where}: [[areas]] fields")


def load_config(path: str | Path) -> RunConfig:
    """Read a TOML run configuration (relative paths are relative to the file).

    Every error names the file and the key: unknown sections and keys, values of the
    wrong type or out of range, months that are not ``YYYY-MM``.
    """
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: no such config file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from None
    base, where = p.parent, str(p)
    top: dict[str, Any] = {
        "inputs": [
            _input_from_toml(i, base, where)
            for i in _tables(data.pop("inputs", []), "inputs", where)
        ],
        "areas": [
            _areas_from_toml(a, base, where) for a in _tables(data.pop("areas", []), "areas", where)
        ],
    }
    if "postcodes" in data:
        top["postcodes"] = str(base / _text(data.pop("postcodes"), f"{where}: postcodes"))
    output = data.get("output", {})
    for key, name in (("title", "title"), ("out", "dir")):  # top-level aliases of [output]
        if key in data and isinstance(output, dict):
            output = {name: data.pop(key), **output}
    if isinstance(output, dict) and isinstance(output.get("dir"), str):
        output["dir"] = str(base / output["dir"])
    data["output"] = output
    try:
        for cls in _SECTIONS:
            top[cls.section] = cls.from_toml(data.pop(cls.section, {}), where)
    except InputError as exc:
        message = str(exc)
        raise InputError(message if message.startswith(where) else f"{where}: {message}") from None
    if data:
        raise InputError(f"{where}: unknown section(s) or key(s) {sorted(data)}")
    return RunConfig(**top)
