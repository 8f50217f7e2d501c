"""The model workshop's processes for a forecast order: plan the families and the time, backtest each
within its share of the budget, fit it on the history before the test window, pick the winner."""

from __future__ import annotations

import json
import time
from typing import Any

import joblib
import pandas as pd

from mofang.core.errors import MofangError
from mofang.core.tasks import spec as task_spec
from mofang.models.limits import within_limits
from mofang.station.context import StationContext
from mofang.tasks.forecast.models.backtest import backtest, score_windows
from mofang.tasks.forecast.models.forecasters import STATS_FAMILIES, make_forecaster
from mofang.tasks.forecast.models.intervals import ConformalIntervals
from mofang.tasks.forecast.models.metrics import ID
from mofang.tasks.forecast.models.panel import to_panel
from mofang.tasks.forecast.models.product import EnsembleForecastModel, ForecastModel, mean_forecast

FAMILIES = ("seasonal_naive", "lightgbm", "auto_theta", "auto_ets", "auto_arima")  # cheapest first
DEFAULT_METRIC = "mase"
SAFETY = 1.5  # per-series fit times of AutoARIMA vary several-fold across series (45 Walmart stores)
LATENCY_CALLS = 200

FORECAST_METRICS = task_spec("time-series-forecast").metrics  # metric → direction, from the task registry


def plan_forecast(ctx: StationContext, dataset: dict[str, Any]) -> str:
    info = dataset["forecast"]
    metric = next(iter(ctx.order.acceptance.metrics), DEFAULT_METRIC)
    budget, remaining = ctx.budget_s, ctx.remaining_s()
    reserve = max(10.0, 0.15 * budget)  # scoring, plots, the refit on all history and packaging
    train_s = max(0.0, remaining - reserve)
    families = list(FAMILIES)
    windows, why = backtest_windows(ctx.load("train"), ctx.load("valid"), info)
    reasons = [f"select by mean backtest {metric} (lower is better): "
               + ("the order's first acceptance metric" if ctx.order.acceptance.metrics
                  else "the default for time-series-forecast"),
               f"{info['series_count']} series at {info['frequency']}, season {info['season_length']} steps, "
               f"horizon {info['horizon']}; each family is backtested on up to {windows} rolling "
               f"windows of {info['horizon']} steps before the test window, within {train_s:.0f}s "
               f"({remaining:.0f}s left of {budget:.0f}s, {reserve:.0f}s kept for evaluation and delivery)",
               "prediction intervals: conformal, from each family's backtest errors at each forecast step"]
    if why:
        reasons.append(why)
    if info["known"] or info["past"]:
        reasons.append(f"covariates (known {info['known']}, past {info['past']}) are read by lightgbm; the "
                       "statistical families forecast the target alone")
    for text in reasons:
        ctx.reason(text)
    plan = {"task": dataset["task"], "families": families, "primary_metric": metric,
            "direction": FORECAST_METRICS[metric], "budget_s": round(budget, 2), "remaining_s": round(remaining, 2),
            "reserve_s": round(reserve, 2), "train_s": round(train_s, 2),
            "train_until_elapsed_s": round(ctx.elapsed_s() + train_s, 2), "reasons": reasons, "windows": windows,
            "shares": {f: round(1 / len(families), 3) for f in families}}
    ctx.param(families=families, primary_metric=metric, train_s=plan["train_s"])
    ctx.save("plan", plan)
    return f"{len(families)} families on backtest {metric}: {train_s:.0f}s to backtest and fit"


def backtest_windows(train: pd.DataFrame, valid: pd.DataFrame, info: dict[str, Any]) -> tuple[int, str]:
    """The order's backtest windows, less those whose history is shorter than two seasons for the typical
    (median) series — there the seasonal families cannot fit a season at all and the comparison would
    rank them on a handicap — keeping at least one; and the reason when some are left out."""
    asked, horizon, season = info["backtest_windows"], info["horizon"], info["season_length"]
    lengths = pd.concat([train, valid], ignore_index=True).groupby(info["series"]).size()
    typical = int(lengths.median())
    fit = [w for w in range(asked) if typical - (w + 1) * horizon >= 2 * season]
    windows = max(1, len(fit))
    if windows == asked:
        return asked, ""
    return windows, (f"{windows} of the {asked} backtest windows: before the others the typical series has "
                     f"less than two seasons ({2 * season} steps) of history, too little for a seasonal fit")


