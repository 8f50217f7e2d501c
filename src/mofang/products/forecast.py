"""The forecast product: its bundle (packaged and smoke-tested by the integration workshop) and its API,
`POST /forecast` {series_id, horizon} → the forecast with prediction intervals.

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import json
import shutil
import time
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from mofang import __version__
from mofang.core.errors import MofangError

TIME_SERIES_FORECAST = "time-series-forecast"
BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", "report.html")


def forecast_schema(dataset: dict[str, Any], model: Any) -> dict[str, Any]:
    """What a forecast product is asked with: a series id (of the trained ones) and a horizon up to the max."""
    info = dataset["forecast"]
    return {"task": TIME_SERIES_FORECAST, "target": dataset["target"], "id_column": None, "features": [],
            "classes": None, "ignored": [], "series_column": info["series"] if info["series_named"] else None,
            "series": list(model.series_), "max_horizon": model.horizon, "frequency": model.frequency,
            "quantiles": model.quantiles, "known_covariates": model.known}


def package_forecast(ctx: Any) -> str:
    """The integration workshop's package process for a forecast: the refit model, schema, metadata, model
    card and report in the bundle folder."""
    from mofang.integration.model_card import model_card
    from mofang.models.timeseries import ForecastModel

    dataset, winner, evaluation = ctx.load("dataset"), ctx.load("winner"), ctx.load("evaluation")
    folder = ctx.path("bundle")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    source = evaluation.get("delivered_model_path") or winner["model_path"]
    shutil.copyfile(source, folder / "model.joblib")
    model = ForecastModel.load(source)
    schema = forecast_schema(dataset, model)
    (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
    info = dataset["forecast"]
    meta = {"product": ctx.order.id, "tenant": ctx.tenant, "order_id": ctx.order.id, "job_id": ctx.job_id,
            "task": TIME_SERIES_FORECAST, "target": dataset["target"], "family": winner["family"],
            "candidate": winner["name"], "dataset_digest": dataset["digest"], "rows": dataset["rows"],
            "features": dataset["features"], "dropped": dataset.get("dropped", []), "classes": None,
            "metrics": evaluation["metrics"], "gate": evaluation["gate"], "verdict": evaluation["verdict"],
            "deployment": ctx.order.deployment.target, "reason": winner.get("reason", ""),
            "forecast": {"series": len(model.series_), "max_horizon": model.horizon, "frequency": model.frequency,
                         "season_length": info["season_length"], "quantiles": model.quantiles,
                         "known_covariates": model.known, "history_ends": str(model.history_["ds"].max()),
                         "refit_on_all_history": source != winner["model_path"]}}
    (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str), "utf-8")
    card = model_card(meta) + (
        f"\n## Serving\n\n`POST /forecast` with `{{\"series_id\": ..., \"horizon\": 1..{model.horizon}}}` returns the "
        f"forecast of `{dataset['target']}` per {model.frequency} step with quantiles "
        f"{', '.join(f'{q:g}' for q in model.quantiles)}.\n")
    (folder / "model_card.md").write_text(card, "utf-8")
    shutil.copyfile(evaluation["report_path"], folder / "report.html")
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    ctx.metric(bundle_mb=round(size_mb, 3))
    ctx.save("bundle_draft", {"path": str(folder), "files": list(BUNDLE_FILES)})
    return f"bundle of {len(BUNDLE_FILES)} files, {size_mb:.2f} MB"


def edge_forecast(ctx: Any) -> str:
    """A forecast product is served (POST /forecast); it has no ONNX edge archive."""
    why = "a forecast model is served (POST /forecast), not exported to ONNX"
    from mofang.integration.edge_process import no_edge_bundle

    return no_edge_bundle(ctx, why)


def smoke_test_forecast(ctx: Any, bundle: Any, draft: dict[str, Any]) -> str:
    """The packaged model answers a few series exactly like the model it was copied from."""
    from mofang.models.timeseries import ForecastModel

    evaluation, winner = ctx.load("evaluation"), ctx.load("winner")
    direct = ForecastModel.load(evaluation.get("delivered_model_path") or winner["model_path"])
    series = direct.series_[:8]
    for key in series:
        if bundle.candidate.forecast(key) != direct.forecast(key):
            raise MofangError(f"the packaged model forecasts series {key} differently from the trained one")
    ctx.save("bundle", draft)
    return f"bundle loads and forecasts {len(series)} series like the trained model"


def forecast_app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str,
                 runtime: Any) -> FastAPI:
    """A forecast product's API: POST /forecast; GET /health and /metadata as for every product. `runtime` (the
    product's ProductRuntime) counts and audits forecasts; `serving.create_app` adds /metrics, /drift and
    /feedback."""
    from mofang.models.timeseries import UnknownSeries
    from mofang.products.serving import _common_routes

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
