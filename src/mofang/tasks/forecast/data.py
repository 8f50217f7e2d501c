"""The time-series-forecast task at the data workshop: the series columns (the `data.columns` hook), the
regularized series split by time (the `data.split` override) and the dataset's forecast description (the
`data.publish` hook)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.core.errors import DataError
from mofang.data.timeseries.regularize import FILLED, SeriesSpec, regularize, season_length_for
from mofang.data.timeseries.split import time_split
from mofang.station.context import StationContext


def series_spec(order: Any) -> SeriesSpec:
    """The order's series columns as a SeriesSpec."""
    forecast = order.forecast
    return SeriesSpec(time=order.time_column, target=order.target, series=forecast.series_column,
                      known=list(forecast.known_covariates), past=list(forecast.past_covariates),
                      frequency=forecast.frequency, duplicates=forecast.duplicates)


def columns(ctx: StationContext, frame: pd.DataFrame, profile: dict, raw: pd.DataFrame) -> str:
    """The validate process's column choice: the series id, time, target and named covariates are kept;
    every other column is dropped with the reason (a forecast reads only what the order names)."""
    spec = series_spec(ctx.order)
    roles = {spec.time: "time", spec.target: "target", **({spec.series: "series"} if spec.series else {}),
             **dict.fromkeys(spec.known, "known"), **dict.fromkeys(spec.past, "past")}
    for column, role in roles.items():
        if column not in frame.columns:
            where = "is not in the data" if column not in profile["columns"] else "was removed by the recipe"
            raise DataError(f"the order's {role} column '{column}' {where}; columns: "
                            + ", ".join(str(c) for c in profile["columns"]), column=column)
    kept = [{"name": c, "kind": "numeric", "role": f"{r}_covariate"} for c, r in roles.items()
            if r in ("known", "past")]
    dropped = [{"name": name, "reason": "not named in the order's forecast section (series_column, "
                                        "known_covariates, past_covariates)"}
               for name in profile["columns"] if name not in roles and name != ctx.order.id_column]
    if ctx.order.id_column and ctx.order.id_column not in roles:
        dropped.append({"name": ctx.order.id_column, "reason": "the order's id column (identifies rows)"})
    for item in dropped:
        ctx.reason(f"dropped column {item['name']}: {item['reason']}")
    ctx.reason(f"series by {spec.series or '(one series)'}, time {spec.time}, target {spec.target}"
               + (f"; known covariates {spec.known}" if spec.known else "")
               + (f"; past covariates {spec.past}" if spec.past else ""))
    ctx.metric(features=len(kept), dropped=len(dropped), pii_columns=0)
    ctx.param(features=[f["name"] for f in kept])
    ctx.save("features", {"features": kept, "dropped": dropped})
    ctx.save("guard_trace", {"pii": [], "scores": {}})
    return f"{len(kept)} covariates kept, {len(dropped)} columns dropped"


def split(ctx: StationContext) -> str:
    """Regularize the series and hold out the last `horizon` steps of each as test, the window before as
    valid; save train/valid/test, the split trace and the forecast description."""
    order = ctx.order
    spec = series_spec(order)
    frame = ctx.load("validated")
    dayfirst = ctx.load("profile")["columns"].get(spec.time, {}).get("dayfirst")
    regular, trace = regularize(frame, spec, dayfirst)
    frequency = trace["frequency"]["value"]
    horizon = order.forecast.horizon
    season = order.forecast.season_length or season_length_for(frequency)
    _explain(ctx, trace, spec)
    parts = time_split(regular, spec.id_column, spec.time, horizon)
    for series, length in list(parts.short.items())[:10]:
        ctx.reason(f"series {series} has {length} steps, fewer than {2 * horizon + 4} needed to hold out valid "
                   f"and test windows of {horizon}: kept in train only")
    how = (f"by time: per series the last {horizon} steps are test, the {horizon} before them valid "
           "(no shuffling)")
    ctx.reason(f"split {how}; frequency {frequency} ({trace['frequency']['how']}), season {season} steps")
    sizes = {}
    for name in ("train", "valid", "test"):
        part = getattr(parts, name)
        ctx.save(name, part)
        sizes[name] = len(part)
    ctx.param(method="time", horizon=horizon, frequency=frequency, season_length=season)
    ctx.metric(**sizes, series=trace["series"], gaps_filled=trace["gaps"]["steps"],
               duplicate_steps=trace["duplicates"]["steps"])
    ctx.save("split_trace", {"method": how, "seed": order.seed, "rows": sizes, "rare_classes": {},
                             "synthetic": {"added_to_train": 0, "dropped_parent_held_out": 0}, "leakage": {},
                             "regularization": trace, "short_series": parts.short})
    evaluated = regular[spec.id_column].nunique() - len(parts.short)
    ctx.save("forecast_info", {
        "time": spec.time, "target": spec.target, "series": spec.id_column, "series_named": spec.series is not None,
        "known": spec.known, "past": spec.past, "frequency": frequency, "season_length": season, "horizon": horizon,
        "quantiles": list(order.forecast.quantiles), "backtest_windows": order.forecast.backtest_windows,
        "filled": FILLED, "series_count": int(trace["series"]), "evaluated_series": int(evaluated)})
    return (f"train {sizes['train']:,} · valid {sizes['valid']:,} · test {sizes['test']:,} steps of "
            f"{trace['series']} series at {frequency}")


def _explain(ctx: StationContext, trace: dict, spec: SeriesSpec) -> None:
    if trace["unreadable_time"]["rows"]:
        ctx.reason(f"dropped {trace['unreadable_time']['rows']:,} rows whose {spec.time} is not a date "
                   f"(e.g. {trace['unreadable_time']['examples']})")
    if trace["duplicates"]["steps"]:
        ctx.reason(f"{trace['duplicates']['steps']:,} time steps held several rows (duplicates, or a finer "
                   f"frequency than {trace['frequency']['value']}): {trace['duplicates']['rows_merged']:,} rows "
                   f"merged, the target by its {trace['duplicates']['how']}")
    if trace["gaps"]["steps"]:
        ctx.reason(f"{trace['gaps']['steps']:,} missing time steps filled (target interpolated, covariates "
                   f"carried forward) and marked in {FILLED}; e.g. {trace['gaps']['examples'][:3]}")


def publish(ctx: StationContext, parts: dict[str, pd.DataFrame], features: dict) -> dict[str, Any]:
    """The dataset's `forecast` record, saved by the split (time, target, series, frequency, horizon ...)."""
    return {"forecast": ctx.load("forecast_info")}
