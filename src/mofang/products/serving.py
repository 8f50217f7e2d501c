"""The served product: load a bundle and answer `POST /predict` with FastAPI.

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""


import json
import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model

from mofang import __version__
from mofang.core.errors import MofangError, NotFoundError
from mofang.data.missing import MISSING
from mofang.integration.bundle import KIND_APP, MAX_ROWS, MAX_TEXT_CHARS, Bundle
from mofang.integration.openai_api import tool_routes
from mofang.models.features import coerce_value
from mofang.products.runtime import ProductRuntime, install
from mofang.products.telemetry import CallAudit, ServingMetrics
from mofang.security.authz import Forbidden


def create_app(bundle: Bundle, *, version: int | None = None,
               guard: Callable[[str | None], Any] | None = None, store: Any = None, metrics: Any = None,
               batching: bool = True, max_wait_ms: float = 0.0) -> FastAPI:
    """The product's API: POST /predict (a retrieval product: POST /ask; a forecast: POST /forecast; an anomaly
    detector: POST /score; a chat product: POST /v1/chat/completions), GET /health, GET /metadata, GET /drift,
    POST /feedback (not for retrieval or chat), GET /metrics (Prometheus; on the root app when several products
    are served together, see `multi.serving_app`), OpenAPI docs at /docs. Every kind shares the runtime
    (metrics, drift, feedback, call audit, auth); a kind with routes of its own only adds them (`_kind_app`).

    With a `guard`, every route but /health and /metrics needs an API key (`Authorization: Bearer mf_...` or
    `X-API-Key`); the guard raises AuthError (401), Forbidden (403) or NotFoundError (404: another tenant's
    product). `store` (a MetaStore) records feedback and the call audit; `metrics` is a shared
    `ServingMetrics` (a new one, served at /metrics, when None). Concurrent /predict requests are
    micro-batched unless `batching` is False.
    """
    meta = bundle.metadata
    caller = _caller(guard)
    title = f"{meta['product']}" + (f" v{version}" if version else "")
    kind_app = _kind_app(bundle)
    runtime = ProductRuntime(bundle, version, metrics=metrics or ServingMetrics(), meta=store,
                             audit=CallAudit(store) if store is not None else None,
                             batching=batching and kind_app is None,  # micro-batches: POST /predict only
                             max_wait_ms=max_wait_ms)
    if kind_app is not None:  # a kind with routes of its own, on the same runtime and shared routes
        app = kind_app(bundle, version, caller, title, runtime)
        install(app, runtime, caller, own_metrics=metrics is None)
        app.state.runtime = runtime  # the multi-product server settles its drift and flushes its audit
        return app
    app = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"{meta['task']} model predicting `{meta['target']}` "
                              f"(family {meta['family']}, order {meta['order_id']}).")
    row_model = _row_model(bundle.schema, parsed=True)
    request_model = create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row_model], Field(min_length=1, max_length=MAX_ROWS,
                                     description="Rows to score; fields as in the training data")))
    stats = {"requests": 0, "rows": 0, "started": time.time()}

    _common_routes(app, bundle, version, caller, stats)
    install(app, runtime, caller, own_metrics=metrics is None)
    app.state.runtime = runtime

    @app.post("/predict", response_class=JSONResponse)
    async def predict(request: request_model, identity: Any = Depends(caller)) -> Response:  # type: ignore[valid-type]
        # rows as validated: numeric, boolean and date fields already read (once) into their values
        records = [row.model_dump(by_alias=True) for row in request.rows]  # type: ignore[attr-defined]
        answer = await runtime.predict(records, identity)
        stats["requests"] += 1
        stats["rows"] += len(records)
        # the answer holds plain JSON values already (see predict_records): no jsonable_encoder pass
        return Response(_json({"product": meta["product"], "version": version, **answer}),
                        media_type="application/json")

    return app


def _kind_app(bundle: Bundle) -> Callable[..., FastAPI] | None:
    """The app builder of a product kind that answers with routes of its own: its task's `serving.app` hook
    (None: rows at POST /predict). Each is called as (bundle, version, caller, title, runtime) and returns a
    FastAPI app with `_common_routes` and its own routes; `create_app` adds the runtime's (/metrics, /drift,
    /feedback, instrumentation). It may set up the runtime first (`ProductRuntime.not_monitored`,
    `ProductRuntime.outcomes`)."""
    return bundle.spec.hook(KIND_APP)


def _common_routes(app: FastAPI, bundle: Bundle, version: int | None, caller: Callable[..., None],
                   stats: dict[str, Any]) -> None:
    """GET /health (open) and GET /metadata (guarded), the same for every kind of product."""
    meta = bundle.metadata

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "product": meta["product"], "version": version,
                "uptime_s": round(time.time() - stats["started"], 1), "requests": stats["requests"]}

    @app.get("/metadata", dependencies=[Depends(caller)])
    def metadata() -> dict[str, Any]:
        return {"version": version, "schema": bundle.schema, **meta}

    tool_routes(app, bundle, caller)  # GET /tool: the OpenAI / MCP tool description (integration workshop)




def _caller(guard: Callable[[str | None], Any] | None) -> Callable[..., Any]:
    """A FastAPI dependency that checks the request's API key with `guard` and gives the caller's identity
    (None when unguarded). It runs on the event loop: a key the guard verified recently is answered from its
    memory (`guard.remembered`) without a trip to the thread pool; any other check (scrypt, the metadata store)
    runs in a worker thread."""
    import asyncio

    from fastapi import Header, HTTPException

    if guard is None:
        async def open_endpoint() -> None:  # no key to read: no header parameters to parse either
            return None

        return open_endpoint
    remembered = getattr(guard, "remembered", None)

    async def check(authorization: str | None = Header(None), x_api_key: str | None = Header(None)) -> Any:
        key = x_api_key or (authorization[7:].strip() if authorization and authorization[:7].lower() == "bearer "
                            else None)
        if key and remembered is not None:
            identity = remembered(key)
            if identity is not None:
                return identity
        try:
            return await asyncio.to_thread(guard, key)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        except MofangError as exc:
            status = 403 if isinstance(exc, Forbidden) else 401
            raise HTTPException(status, str(exc),
                                headers={"WWW-Authenticate": "Bearer"} if status == 401 else None) from None

    return check


def _row_model(schema: dict[str, Any], parsed: bool = False) -> type[BaseModel]:
    """A pydantic model of one input row: each feature typed by its kind; unknown fields rejected so a
    misspelt field gets a 422 naming it instead of being silently treated as missing. Columns the
    training data had but the model does not use (id, target, dropped ones) are accepted and ignored,
    so a client can send rows exactly as they look in the source. With `parsed`, a numeric, boolean or
    date field validates to the value it was read as (what the model reads it as: the same numbers,
    read once per request instead of again by the model and the drift monitor)."""
    fields: dict[str, Any] = {}
    for i, feature in enumerate(schema["features"]):
        check = AfterValidator(_readable_as(feature, parsed))
        fields[f"f{i}"] = (Annotated[Any, check], Field(None, alias=feature["name"]))
    passive = schema.get("ignored") or [c for c in (schema.get("id_column"), schema.get("target")) if c]
    for j, name in enumerate(passive):
        fields[f"p{j}"] = (Any, Field(None, alias=name, description="accepted and ignored"))
    return create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)


def _any_scalar(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise ValueError("expected a single value, not a list or object")
    return value


def _readable_as(feature: dict[str, Any], parsed: bool = False):
    """A validator: the value must read as the feature's kind, the way the model will read it; gives the
    value as sent, or with `parsed` the value it reads as (numeric, boolean and date kinds)."""
    kind, dayfirst = feature["kind"], feature.get("dayfirst")
    what = {"numeric": "a number", "datetime": "a date", "boolean": "yes/no"}.get(kind)

    def check(value: Any) -> Any:
        value = _any_scalar(value)
        if kind == "text" and isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
            raise ValueError(f"text of {len(value):,} characters is longer than {MAX_TEXT_CHARS:,}")
        if what is None:
            return value
        if value is None or (isinstance(value, str) and value.strip() in MISSING):
            return None
        read = coerce_value(value, kind, dayfirst)
        if read is None or (isinstance(read, float) and math.isnan(read)):
            raise ValueError(f"cannot read {value!r} as {what}")
        return read if parsed else value

    return check


def _json(answer: dict[str, Any]) -> bytes:
    """JSON bytes as FastAPI's JSONResponse writes them (UTF-8, compact, no NaN)."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