def train_forecast(ctx: StationContext, plan: dict[str, Any], dataset: dict[str, Any]) -> str:
    info = dataset["forecast"]
    panel = to_panel(pd.concat([ctx.load("train"), ctx.load("valid")], ignore_index=True), info)
    folder = ctx.path("models")
    folder.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    families = plan["families"]
    for index, family in enumerate(families):
        saved = folder / f"{family}.json"
        if saved.exists():
            records.append(json.loads(saved.read_text(encoding="utf-8")))
            ctx.reason(f"{family}: already trained in an earlier run, kept")
            continue
        left = plan["train_until_elapsed_s"] - ctx.elapsed_s()
        share = max(0.0, left) / (len(families) - index)
        ctx.advance(index, len(families), f"backtesting {family}")
        record = _train_family(ctx, family, panel, info, share, plan)
        saved.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        records.append(record)
    if not any(r["family"] == "ensemble" for r in records):
        blend = _blend(ctx, records, panel, info, plan)
        if blend is not None:
            records.append(blend)
    built = [r for r in records if not r.get("skipped")]
    if not built:
        raise MofangError("no forecast family could be trained; see the reasons of this process")
    ctx.save("candidates", records)
    metric = plan["primary_metric"]
    ctx.metric(**{f"{r['name']}_{metric}": r["valid_metrics"].get(metric) for r in built})
    skipped = [r["name"] for r in records if r.get("skipped")]
    return ("; ".join(f"{r['name']} backtest {metric} {_fmt(r['valid_metrics'].get(metric))}" for r in built)
            + (f"; skipped {', '.join(skipped)} (see reasons)" if skipped else ""))


def _train_family(ctx: StationContext, family: str, panel: pd.DataFrame, info: dict[str, Any], share_s: float,
                  plan: dict[str, Any]) -> dict[str, Any]:
    horizon, season, windows = info["horizon"], info["season_length"], plan.get("windows", info["backtest_windows"])
    params = {"known": info["known"], "past": info["past"], "seed": ctx.order.seed} if family == "lightgbm" else {}

    def make() -> Any:
        return make_forecaster(family, info["frequency"], season, **params)

    if family in STATS_FAMILIES:  # the cost of one window and the final fit, before paying it: timed on a
        timed = []  # few series (the first call only warms the library up), the slowest one counted
        for key in panel[ID].value_counts().index[:3]:
            started = time.monotonic()
            make().fit(panel[panel[ID] == key]).predict(horizon)
            timed.append(time.monotonic() - started)
        per_series = max(timed[1:] or timed)
        estimate = SAFETY * per_series * panel[ID].nunique() * 2
        if estimate > share_s:
            reason = (f"{family} skipped: about {estimate:.0f}s to backtest one window and fit "
                      f"{panel[ID].nunique()} series (timed on a few), {share_s:.0f}s of the budget for it")
            ctx.reason(reason)
            return _skipped(family, reason, plan)
    started = time.monotonic()
    result = backtest(make, panel, horizon, windows, season, info["quantiles"], deadline=started + share_s)
    if not result.windows:
        reason = f"{family} skipped: {result.stopped or 'no backtest window fits the series'}"
        ctx.reason(reason)
        return _skipped(family, reason, plan)
    intervals = ConformalIntervals.fit(result.residuals, horizon, info["quantiles"])
    model = ForecastModel(family, info["frequency"], season, horizon, info["quantiles"], params).fit(panel, intervals)
    fit_seconds = time.monotonic() - started
    path = model.save(ctx.path("models") / f"{family}.joblib")
    windows_path = ctx.path("models") / f"{family}.backtest.joblib"
    joblib.dump(result.forecasts, windows_path)
    latency = model.measure_latency(n=LATENCY_CALLS)
    metrics = {m: result.mean(m) for m in FORECAST_METRICS}
    metric = plan["primary_metric"]
    note = (f"{family}: backtest {metric} {_fmt(metrics.get(metric))} over {len(result.windows)} windows "
            f"({', '.join(_fmt(w.get(metric)) for w in result.windows)}) in {fit_seconds:.1f}s of {share_s:.0f}s"
            + (f" ({result.stopped})" if result.stopped else "")
            + f"; intervals from {intervals.residuals:,} backtest errors")
    ctx.reason(note)
    return {"name": family, "family": family, "params": _jsonable(model.params), "valid_metrics": metrics,
            "backtest": result.windows, "fit_seconds": round(fit_seconds, 3), "budget_s": round(share_s, 2),
            "trials": len(result.windows), "model_path": str(path), "size_mb": round(ForecastModel.size_mb(path), 4),
            "p50_ms": round(latency["p50_ms"], 3), "p95_ms": round(latency["p95_ms"], 3), "note": note,
            "backtest_path": str(windows_path)}


