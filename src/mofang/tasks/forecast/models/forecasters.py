"""Forecasting families behind one surface: `fit(history)` on a long table (unique_id, ds, y and
covariates) and `predict(horizon, future)` → unique_id, ds, step, yhat from each series' last step."""

from __future__ import annotations

import warnings
from typing import Any, Self

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from mofang.tasks.forecast.models.metrics import ID, POINT, TIME, VALUE

STATS_FAMILIES = {"auto_ets": "AutoETS", "auto_arima": "AutoARIMA", "auto_theta": "AutoTheta"}


class Forecaster:
    """Base: a family name, its params, and the timestamps after each series' end."""

    family = "base"
    uses_known = False  # reads known-future covariates (holidays, prices) for the forecast steps

    def __init__(self, frequency: str, season_length: int) -> None:
        self.frequency = frequency
        self.season_length = max(1, int(season_length))
        self.last_: dict[str, pd.Timestamp] = {}

    @property
    def params(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "season_length": self.season_length}

    def fit(self, history: pd.DataFrame) -> Self:
        self.last_ = {str(k): v for k, v in history.groupby(ID)[TIME].max().items()}
        return self

    def predict(self, horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        raise NotImplementedError

    def future_index(self, horizon: int, series: list[str] | None = None) -> pd.DataFrame:
        """unique_id, ds, step of the `horizon` steps after each series' last timestamp."""
        offset = to_offset(self.frequency)
        rows = []
        for key in series if series is not None else sorted(self.last_):
            stamps = pd.date_range(self.last_[key] + offset, periods=horizon, freq=offset)
            rows.append(pd.DataFrame({ID: key, TIME: stamps, "step": np.arange(1, horizon + 1)}))
        return pd.concat(rows, ignore_index=True)


class SeasonalNaive(Forecaster):
    """Each step repeats the value one season earlier (the last value when a series is shorter)."""

    family = "seasonal_naive"

    def fit(self, history: pd.DataFrame) -> Self:
        super().fit(history)
        self.tails_ = {str(k): part[VALUE].to_numpy(dtype=float)[-self.season_length:]
                       for k, part in history.sort_values([ID, TIME]).groupby(ID, sort=False)}
        return self

    def predict(self, horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        out = self.future_index(horizon)
        values = []
        for key, part in out.groupby(ID, sort=False):
            tail = self.tails_[key]
            if len(tail) < self.season_length:
                tail = tail[-1:]
            values.append(np.resize(tail, len(part)))
        out[POINT] = np.concatenate(values)
        return out


class StatsFamily(Forecaster):
    """AutoETS, AutoARIMA or AutoTheta from statsforecast, fitted per series (seasonal naive where a
    series cannot be fitted)."""

    def __init__(self, frequency: str, season_length: int, family: str) -> None:
        super().__init__(frequency, season_length)
        if family not in STATS_FAMILIES:
            raise ValueError(f"unknown statistical family '{family}' (expected one of {sorted(STATS_FAMILIES)})")
        self.family = family

    def _engine(self) -> Any:
        from statsforecast import StatsForecast, models

        model = getattr(models, STATS_FAMILIES[self.family])(season_length=self.season_length)
        return StatsForecast(models=[model], freq=self.frequency, n_jobs=1,
                             fallback_model=models.SeasonalNaive(season_length=self.season_length))

    def fit(self, history: pd.DataFrame) -> Self:
        super().fit(history)
        self.engine_ = self._engine()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.engine_.fit(history[[ID, TIME, VALUE]])
        return self

    def predict(self, horizon: int, future: pd.DataFrame | None = None) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = self.engine_.predict(h=horizon)
        raw = raw.reset_index() if ID not in raw.columns else raw
        column = next(c for c in raw.columns if c not in (ID, TIME))
        raw = raw.rename(columns={column: POINT})[[ID, TIME, POINT]]
        raw[ID] = raw[ID].astype(str)
        raw["step"] = raw.groupby(ID).cumcount() + 1
        self.engine_ = None  # the forecast is kept; the fitted per-series models are not needed any more
        return raw[[ID, TIME, "step", POINT]]


def make_forecaster(family: str, frequency: str, season_length: int, **params: Any) -> Forecaster:
    """A fresh, unfitted forecaster of `family`."""
    if family == "seasonal_naive":
        return SeasonalNaive(frequency, season_length)
    if family in STATS_FAMILIES:
        return StatsFamily(frequency, season_length, family)
    if family == "lightgbm":
        from mofang.tasks.forecast.models.boosting import GlobalBoosting

        return GlobalBoosting(frequency, season_length, **params)
    raise ValueError(f"unknown forecast family '{family}'")
