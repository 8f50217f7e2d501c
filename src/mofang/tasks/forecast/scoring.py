"""The evaluation center for forecasts: MASE, sMAPE and WQL of every candidate on the held-out test window,
the gate, and the report section (forecast plots with intervals for a few series, the backtest table).
The winner is then refit on the whole history (test window included) for delivery."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mofang.core.plots import render_png
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.gates import check_gate, record_gate
from mofang.evaluation.report import write_report
from mofang.station.context import StationContext
from mofang.tasks.forecast.models.metrics import ID, POINT, TIME, VALUE, forecast_metrics, quantile_column
from mofang.tasks.forecast.models.panel import history_and_test, to_panel
from mofang.tasks.forecast.models.product import ForecastModel

PLOTTED_SERIES = 4
LATENCY_CALLS = 200


def _panels(ctx: StationContext, info: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return history_and_test({n: ctx.load(n) for n in ("train", "valid", "test")}, info)


def score_forecast(ctx: StationContext, dataset: dict[str, Any], candidates: list[dict[str, Any]],
                   metric: str) -> str:
    """Each candidate's forecast from the end of train + valid, scored on the test window."""
    info = dataset["forecast"]
    history, test = _panels(ctx, info)
    leaderboard = []
    for record in candidates:
        if record.get("skipped"):
            leaderboard.append({**record, "test_metrics": {}})
            continue
        model = ForecastModel.load(record["model_path"])
        table = model.table(future=test)  # known covariates are known for the test steps too
        metrics = forecast_metrics(test, table, history, info["season_length"], info["quantiles"])
        leaderboard.append({**record, "test_metrics": metrics})
    built = [r for r in leaderboard if not r.get("skipped")]
    ctx.metric(**{f"{r['name']}_test_{metric}": r["test_metrics"].get(metric) for r in built})
    ctx.reason(f"scored on the last {info['horizon']} steps of {test[ID].nunique()} series (never seen in "
               "training or backtesting); MASE scaled by each series' in-sample seasonal naive error")
    ctx.save("leaderboard", leaderboard)
    return "; ".join(f"{r['name']} test {metric} {_fmt(r['test_metrics'].get(metric))}" for r in built)


def gate_forecast(ctx: StationContext, winner: dict[str, Any], leaderboard: list[dict[str, Any]]) -> str:
    row = next(r for r in leaderboard if r["name"] == winner["name"])
    model = ForecastModel.load(winner["model_path"])
    size_mb = ForecastModel.size_mb(winner["model_path"])
    latency = model.measure_latency(n=LATENCY_CALLS)
    result = check_gate(ctx.order, row["test_metrics"], size_mb, latency["p95_ms"], None)
    result.update(size_mb=round(size_mb, 4), p50_ms=round(latency["p50_ms"], 3), p95_ms=round(latency["p95_ms"], 3),
                  winner=winner["name"])
    return record_gate(ctx, result)


def report_forecast(ctx: StationContext, dataset: dict[str, Any], winner: dict[str, Any],
                    leaderboard: list[dict[str, Any]], gate: dict[str, Any], verdict: str,
                    reasons: list[dict[str, str]]) -> str:
    info = dataset["forecast"]
    history, test = _panels(ctx, info)
    model = ForecastModel.load(winner["model_path"])
    metrics = next(r for r in leaderboard if r["name"] == winner["name"])["test_metrics"]
    shown = _plotted_series(test, model)
    plots = {f"forecast_{i + 1}": forecast_plot(history, test, model, key) for i, key in enumerate(shown)}
    delivered = ctx.load("refit")["model_path"] if ctx.has("refit") else None
    forecast = {"info": info, "backtest": _backtest_table(leaderboard), "series_plotted": shown,
                "quantiles": [quantile_column(q) for q in info["quantiles"]],
                "intervals": model.intervals_.residuals if model.intervals_ else 0,
                "delivered": "refit on the whole history (test window included) for delivery" if delivered else None}
    content = {"order": ctx.order, "job_id": ctx.job_id, "task": dataset["task"], "dataset": dataset,
               "winner": winner, "metrics": metrics, "primary_metric": winner["primary_metric"],
               "metric_names": list(task_spec(dataset["task"]).metrics), "gate": gate, "verdict": verdict,
               "leaderboard": [r for r in leaderboard if not r.get("skipped")], "reasons": reasons,
               "per_class": None, "forecast": forecast}
    path = write_report(ctx.path("report"), content, plots)
    failed = [c["name"] for c in gate["checks"] if not c["passed"]]
    evaluation = {"metrics": metrics, "leaderboard": leaderboard, "gate": gate, "verdict": verdict,
                  "report_path": str(path), "primary_metric": winner["primary_metric"], "winner": winner["name"],
                  "plots": sorted(plots), "delivered_model_path": delivered}
    ctx.save("evaluation", evaluation)
    ctx.set_outcome(verdict=verdict, failed_checks=failed, report=str(path), metrics=metrics)
    ctx.reason(f"verdict {verdict}" + (f": failed {', '.join(failed)}" if failed else ""))
    return f"{verdict.upper()} · report with {len(plots)} forecast plots at {path}"