def _blend(ctx: StationContext, records: list[dict[str, Any]], panel: pd.DataFrame, info: dict[str, Any],
           plan: dict[str, Any]) -> dict[str, Any] | None:
    """The mean of the best families (added one at a time, best first, while the mean backtest metric
    improves): its record when it beats the best single family, else None with the reason."""
    metric = plan["primary_metric"]
    ranked = sorted((r for r in records if not r.get("skipped") and r["valid_metrics"].get(metric) is not None
                     and r["family"] != "seasonal_naive"), key=lambda r: r["valid_metrics"][metric])
    if len(ranked) < 2:
        return None
    windows = {r["name"]: joblib.load(r["backtest_path"]) for r in ranked}
    horizon, season, quantiles = info["horizon"], info["season_length"], info["quantiles"]

    def score(members: list[dict[str, Any]]) -> Any:
        common = set.intersection(*(set(windows[m["name"]]) for m in members))
        mean = {w: mean_forecast([windows[m["name"]][w] for m in members]) for w in common}
        return score_windows(panel, mean, horizon, season, quantiles)

    chosen, best = [ranked[0]], None
    best_value = ranked[0]["valid_metrics"][metric]
    for record in ranked[1:]:
        trial = score([*chosen, record])
        value = trial.mean(metric)
        if value is not None and value < best_value:
            chosen, best, best_value = [*chosen, record], trial, value
    if best is None:
        ctx.reason(f"no mean of families lowers the backtest {metric} of {ranked[0]['name']} "
                   f"({_fmt(ranked[0]['valid_metrics'][metric])}): no ensemble")
        return None
    started = time.monotonic()
    members = [ForecastModel.load(r["model_path"]) for r in chosen]
    intervals = ConformalIntervals.fit(best.residuals, horizon, quantiles)
    model = EnsembleForecastModel(members, intervals)
    path = model.save(ctx.path("models") / "ensemble.joblib")
    latency = model.measure_latency(n=LATENCY_CALLS)
    metrics = {m: best.mean(m) for m in FORECAST_METRICS}
    note = (f"{model.name}: the mean forecast of {len(members)} families lowers the backtest {metric} to "
            f"{_fmt(metrics[metric])} (best single: {ranked[0]['name']} {_fmt(ranked[0]['valid_metrics'][metric])}) "
            f"over {len(best.windows)} windows; its own intervals from {intervals.residuals:,} backtest errors")
    ctx.reason(note)
    return {"name": model.name, "family": "ensemble", "params": {"members": [r["name"] for r in chosen]},
            "valid_metrics": metrics, "backtest": best.windows,
            "fit_seconds": round(sum(r["fit_seconds"] for r in chosen) + time.monotonic() - started, 3),
            "budget_s": 0.0, "trials": len(best.windows), "model_path": str(path),
            "size_mb": round(ForecastModel.size_mb(path), 4), "p50_ms": round(latency["p50_ms"], 3),
            "p95_ms": round(latency["p95_ms"], 3), "note": note}


def select_forecast(ctx: StationContext, plan: dict[str, Any], candidates: list[dict[str, Any]]) -> str:
    metric = plan["primary_metric"]
    acceptance = ctx.order.acceptance
    built = [r for r in candidates if not r.get("skipped")]
    limits = within_limits(built, acceptance)
    pool = limits.pool
    scored = [r for r in pool if r["valid_metrics"].get(metric) is not None] or pool
    best = min(scored, key=lambda r: r["valid_metrics"].get(metric) if r["valid_metrics"].get(metric) is not None
               else float("inf"))  # ties keep the simpler family (listed first)
    score = best["valid_metrics"].get(metric)
    naive = next((r for r in built if r["family"] == "seasonal_naive"), None)
    reason = (f"picked {best['name']}: best mean backtest {metric} {_fmt(score)}, {best['size_mb']:.3g} MB, "
              f"p95 {best['p95_ms']:.1f} ms per forecast")
    if naive is not None and naive is not best and naive["valid_metrics"].get(metric) is not None and score:
        reason += f" (seasonal naive {_fmt(naive['valid_metrics'][metric])})"
    reason += limits.note
    ctx.reason(reason)
    winner = {"name": best["name"], "family": best["family"], "model_path": best["model_path"],
              "primary_metric": metric, "direction": "lower", "valid_score": score, "reason": reason}
    ctx.metric(winner=best["name"], valid_score=score)
    ctx.save("winner", winner)
    return reason


def _skipped(family: str, reason: str, plan: dict[str, Any]) -> dict[str, Any]:
    return {"name": family, "family": family, "skipped": reason, "params": {}, "valid_metrics": {}, "backtest": [],
            "fit_seconds": 0.0, "budget_s": plan["train_s"], "trials": 0, "model_path": None, "size_mb": None,
            "p50_ms": None, "p95_ms": None, "note": reason}


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(params, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
