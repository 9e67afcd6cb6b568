"""The run configuration: one dataclass, read from TOML and/or CLI flags.

See ``docs/config.md`` for every field. Units are metres (``*_m``); months are ``YYYY-MM``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hotspots._validation import parse_month
from hotspots.io.load import InputSpec
from hotspots.io.readers import ColumnMapping
from hotspots.io.sources import EMBEDDED_POLICE_UK
from hotspots.schema import InputError, MissingFileError

EMBEDDED_INCIDENTS = EMBEDDED_POLICE_UK
POLICE_UK_ATTRIBUTION = (
    "Crime data: data.police.uk, contains public sector information licensed under the "
    "Open Government Licence v3.0."
)


@dataclass
class RunConfig:
    """Everything a run needs. Fields left ``None`` are chosen automatically and reported."""

    inputs: list[InputSpec] = field(default_factory=list)
    # None given: the rows' own LSOAs, districts and force (hotspots.data_areas)
    areas: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    postcodes: str | None = None
    out: str = "outputs"
    title: str = "Hotspot patrol map"
    # filters
    categories: list[str] | None = None
    month_from: str | None = None
    month_to: str | None = None
    last_months: int | None = None
    # grid and density
    cell_size_m: float | None = None
    bandwidth_m: float | None = None
    kernel: str = "quartic"
    bandwidth_rule: str = "arcgis"
    # hotspots and ranking
    # Hotspots: cells in the top 0.5% of scored cells (score > 0), merged with their 8
    # neighbours; hotspots with fewer than hotspot_min_incidents incidents are dropped.
    hotspot_quantile: float = 0.995
    hotspot_min_incidents: int = 5
    top_n: int = 20
    patrol_max_area_share: float | None = None
    # Micro-place caps (docs/hotspots.md): 0.1 km2 and a 300 m box, one foot patrol's beat
    max_area_m2: float = 100_000.0
    max_extent_m: float = 300.0
    # artefact hotspots (one snap point, custody, hospital) ranked last, never patrolled
    exclude_artefacts: bool = False
    rank_by: str = "concentration"
    harm_column: str | None = None  # per-incident harm weight: density, "harm" ranking
    tolerance_m: float = 100.0
    allow_outside: bool = False  # run even when most rows fall outside the areas given
    repeat_min_incidents: int = 3
    repeat_window_months: int = 6
    gistar_permutations: int = 0
    # several sources: link the same incident reported twice (docs/partnership.md)
    link_duplicates: bool = True
    link_window_days: int = 7
    source_priority: list[str] | None = None
    # repeat callers/victims: a column with a person or caller id (used only to count)
    person_column: str | None = None
    repeat_caller_min_incidents: int = 3
    repeat_caller_window_months: int = 12
    # population for rates per 1,000 residents (default: shipped Census 2011 LSOAs)
    rates: bool = True
    population_file: str | None = None
    population_layer: str | None = None
    population_id_field: str = "lsoa11_code"
    population_residents_field: str = "all_usual_residents"
    # outputs
    keep_personal: bool = False
    # CSV text cells starting = + - @ tab CR get a leading ' (OWASP CSV injection)
    formula_guard: bool = True
    min_count: int = 0
    # OpenStreetMap street tiles on the map (fetched when it opens; it works without them);
    # offline_map (--offline-map) leaves no tile URL in the page at all
    map_online_tiles: bool = True
    offline_map: bool = False
    map_per_area: str | None = None  # e.g. "npa": also one map per NPA in maps/
    # patrol plan (docs/patrol.md): Koper (1995) 15-minute visits about every 2 h in a
    # 4-hour peak window, 7 days a week; patrol_hours: a weekly budget shared by score
    patrol_minutes_per_visit: float = 15.0
    patrol_visit_interval_h: float = 2.0
    patrol_peak_window_h: int = 4
    patrol_days_per_week: int = 7
    patrol_hours: float | None = None
    briefings: bool = True  # one printable briefing per NPA in briefings/

    def period(
        self, latest: pd.Timestamp | None = None
    ) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """Inclusive (start, end) from month_from/month_to, or the last N months to ``latest``."""
        n = self.last_months
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
            raise InputError(
                f"--last-months ([filter] last_months) {n!r}: give a whole number of months, "
                "1 or more (0 or none: every month)"
            )
        start = parse_month(self.month_from, "--from ([filter] from)") if self.month_from else None
        end = parse_month(self.month_to, "--to ([filter] to)") if self.month_to else None
        if self.last_months and latest is not None and start is None:
            end = end or latest
            start = end - pd.DateOffset(months=self.last_months - 1)
        if start is None and end is None:
            return None
        start = start or pd.Timestamp("1990-01-01")
        end = (
            (end or pd.Timestamp("2100-01-01")) + pd.offsets.MonthEnd(0) + pd.Timedelta("23:59:59")
        )
        if start > end:
            raise InputError(f"--from {self.month_from} is after --to {self.month_to}")
        return start, end

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["inputs"] = [
            {
                "paths": list(i.paths),
                "source": i.source,
                "columns": dataclasses.asdict(i.columns) if i.columns else None,
                "categories": dict(i.categories),
            }
            for i in self.inputs
        ]
        d["areas"] = [{"path": p, "fields": f} for p, f in self.areas]
        return d


_SECTIONS = {
    "filter": {
        "categories": "categories",
        "from": "month_from",
        "to": "month_to",
        "last_months": "last_months",
    },
    "grid": {"cell_size_m": "cell_size_m"},
    "density": {
        "bandwidth_m": "bandwidth_m",
        "kernel": "kernel",
        "bandwidth_rule": "bandwidth_rule",
    },
    "hotspots": {
        "quantile": "hotspot_quantile",
        "min_incidents": "hotspot_min_incidents",
        "top_n": "top_n",
        "max_area_share": "patrol_max_area_share",
        "rank_by": "rank_by",
        "max_area_m2": "max_area_m2",
        "max_extent_m": "max_extent_m",
        "exclude_artefacts": "exclude_artefacts",
        "harm_column": "harm_column",
        "gistar_permutations": "gistar_permutations",
    },
    "repeats": {"min_incidents": "repeat_min_incidents", "window_months": "repeat_window_months"},
    "assign": {"tolerance_m": "tolerance_m", "allow_outside": "allow_outside"},
    "duplicates": {
        "enabled": "link_duplicates",
        "window_days": "link_window_days",
        "source_priority": "source_priority",
    },
    "callers": {
        "person_column": "person_column",
        "min_incidents": "repeat_caller_min_incidents",
        "window_months": "repeat_caller_window_months",
    },
    "population": {
        "enabled": "rates",
        "file": "population_file",
        "layer": "population_layer",
        "id_field": "population_id_field",
        "residents_field": "population_residents_field",
    },
    "patrol": {
        "minutes_per_visit": "patrol_minutes_per_visit",
        "visit_interval_h": "patrol_visit_interval_h",
        "peak_window_h": "patrol_peak_window_h",
        "days_per_week": "patrol_days_per_week",
        "hours": "patrol_hours",
    },
    "output": {
        "keep_personal": "keep_personal",
        "formula_guard": "formula_guard",
        "min_count": "min_count",
        "online_tiles": "map_online_tiles",
        "offline_map": "offline_map",
        "briefings": "briefings",
        "map_per_area": "map_per_area",
        "title": "title",
        "dir": "out",
    },
}


def _tables(value: Any, key: str, where: str) -> list[dict[str, Any]]:
    """``[[key]]`` entries: a list of tables, else an error naming the key."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InputError(f"{where}: {key} must be [[{key}]] tables, got {value!r}"[:300])
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"{where} must be text, got {value!r}"[:300])
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
    """Read a TOML run configuration (relative paths are relative to the file)."""
    p = Path(path)
    if not p.exists():
        raise MissingFileError(f"{p}: no such config file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: not valid TOML ({exc})") from None
    base = p.parent
    cfg = RunConfig()
    cfg.inputs = [
        _input_from_toml(i, base, str(p)) for i in _tables(data.pop("inputs", []), "inputs", str(p))
    ]
    if "areas" in data:
        cfg.areas = [
            _areas_from_toml(a, base, str(p)) for a in _tables(data.pop("areas"), "areas", str(p))
        ]
    if "postcodes" in data:
        cfg.postcodes = str(base / _text(data.pop("postcodes"), f"{p}: postcodes"))
    if "title" in data:
        cfg.title = _checked("title", data.pop("title"), f"{p}: title")
    if "out" in data:
        cfg.out = str(base / _checked("out", data.pop("out"), f"{p}: out"))
    for section, keys in _SECTIONS.items():
        values = data.pop(section, {})
        if not isinstance(values, dict):
            raise InputError(f"{p}: [{section}] must be a table of keys, got {values!r}")
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise InputError(
                f"{p}: unknown key(s) {unknown} in [{section}]; expected some of {sorted(keys)}"
            )
        for k, v in values.items():
            setattr(cfg, keys[k], _checked(keys[k], v, f"{p}: [{section}] {k}"))
    if data:
        raise InputError(f"{p}: unknown section(s) or key(s) {sorted(data)}")
    cfg.period()  # month values are checked here, before any data is read
    return cfg


def _checked(field_name: str, value: Any, where: str) -> Any:
    """``value`` if it has the type of the RunConfig field, else an error naming ``where``."""
    hint = str(typing.get_type_hints(RunConfig)[field_name])
    ok = True
    if "list[str]" in hint:
        value = [value] if isinstance(value, str) else value
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif "bool" in hint:
        ok = isinstance(value, bool)
    elif "int" in hint and "float" not in hint:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif "float" in hint:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif "str" in hint:
        ok = isinstance(value, str)
    if not ok:
        kind = hint.replace("typing.", "").replace(" | None", "").replace("<class '", "")
        kind = kind.replace("'>", "")
        raise InputError(f"{where} = {value!r}: expected {kind}")
    if field_name in ("month_from", "month_to") and value is not None:
        parse_month(value, where)
    return value
