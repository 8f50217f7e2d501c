"""ForecastModel: a fitted forecast family behind the saved-model surface — the forecast of every series
for up to `horizon` steps with conformal intervals, its size and latency, and one series answered at a time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from mofang.core.errors import MofangError
from mofang.models.saved import SavedModel
from mofang.tasks.forecast.models.forecasters import Forecaster, make_forecaster
from mofang.tasks.forecast.models.intervals import ConformalIntervals
from mofang.tasks.forecast.models.metrics import ID, POINT, TIME, VALUE, quantile_column, scales_by_series

TASK = "time-series-forecast"
HISTORY_KEPT = 104  # steps of each series kept for plots and for what the served forecast follows


class UnknownSeries(MofangError):
    """A series id the model was not trained on."""


class ForecastModel(SavedModel):
    """Fit with `fit(history)`; `table(h)` is every series' forecast, `forecast(series, h)` one series'."""

    task = TASK

    def __init__(self, family: str, frequency: str, season_length: int, horizon: int, quantiles: list[float],
                 params: dict[str, Any] | None = None, name: str | None = None) -> None:
        self.family = family
        self.name = name or family
        self.frequency, self.season_length, self.horizon = frequency, season_length, horizon
        self.quantiles = sorted(quantiles)
        self.params = dict(params or {})
        self.intervals_: ConformalIntervals | None = None
        self.forecaster_: Forecaster | None = None

    def fit(self, history: pd.DataFrame, intervals: ConformalIntervals) -> ForecastModel:
        """Fit on a long table (unique_id, ds, y, covariates) and precompute the forecast of each series."""
        self.intervals_ = intervals
        self.__dict__.pop("_answers_cache", None)
        forecaster = make_forecaster(self.family, self.frequency, self.season_length, **self.params).fit(history)
        scales = scales_by_series(history, self.season_length)
        level = history.groupby(ID)[VALUE].apply(lambda s: float(s.abs().mean()) or 1.0)
        self.scales_ = {k: (v if np.isfinite(v) else float(level[k])) for k, v in scales.items()}
        self.table_ = intervals.apply(forecaster.predict(self.horizon), self.scales_)
        self.history_ = history.sort_values([ID, TIME]).groupby(ID, sort=False).tail(HISTORY_KEPT)[
            [ID, TIME, VALUE]].reset_index(drop=True)
        self.series_ = sorted(self.scales_)
        self.forecaster_ = forecaster if forecaster.uses_known else None  # recomputes with given covariates
        self.params = forecaster.params | {k: v for k, v in self.params.items() if k not in forecaster.params}
        return self

    def refit(self, history: pd.DataFrame) -> ForecastModel:
        """The same family and params fitted again on `history`, with these intervals (for delivery)."""
        assert self.intervals_ is not None
        return ForecastModel(self.family, self.frequency, self.season_length, self.horizon, self.quantiles,
                             _refit_params(self.params), name=self.name).fit(history, self.intervals_)

    @property
    def known(self) -> list[str]:
        """The known-future covariates a request may give (those of a model that reads them)."""
        return list(self.params.get("known") or []) if self.forecaster_ is not None else []

    def table(self, horizon: int | None = None, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Every series' forecast (unique_id, ds, step, yhat, quantile columns) for `horizon` steps; a model
        reading known covariates forecasts again with their values in `future` (unique_id, ds, columns)."""
        horizon = horizon or self.horizon
        if future is not None and self.forecaster_ is not None and self.intervals_ is not None:
            return self.intervals_.apply(self.forecaster_.predict(horizon, future), self.scales_)
        return self.table_[self.table_["step"] <= horizon].reset_index(drop=True)

    def forecast(self, series_id: str, horizon: int | None = None,
                 known: dict[str, list[float]] | None = None) -> dict[str, Any]:
        """One series' forecast: {"series_id", "frequency", "forecast": [{"time", "mean", "q0.1", ...}]}.
        `known` gives known covariates for the forecast steps (else one season earlier is assumed)."""
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"horizon {horizon} is outside 1..{self.horizon} (the trained maximum)")
        key = str(series_id)
        if key not in self.scales_:
            shown = ", ".join(self.series_[:10]) + (" ..." if len(self.series_) > 10 else "")
            raise UnknownSeries(f"unknown series id '{key}'; the model knows {len(self.series_)} series: {shown}")
        if known and self.known:
            points = _points(self._with_known(key, horizon, known), [quantile_column(q) for q in self.quantiles])
        else:
            points = [dict(p) for p in self._answers()[key][:horizon]]
        return {"series_id": key, "frequency": self.frequency, "horizon": horizon, "forecast": points}

    def _answers(self) -> dict[str, list[dict[str, Any]]]:
        """Each series' precomputed forecast as served JSON points (built once, on first use)."""
        cached = self.__dict__.get("_answers_cache")
        if cached is None:
            columns = [quantile_column(q) for q in self.quantiles]
            cached = {str(key): _points(part.sort_values("step"), columns)
                      for key, part in self.table_.groupby(ID, sort=False)}
            self.__dict__["_answers_cache"] = cached
        return cached

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_answers_cache"}

    def _with_known(self, key: str, horizon: int, known: dict[str, list[float]]) -> pd.DataFrame:
        unknown = sorted(set(known) - set(self.known))
        if unknown:
            raise ValueError(f"unknown covariates {unknown}; this model reads {self.known or 'none'}")
        for name, values in known.items():
            if len(values) < horizon:
                raise ValueError(f"covariate '{name}' has {len(values)} values; the horizon needs {horizon}")
        assert self.forecaster_ is not None and self.intervals_ is not None
        index = self.forecaster_.future_index(horizon, [key])
        future = index.assign(**{name: list(values)[:horizon] for name, values in known.items()})
        predicted = self.forecaster_.predict(horizon, future, series=[key])
        return self.intervals_.apply(predicted, self.scales_)

    def measure_latency(self, n: int = 200, max_seconds: float = 2.0) -> dict[str, float]:
        """p50/p95 milliseconds of one served forecast (full horizon), cycling over the series."""
        times = []
        deadline = time.perf_counter() + max_seconds
        for i in range(n):
            started = time.perf_counter()
            self.forecast(self.series_[i % len(self.series_)])
            times.append((time.perf_counter() - started) * 1000)
            if time.perf_counter() > deadline and len(times) >= 5:
                break
        return {"p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95))}


class EnsembleForecastModel(ForecastModel):
    """The mean forecast of several fitted ForecastModels, with its own conformal intervals."""

    def __init__(self, members: list[ForecastModel], intervals: ConformalIntervals, name: str | None = None) -> None:
        first = members[0]
        super().__init__("ensemble", first.frequency, first.season_length, first.horizon, first.quantiles,
                         {"members": [m.name for m in members]}, name=name or "ensemble(" + "+".join(
                             m.name for m in members) + ")")
        self.members = members
        self.intervals_ = intervals
        self.scales_ = dict(first.scales_)
        self.history_, self.series_ = first.history_, list(first.series_)
        self.table_ = intervals.apply(mean_forecast([m.table() for m in members]), self.scales_)

    def refit(self, history: pd.DataFrame) -> ForecastModel:
        assert self.intervals_ is not None
        return EnsembleForecastModel([m.refit(history) for m in self.members], self.intervals_, name=self.name)

    @property
    def known(self) -> list[str]:
        return sorted({c for m in self.members for c in m.known})

    def table(self, horizon: int | None = None, future: pd.DataFrame | None = None) -> pd.DataFrame:
        if future is None or not self.known:
            return super().table(horizon)
        assert self.intervals_ is not None
        return self.intervals_.apply(mean_forecast([m.table(horizon, future) for m in self.members]), self.scales_)

    def _with_known(self, key: str, horizon: int, known: dict[str, list[float]]) -> pd.DataFrame:
        unknown = sorted(set(known) - set(self.known))
        if unknown:
            raise ValueError(f"unknown covariates {unknown}; this model reads {self.known or 'none'}")
        parts = []
        for member in self.members:
            if member.known:
                parts.append(member._with_known(key, horizon, {k: v for k, v in known.items() if k in member.known}))
            else:
                table = member.table(horizon)
                parts.append(table[table[ID] == key])
        assert self.intervals_ is not None
        return self.intervals_.apply(mean_forecast(parts), self.scales_)


def mean_forecast(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """unique_id, ds, step and the mean yhat of forecast tables over the same steps."""
    keys = [ID, TIME, "step"]
    stacked = pd.concat([t[keys + [POINT]] for t in tables], ignore_index=True)
    return stacked.groupby(keys, sort=True, as_index=False)[POINT].mean()


def _refit_params(params: dict[str, Any]) -> dict[str, Any]:
    """The constructor params of a family among those a fitted model records (lags etc. are derived)."""
    keys = ("known", "past", "n_estimators", "learning_rate", "num_leaves", "seed")
    return {k: params[k] for k in keys if k in params}


def _points(rows: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{"time": t.isoformat(), "mean": _num(m), **{c: _num(v) for c, v in zip(columns, qs, strict=True)}}
            for t, m, *qs in rows[[TIME, POINT, *columns]].itertuples(index=False)]


def _num(value: Any) -> float | None:
    value = float(value)
    return None if not np.isfinite(value) else round(value, 6)
