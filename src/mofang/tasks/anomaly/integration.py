"""The integration workshop for anomaly detection: the detector's sensors, window and threshold in the bundle's
metadata (the `integration.metadata` hook) and a smoke test scoring test readings (the `integration.smoke_test`
override)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mofang.core.errors import MofangError
from mofang.integration.agent_tool import input_schema
from mofang.integration.station import packaged_bundle
from mofang.tasks.anomaly.models import AnomalyModel
from mofang.tasks.anomaly.product import anomaly_meta, score_records


def metadata(dataset: dict[str, Any], winner: dict[str, Any]) -> dict[str, Any]:
    """What an anomaly product's metadata adds (`anomaly`: sensors, window, calibrated threshold)."""

    return {"anomaly": anomaly_meta(dataset, winner)}


def smoke_test(ctx: Any) -> str:
    """The packaged model, loaded the way the server loads it, scores test readings exactly like the trained one."""


    draft, bundle = packaged_bundle(ctx)
    test = ctx.load("test")
    trained = AnomalyModel.load(ctx.load("winner")["model_path"])
    rows = test.head(max(64, 2 * trained.window))
    served = score_records(bundle, rows.to_dict(orient="records"))
    direct = trained.score_frame(rows)
    if not np.allclose(served["scores"], direct["scores"], rtol=1e-5, atol=1e-6) \
            or served["flags"] != [bool(f) for f in direct["flags"]]:
        raise MofangError("the packaged anomaly model scores differently from the trained one")
    ctx.save("bundle", draft)
    return f"bundle loads and scores {len(rows)} test readings like the trained model"


def tool(schema: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The agent tool of an anomaly detector (`integration.tool` hook): readings in, scores and flags out."""

    return {"path": "/score", "input": input_schema(schema), "output": _tool_output(),
            "description": _tool_text(meta)}


def _tool_output() -> dict[str, Any]:
    return {"type": "object", "properties": {"scores": {"type": "array", "items": {"type": "number"}},
                                             "flags": {"type": "array", "items": {"type": "boolean"}},
                                             "threshold": {"type": "number"}}}


def _tool_text(meta: dict[str, Any]) -> str:
    product = meta.get("product", "product")
    return (f"Score sensor readings with the Mofang anomaly detector '{product}': send readings in time order; "
            "returns an anomaly score per reading and flags those at or above the calibrated threshold.")