def refit_forecast(ctx: StationContext, dataset: dict[str, Any], winner: dict[str, Any],
                   gate: dict[str, Any]) -> str:
    """With a passed gate, the winner's family refit on every step (train, valid and test) with its backtest
    intervals, so the product forecasts the steps after the latest data (saved as the `refit` artifact)."""
    if not gate["passed"]:
        return "not refitted: the gate failed"
    info = dataset["forecast"]
    evaluated = ForecastModel.load(winner["model_path"])
    everything = to_panel(pd.concat([ctx.load(n) for n in ("train", "valid", "test")], ignore_index=True), info)
    model = evaluated.refit(everything)
    path = model.save(ctx.path("models") / f"{evaluated.family}.delivered.joblib")
    note = (f"{evaluated.name} refit on all {everything[TIME].nunique()} time steps of {everything[ID].nunique()} "
            "series for delivery: the product forecasts the steps after the latest data (the test figures are "
            "the model's before the refit)")
    ctx.save("refit", {"model_path": str(path), "rows": len(everything), "note": note})
    ctx.reason(note)
    return note


def _plotted_series(test: pd.DataFrame, model: ForecastModel) -> list[str]:
    """A few series: the largest by test volume, for a readable report."""
    volume = test.groupby(ID)[VALUE].apply(lambda s: float(s.abs().sum())).sort_values(ascending=False)
    return [str(k) for k in volume.index if str(k) in model.series_][:PLOTTED_SERIES]


def forecast_plot(history: pd.DataFrame, test: pd.DataFrame, model: ForecastModel, key: str) -> bytes:
    """History tail, the test actuals and the forecast with its outermost interval for one series."""
    past = history[history[ID] == key].tail(4 * model.horizon)
    actual = test[test[ID] == key]
    predicted = model.table(future=test)
    predicted = predicted[predicted[ID] == key]
    low, high = quantile_column(model.quantiles[0]), quantile_column(model.quantiles[-1])

    def draw(ax: Any) -> None:
        ax.plot(past[TIME], past[VALUE], color="#555", lw=1, label="history")
        ax.plot(actual[TIME], actual[VALUE], color="#222", lw=1.5, marker=".", label="actual (test)")
        ax.plot(predicted[TIME], predicted[POINT], color="#1565c0", lw=1.5, label=f"forecast ({model.name})")
        if len(model.quantiles) >= 2:
            ax.fill_between(predicted[TIME], predicted[low], predicted[high], color="#1565c0", alpha=0.2,
                            label=f"{low}–{high}")
        ax.set_title(f"series {key}")
        ax.legend(fontsize=7)
        for label in ax.get_xticklabels():
            label.set_rotation(30)

    return render_png(draw, size=(6.0, 3.6))


def _backtest_table(leaderboard: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for record in leaderboard:
        if record.get("skipped"):
            rows.append({"candidate": record["name"], "window": "–", "cutoff": record["skipped"], "series": None,
                         "mase": None, "smape": None, "wql": None})
            continue
        for window in record.get("backtest", []):
            rows.append({"candidate": record["name"], **{k: window.get(k) for k in
                                                         ("window", "cutoff", "series", "mase", "smape", "wql")}})
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.4f}"
