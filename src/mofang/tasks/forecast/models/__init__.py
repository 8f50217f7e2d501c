"""Time-series forecasting: seasonal naive, statsforecast's AutoETS/AutoARIMA/AutoTheta and a global LightGBM
on lag and calendar features, backtested over rolling windows, with conformal prediction intervals."""

from mofang.tasks.forecast.models.backtest import Backtest, backtest
from mofang.tasks.forecast.models.forecasters import Forecaster, make_forecaster
from mofang.tasks.forecast.models.intervals import ConformalIntervals
from mofang.tasks.forecast.models.metrics import forecast_metrics
from mofang.tasks.forecast.models.product import ForecastModel, UnknownSeries

__all__ = ["Backtest", "ConformalIntervals", "ForecastModel", "Forecaster", "UnknownSeries", "backtest",
           "forecast_metrics", "make_forecaster"]
