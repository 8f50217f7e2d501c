"""Time-series forecasting: seasonal naive, statsforecast's AutoETS/AutoARIMA/AutoTheta and a global LightGBM
on lag and calendar features, backtested over rolling windows, with conformal prediction intervals."""

from mofang.models.timeseries.backtest import Backtest, backtest
from mofang.models.timeseries.forecasters import Forecaster, make_forecaster
from mofang.models.timeseries.intervals import ConformalIntervals
from mofang.models.timeseries.metrics import forecast_metrics
from mofang.models.timeseries.product import ForecastModel, UnknownSeries

__all__ = ["Backtest", "ConformalIntervals", "ForecastModel", "Forecaster", "UnknownSeries", "backtest",
           "forecast_metrics", "make_forecaster"]
