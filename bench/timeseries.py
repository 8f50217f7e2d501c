"""Benchmark: store-demand forecasting on the shared Walmart weekly sales set (45 stores × 143 weeks).

The last 13 weeks of every store are held out. Mofang runs `examples/orders/store-demand-forecast.yaml`
down the whole line (`mofang run`, a fresh MOFANG_HOME; backtesting, selection, intervals and the gate
within the order's budget) and its winner's test MASE is read from the job. In the same run the peers
forecast the same 13 weeks from the same history: seasonal naive (season 52) and statsforecast's AutoETS
alone (season 52). MASE is the mean over stores of the absolute error scaled by the store's in-sample
seasonal naive error (Mofang's own metric, applied to every row of the table).

    python bench/timeseries.py [--minutes 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "timeseries" / "walmart_weekly_sales.csv"
ORDER = ROOT / "examples" / "orders" / "store-demand-forecast.yaml"
HORIZON, SEASON = 13, 52


def run_mofang(minutes: float) -> tuple[dict, float, str]:
    """Run the example order on a fresh home; (winner test metrics, wall seconds, winner name)."""
    import yaml
    from typer.testing import CliRunner

    with tempfile.TemporaryDirectory(prefix="mofang-bench-ts-") as tmp:
        folder = Path(tmp)
        os.environ["MOFANG_HOME"] = str(folder / "home")
        shutil.copyfile(DATA, folder / DATA.name)
        order = yaml.safe_load(ORDER.read_text(encoding="utf-8"))
        order["budget"]["minutes"] = minutes
        (folder / "order.yaml").write_text(yaml.safe_dump(order, allow_unicode=True), encoding="utf-8")
        from mofang.cli import app
        from mofang.store import MetaStore

        started = time.perf_counter()
        result = CliRunner().invoke(app, ["run", str(folder / "order.yaml")])
        seconds = time.perf_counter() - started
        if result.exit_code not in (0, 3):  # 3: rejected at the gate (still measured)
            sys.exit(f"mofang run failed:\n{result.output}")
        meta = MetaStore()
        outcome = meta.job(1).outcome or {}  # the only job of this fresh home
        meta.dispose()
        winner = next((line.split("picked ")[1].split(":")[0] for line in result.output.splitlines()
                       if "picked " in line), "?")
        lines = result.output.splitlines()
        start = next((i for i, line in enumerate(lines) if "▶ model" in line), 0)
        end = next((i for i, line in enumerate(lines) if "▶ integration" in line), len(lines))
        print("\n".join(lines[start:end]))  # the line's own account: families, backtests, winner, test scores
        return outcome.get("metrics", {}), seconds, winner


def run_peer(family: str, history: pd.DataFrame, test: pd.DataFrame) -> tuple[dict, float]:
    from mofang.tasks.forecast.models import forecast_metrics, make_forecaster

    started = time.perf_counter()
    forecast = make_forecaster(family, "W-FRI", SEASON).fit(history).predict(HORIZON)
    seconds = time.perf_counter() - started
    return forecast_metrics(test, forecast, history, SEASON), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=4.0, help="the order's budget")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is not on this machine")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from mofang.data.timeseries import SeriesSpec, regularize
    from mofang.tasks.forecast.models.panel import to_panel

    spec = SeriesSpec(time="Date", target="Weekly_Sales", series="Store")
    regular, _ = regularize(pd.read_csv(DATA), spec)
    info = {"series": "Store", "time": "Date", "target": "Weekly_Sales", "known": [], "past": []}
    panel = to_panel(regular, info)
    cut = panel.groupby("unique_id")["ds"].transform(lambda s: s.sort_values().iloc[-HORIZON])
    history, test = panel[panel["ds"] < cut], panel[panel["ds"] >= cut]
    rows = []
    for label, family in (("seasonal naive (season 52)", "seasonal_naive"), ("AutoETS alone (statsforecast)",
                                                                              "auto_ets")):
        metrics, seconds = run_peer(family, history, test)
        rows.append((label, metrics["mase"], metrics["smape"], seconds))
    metrics, seconds, winner = run_mofang(args.minutes)
    rows.append((f"Mofang line ({winner}, {args.minutes:g}-min budget)", metrics.get("mase"), metrics.get("smape"),
                 seconds))
    naive, ets = rows[0][1], rows[1][1]
    print(f"\nWalmart weekly sales: {panel['unique_id'].nunique()} stores, horizon {HORIZON} weeks, "
          f"{len(history):,} history rows; {date.today()} on {platform.machine()} with {os.cpu_count()} CPUs\n")
    print(f"| {'method':<58} | {'test MASE':>9} | {'sMAPE':>7} | {'÷ naive':>7} | {'÷ AutoETS':>9} | {'wall s':>7} |")
    print(f"|{'-' * 60}|{'-' * 11}:|{'-' * 8}:|{'-' * 8}:|{'-' * 10}:|{'-' * 8}:|")
    for label, mase, smape, seconds in rows:
        print(f"| {label:<58} | {mase:9.4f} | {smape:7.4f} | {mase / naive:7.3f} | {mase / ets:9.3f} | "
              f"{seconds:7.1f} |")


if __name__ == "__main__":
    main()
