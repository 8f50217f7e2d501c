"""The integration workshop for a forecast (the task's `integration.*` overrides): the refit model packaged with
what it is asked with (series, horizon), no ONNX edge archive, and a smoke test forecasting a few series."""

from __future__ import annotations

import json
import shutil
from typing import Any

from mofang.core.errors import MofangError
from mofang.evaluation.report import REPORT_FILES, copy_reports
from mofang.integration.edge_process import no_edge_bundle
from mofang.integration.model_card import model_card
from mofang.integration.station import packaged_bundle
from mofang.tasks.forecast.models import ForecastModel
from mofang.tasks.forecast.product import forecast_schema

BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", *REPORT_FILES)


def package(ctx: Any) -> str:
    """The refit model, schema, metadata, model card and report in the bundle folder."""

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
            "task": schema["task"], "target": dataset["target"], "family": winner["family"],
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
    copy_reports(evaluation["report_path"], folder)
    size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    ctx.metric(bundle_mb=round(size_mb, 3))
    ctx.save("bundle_draft", {"path": str(folder), "files": list(BUNDLE_FILES)})
    return f"bundle of {len(BUNDLE_FILES)} files, {size_mb:.2f} MB"


def edge_bundle(ctx: Any) -> str:
    """A forecast product is served (POST /forecast); it has no ONNX edge archive."""

    return no_edge_bundle(ctx, "a forecast model is served (POST /forecast), not exported to ONNX")


def smoke_test(ctx: Any) -> str:
    """The packaged model, loaded the way the server loads it, answers a few series exactly like the model it was
    copied from."""

    draft, bundle = packaged_bundle(ctx)
    evaluation, winner = ctx.load("evaluation"), ctx.load("winner")
    direct = ForecastModel.load(evaluation.get("delivered_model_path") or winner["model_path"])
    series = direct.series_[:8]
    for key in series:
        if bundle.candidate.forecast(key) != direct.forecast(key):
            raise MofangError(f"the packaged model forecasts series {key} differently from the trained one")
    ctx.save("bundle", draft)
    return f"bundle loads and forecasts {len(series)} series like the trained model"
