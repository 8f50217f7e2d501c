"""The served anomaly product: `POST /score` scores a window of sensor readings (scores + flags).

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
from fastapi import Depends, FastAPI, HTTPException
from pydantic import ConfigDict, Field, create_model

from mofang import __version__
from mofang.core.errors import DataError
from mofang.integration.bundle import MAX_ROWS
from mofang.products.serving import _common_routes, _row_model
from mofang.tasks.anomaly.models import AnomalyModel

ANOMALOUS, NORMAL = "anomalous", "normal"  # the classes scored readings are counted in (mofang_predictions_total)


def score_records(bundle: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Scores and flags for readings in time order (JSON rows); the model's sensors are read from each row,
    and its time column, when sent, starts a new window after a long pause as in training."""
    model = bundle.candidate
    columns = list(model.sensors) + ([model.time_column] if model.time_column else [])
    frame = pd.DataFrame([{name: row.get(name) for name in columns} for row in records], columns=columns)
    if model.time_column and frame[model.time_column].isna().any():
        frame = frame.drop(columns=[model.time_column])  # without every time, the readings are one stream
    answer = model.score_frame(frame)
    flags = [bool(f) for f in answer["flags"]]
    return {"scores": [round(float(s), 6) for s in answer["scores"]], "flags": flags,
            "threshold": float(answer["threshold"]), "anomalies": int(sum(flags)), "window": model.window}


def anomaly_app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str,
                runtime: Any) -> FastAPI:
    """An anomaly product's API: POST /score answers rows of readings; GET /health and /metadata as for every
    product. `runtime` (the product's ProductRuntime) counts scored readings and flags and audits calls;
    `serving.create_app` adds /metrics, /drift and /feedback."""
    meta = bundle.metadata
    window = bundle.candidate.window
    app = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"anomaly-detection model watching {', '.join(bundle.candidate.sensors)} "
                              f"(detector {meta['family']}, order {meta['order_id']}). Send readings in time "
                              f"order; each is scored with the window of {window} readings ending at it, so "
                              f"send {window - 1} readings of history before the ones you need scored at full "
                              "strength.")
    row_model = _row_model(bundle.schema)
    request_model = create_model(
        "ScoreRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row_model], Field(min_length=1, max_length=MAX_ROWS,
                                     description="Sensor readings in time order; fields as in the training data")))
    stats = {"requests": 0, "rows": 0, "started": time.time()}
    _common_routes(app, bundle, version, caller, stats)

    @app.post("/score")
    def score(request: request_model, identity: Any = Depends(caller)) -> dict[str, Any]:  # type: ignore[valid-type]
        records = [row.model_dump(by_alias=True) for row in request.rows]  # type: ignore[attr-defined]
        error = True
        try:
            answer = score_records(bundle, records)
            error = False
        except DataError as exc:
            raise HTTPException(422, str(exc)) from None
        finally:
            runtime.called(identity, "score", len(records), error)
        stats["requests"] += 1
        stats["rows"] += len(records)
        runtime.count_classes({ANOMALOUS: answer["anomalies"], NORMAL: len(records) - answer["anomalies"]})
        return {"product": meta["product"], "version": version, **answer}

    return app


def anomaly_meta(dataset: dict[str, Any], winner: dict[str, Any]) -> dict[str, Any]:
    """What an anomaly product's metadata adds: its sensors, window and calibrated threshold."""
    model = AnomalyModel.load(winner["model_path"])
    info = dataset["anomaly"]
    return {"sensors": model.sensors, "window": model.window, "time_column": info["time_column"],
            "label": info.get("label"), "threshold": model.threshold_, "false_alarm_rate": info["false_alarm_rate"],
            "detector": model.family}
