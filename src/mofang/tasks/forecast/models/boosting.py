"""A global LightGBM forecaster: one model across every series on lag, rolling-mean and calendar features
of the series scaled by its own level, known-future covariates at the forecast step and past covariates
at the step before; multi-step forecasts are recursive."""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from mofang.tasks.forecast.models.forecasters import Forecaster
from mofang.tasks.forecast.models.metrics import ID, POINT, TIME, VALUE

SHORT_LAGS = 8  # lags 1..8 (fewer when the season is shorter), plus the season's lag
SCALED = "__y__"


class GlobalBoosting(Forecaster):
    """LightGBM across series; `known`/`past` name the covariate columns of the history table."""

    family = "lightgbm"

    def __init__(self, frequency: str, season_length: int, known: list[str] | None = None,
                 past: list[str] | None = None, n_estimators: int = 300, learning_rate: float = 0.05,
                 num_leaves: int = 31, seed: int = 42) -> None:
        super().__init__(frequency, season_length)
        self.known = list(known or [])
        self.past = list(past or [])
        self.uses_known = bool(self.known)
        self.n_estimators, self.learning_rate = n_estimators, learning_rate
        self.num_leaves, self.seed = num_leaves, seed
        m = self.season_length
        self.lags = sorted({*range(1, min(SHORT_LAGS, m) + 1), m} if m > 1 else set(range(1, SHORT_LAGS + 1)))
        self.windows = sorted({min(4, m), m} - {1}) or [4]

    @property
    def params(self) -> dict[str, Any]:
        return {**super().params, "lags": self.lags, "windows": self.windows, "known": self.known,
                "past": self.past, "n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                "num_leaves": self.num_leaves}

    # -- features ----------------------------------------------------------------------------------
    def _calendar(self, stamps: pd.Series) -> dict[str, np.ndarray]:
        span = step_span(self.frequency)
        out = {"month": stamps.dt.month.to_numpy()}
        if span <= pd.Timedelta(days=7):
            out["week"] = stamps.dt.isocalendar().week.to_numpy(dtype=int)
        if span <= pd.Timedelta(days=1):
            out["dayofweek"] = stamps.dt.dayofweek.to_numpy()
        if span < pd.Timedelta(days=1):
            out["hour"] = stamps.dt.hour.to_numpy()
        return out

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Features of every row of a sorted long table whose SCALED column holds the scaled target."""
        grouped = frame.groupby(ID, sort=False)[SCALED]
        features = {f"lag{k}": grouped.shift(k).to_numpy() for k in self.lags}
        previous = grouped.shift(1)
        for w in self.windows:
            features[f"mean{w}"] = previous.groupby(frame[ID].to_numpy()).transform(
                lambda s, w=w: s.rolling(w, min_periods=1).mean()).to_numpy()
        features.update(self._calendar(frame[TIME]))
        for column in self.known:
            features[f"known_{column}"] = frame[column].to_numpy(dtype=float)
        for column in self.past:
            features[f"past_{column}"] = frame.groupby(ID, sort=False)[column].shift(1).to_numpy(dtype=float)
        features["series"] = frame[ID].map(self.codes_).fillna(-1).to_numpy(dtype=int)
        return pd.DataFrame(features)

    # -- fit / predict ----------------------------------------------------------------------------
    def fit(self, history: pd.DataFrame) -> Self:
        import lightgbm as lgb

        super().fit(history)
        history = history.sort_values([ID, TIME]).reset_index(drop=True)
        recent = history.groupby(ID, sort=False)[VALUE].apply(lambda s: s.abs().tail(2 * self.season_length).mean())
        self.scales_ = {str(k): float(v) if v > 0 else 1.0 for k, v in recent.items()}
        self.codes_ = {key: i for i, key in enumerate(sorted(self.scales_))}
        frame = history.copy()
        frame[SCALED] = frame[VALUE] / frame[ID].map(self.scales_)
        features = self._features(frame)
        usable = features["lag1"].notna().to_numpy()
        self.model_ = lgb.LGBMRegressor(n_estimators=self.n_estimators, learning_rate=self.learning_rate,
                                        num_leaves=self.num_leaves, min_child_samples=5, subsample=0.9,
                                        subsample_freq=1, colsample_bytree=0.9, random_state=self.seed,
                                        n_jobs=1, verbose=-1)
        self.model_.fit(features[usable], frame.loc[usable, SCALED], categorical_feature=["series"])
        keep = max(self.lags + self.windows) + 1
        self.tail_ = frame.groupby(ID, sort=False).tail(keep).reset_index(drop=True)
        return self

    def predict(self, horizon: int, future: pd.DataFrame | None = None,
                series: list[str] | None = None) -> pd.DataFrame:
        """Recursive forecast; `future` holds known covariates per series and ds (missing ones are taken
        from one season earlier, else the last value)."""
        index = self.future_index(horizon, series)
        tail = self.tail_ if series is None else self.tail_[self.tail_[ID].isin(series)]
        index = self._with_known(index, future, tail)
        frame = tail.copy()
        predictions = []
        for step in range(1, horizon + 1):
            rows = index[index["step"] == step].copy()
            for column in self.past:  # observed only up to now: carried from the last observation
                rows[column] = np.nan
            rows[SCALED] = np.nan
            frame = pd.concat([frame, rows.drop(columns=["step"])], ignore_index=True)
            frame = frame.sort_values([ID, TIME], kind="stable").reset_index(drop=True)
            if self.past:
                frame[self.past] = frame.groupby(ID, sort=False)[self.past].ffill()
            features = self._features(frame)
            last = frame[TIME].to_numpy() == frame[ID].map(rows.set_index(ID)[TIME]).to_numpy()
            value = self.model_.predict(features[last])
            frame.loc[last, SCALED] = value
            done = frame.loc[last, [ID, TIME]].copy()
            done["step"] = step
            done[POINT] = value * done[ID].map(self.scales_).to_numpy()
            predictions.append(done)
        return pd.concat(predictions, ignore_index=True).sort_values([ID, "step"]).reset_index(drop=True)

    def _with_known(self, index: pd.DataFrame, future: pd.DataFrame | None, tail: pd.DataFrame) -> pd.DataFrame:
        if not self.known:
            return index
        out = index.copy()
        given = future if future is not None else pd.DataFrame(columns=[ID, TIME, *self.known])
        for column in self.known:
            values = out.merge(given[[ID, TIME, column]] if column in given.columns else
                               pd.DataFrame(columns=[ID, TIME, column]), on=[ID, TIME], how="left")[column]
            fallback = out.apply(lambda r, c=column: self._season_ago(tail, r[ID], r["step"], c), axis=1)
            out[column] = pd.to_numeric(values, errors="coerce").fillna(fallback).to_numpy(dtype=float)
        return out

    def _season_ago(self, tail: pd.DataFrame, key: str, step: int, column: str) -> float:
        values = tail.loc[tail[ID] == key, column].to_numpy(dtype=float)
        if not len(values):
            return float("nan")
        back = self.season_length - (step - 1) % self.season_length
        return float(values[-back]) if back <= len(values) else float(values[-1])


def step_span(frequency: str) -> pd.Timedelta:
    """The length of one step of `frequency` (a calendar step such as MS measured at its first use)."""
    stamps = pd.date_range("2001-01-01", periods=2, freq=frequency)
    return stamps[1] - stamps[0]
