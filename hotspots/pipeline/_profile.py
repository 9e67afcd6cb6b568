"""``hotspots profile``: seasonal profiles, trends and period change for every area layer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hotspots._validation import parse_month
from hotspots.io import write_csv
from hotspots.pipeline._config import RunConfig
from hotspots.pipeline._stages import prepare
from hotspots.schema import InputError
from hotspots.seasonal import period_change, seasonal_profiles, trend_tests, trending_up_rows


def _window(text: str, what: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start, _, end = text.partition(":")
    try:
        return parse_month(start, what), parse_month(end or start, what)
    except InputError:
        raise InputError(
            f"{what} {text!r}: expected YYYY-MM:YYYY-MM, e.g. 2025-06:2025-08"
        ) from None


def run_profile(
    config: RunConfig,
    *,
    out: str | Path,
    by_category: bool = False,
    before: str | None = None,
    after: str | None = None,
) -> dict[str, pd.DataFrame]:
    """Write ``profiles.csv``, ``trends.csv``, ``trending_up.csv`` (and ``change.csv``).

    One row per area of every layer (and per category with ``by_category``); months with
    no incident anywhere in the data are gaps, not zeros.
    """
    prepared = prepare(config)
    inc = prepared.incidents
    if not prepared.layers:
        raise InputError("profile needs area layers: give --areas")
    months = inc["when"]
    tables: dict[str, list[pd.DataFrame]] = {"profiles": [], "trends": [], "change": []}
    for layer in prepared.layers:
        keys = [layer.layer, "category"] if by_category else [layer.layer]
        part = inc.loc[inc[layer.layer] != ""]
        named = {layer.layer: "name"}
        prof = seasonal_profiles(part, by=keys, months_with_data=months).rename(columns=named)
        trend = trend_tests(part, by=keys, months_with_data=months).rename(columns=named)
        tables["profiles"].append(prof.assign(layer=layer.layer))
        tables["trends"].append(trend.assign(layer=layer.layer))
        if before and after:
            change = period_change(
                part,
                by=keys,
                before=_window(before, "--before"),
                after=_window(after, "--after"),
                months_with_data=months,
            )
            tables["change"].append(change.rename(columns=named).assign(layer=layer.layer))
    out = Path(out)
    result = {}
    for name, frames in tables.items():
        if not frames:
            continue
        table = pd.concat(frames, ignore_index=True)
        table = table[["layer", *[c for c in table.columns if c != "layer"]]]
        result[name] = table
        write_csv(table, out / f"{name}.csv", neutralise_formulas=config.output.formula_guard)
    # Every layer's rows at once: steepest first across layers, ties in layer then name order.
    up = trending_up_rows(result["trends"])
    result["trending_up"] = up
    write_csv(up, out / "trending_up.csv", neutralise_formulas=config.output.formula_guard)
    return result
