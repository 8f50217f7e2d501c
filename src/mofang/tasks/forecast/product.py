"""The forecast product: what its bundle is asked with (packaged and smoke-tested by the integration workshop: see
mofang.tasks.forecast.integration) and its API, `POST /forecast` {series_id, horizon} → the forecast with
prediction intervals.

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from mofang import __version__
from mofang.products.serving import MAX_NUMBER, _common_routes, _shown
from mofang.tasks.forecast.models import UnknownSeries

TIME_SERIES_FORECAST = "time-series-forecast"  # the task this product kind serves (its bundle's schema says so)


def forecast_schema(dataset: dict[str, Any], model: Any) -> dict[str, Any]:
    """What a forecast product is asked with: a series id (of the trained ones) and a horizon up to the max."""
    info = dataset["forecast"]
    return {"task": TIME_SERIES_FORECAST, "target": dataset["target"], "id_column": None, "features": [],
            "classes": None, "ignored": [], "series_column": info["series"] if info["series_named"] else None,
            "series": list(model.series_), "max_horizon": model.horizon, "frequency": model.frequency,
            "quantiles": model.quantiles, "known_covariates": model.known}


def covariate_value(value: Any) -> float:
    """A known covariate's value at one forecast step, as a request may give it: a finite JSON number within
    ±MAX_NUMBER; a null, a boolean, text, NaN or an infinity is a ValueError (a 422 whose `loc` names the
    covariate and the step's position), never a value filled in or read as 1."""
    if value is None:
        raise ValueError("a value is required at every forecast step, not null")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, not {_shown(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isnan(number):
        raise ValueError("NaN is not a number: send the covariate's value at this step")
    if isinstance(value, float) and math.isinf(number):
        raise ValueError(f"{_shown(value)} is not a finite number")
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise ValueError(f"{_shown(value)} is out of range (|x| ≤ {MAX_NUMBER:g})")
    return number


Covariate = Annotated[float, Field(ge=-MAX_NUMBER, le=MAX_NUMBER), BeforeValidator(covariate_value)]


def forecast_app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str,
                 runtime: Any) -> FastAPI:
    """A forecast product's API: POST /forecast; GET /health and /metadata as for every product. `runtime` (the
    product's ProductRuntime) counts and audits forecasts; `serving.create_app` adds /metrics, /drift and
    /feedback."""
    meta, model = bundle.metadata, bundle.candidate
    app = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"time-series forecast of `{meta['target']}` for {len(model.series_)} series "
                              f"(family {meta['family']}, order {meta['order_id']}).")
    stats = {"requests": 0, "started": time.time()}

    class ForecastRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        series_id: str | int = Field(..., description="Id of a series the model was trained on")
        horizon: int = Field(model.horizon, ge=1, description=f"Steps ahead, 1..{model.horizon}")
        known_covariates: dict[str, list[Covariate]] | None = Field(
            None, description="Known-future covariates: per covariate, a finite number for each forecast step "
                              "(else one season earlier is assumed)")

    _common_routes(app, bundle, version, caller, stats)

    def answer(request: ForecastRequest) -> dict[str, Any]:
        if request.horizon > model.horizon:
            raise HTTPException(422, f"horizon {request.horizon} exceeds the trained maximum {model.horizon}")
        try:
            return model.forecast(str(request.series_id), request.horizon, request.known_covariates)
        except UnknownSeries as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None

    @app.post("/forecast")
    def forecast(request: ForecastRequest, identity: Any = Depends(caller)) -> dict[str, Any]:
        error = True
        try:
            answered = answer(request)
            error = False
        finally:
            runtime.called(identity, "forecast", 1, error)  # one series forecast
        stats["requests"] += 1
        return {"product": meta["product"], "version": version, **answered}

    return app
