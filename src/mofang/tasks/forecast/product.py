"""The forecast product: what its bundle is asked with (packaged and smoke-tested by the integration workshop: see
mofang.tasks.forecast.integration) and its API, `POST /forecast` {series_id, horizon} → the forecast with
prediction intervals.

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from mofang import __version__
from mofang.products.serving import _common_routes
from mofang.tasks.forecast.models import UnknownSeries

TIME_SERIES_FORECAST = "time-series-forecast"  # the task this product kind serves (its bundle's schema says so)


def forecast_schema(dataset: dict[str, Any], model: Any) -> dict[str, Any]:
    """What a forecast product is asked with: a series id (of the trained ones) and a horizon up to the max."""
    info = dataset["forecast"]
    return {"task": TIME_SERIES_FORECAST, "target": dataset["target"], "id_column": None, "features": [],
            "classes": None, "ignored": [], "series_column": info["series"] if info["series_named"] else None,
            "series": list(model.series_), "max_horizon": model.horizon, "frequency": model.frequency,
            "quantiles": model.quantiles, "known_covariates": model.known}


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
        known_covariates: dict[str, list[float]] | None = Field(
            None, description="Known-future covariates per forecast step (else one season earlier is assumed)")

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
