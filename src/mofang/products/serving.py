"""The served product: load a bundle and answer `POST /predict` with FastAPI.

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""


import json
import math
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, create_model

from mofang import __version__
from mofang.core.errors import MofangError
from mofang.data.missing import MISSING
from mofang.integration.bundle import KIND_APP, MAX_ROWS, MAX_TEXT_CHARS, Bundle
from mofang.integration.openai_api import tool_routes
from mofang.models.features import coerce_value
from mofang.products.body_limit import BodyLimit, max_body_bytes
from mofang.products.runtime import ProductRuntime, api_key, install, key_check, scrape_access
from mofang.products.telemetry import CallAudit, ServingMetrics

MAX_NUMBER = 1e15  # |x| of a number in a served row at most (beyond: a 422; amounts and ids fit, 2**70 does not)
MAX_VALUE_CHARS = 10_000  # a string in a served row's field that is not a text feature (text: MAX_TEXT_CHARS)
LIMITS = {"rows": MAX_ROWS, "number_abs": MAX_NUMBER, "text_chars": MAX_TEXT_CHARS, "value_chars": MAX_VALUE_CHARS}
MISSING_POLICIES = {  # what a missing (left out or null) feature of a served row means; a product's schema says
    "impute": "a feature left out or null is missing: the model imputes it as it did in training",
    "reject": "every feature must be sent with a value: one left out or null is a 422"}
SHOWN_CHARS = 200  # a value quoted in an error message or a 422 body is cut to this many characters
DOCS_PATHS = ("/openapi.json", "/docs", "/redoc")


def create_app(bundle: Bundle, *, version: int | None = None,
               guard: Callable[[str | None], Any] | None = None, store: Any = None, metrics: Any = None,
               batching: bool = True, max_wait_ms: float = 0.0) -> FastAPI:
    """The product's API: POST /predict (a retrieval product: POST /ask; a forecast: POST /forecast; an anomaly
    detector: POST /score; a chat product: POST /v1/chat/completions), GET /health, GET /metadata, GET /drift,
    POST /feedback (not for retrieval or chat), GET /metrics (Prometheus; on the root app when several products
    are served together, see `multi.serving_app`), OpenAPI docs at /docs. Every kind shares the runtime
    (metrics, drift, feedback, call audit, auth); a kind with routes of its own only adds them (`_kind_app`).

    With a `guard`, every route but GET /health (a bare liveness check: {"status": "ok"}) needs an API key
    (`Authorization: Bearer mf_...` or `X-API-Key`) the guard accepts, the OpenAPI document and its pages
    (/openapi.json, /docs, /redoc) too; the guard raises AuthError (401), Forbidden (403) or NotFoundError (404:
    another tenant's product). GET /metrics also takes the scrape token (`runtime.METRICS_TOKEN_ENV`). `store` (a
    MetaStore) records feedback and the call audit; `metrics` is a shared `ServingMetrics` (a new one, served at
    /metrics, when None). Concurrent /predict requests are micro-batched unless `batching` is False. A request
    body over the server's cap is a 413 (`_limit_body`).
    """
    meta = bundle.metadata
    caller = _caller(guard)
    title = f"{meta['product']}" + (f" v{version}" if version else "")
    kind_app = _kind_app(bundle)
    runtime = ProductRuntime(bundle, version, metrics=metrics or ServingMetrics(), meta=store,
                             audit=CallAudit(store) if store is not None else None,
                             batching=batching and kind_app is None,  # micro-batches: POST /predict only
                             max_wait_ms=max_wait_ms)
    scrape = scrape_access([key_check(guard)])
    if kind_app is not None:  # a kind with routes of its own, on the same runtime and shared routes
        app = kind_app(bundle, version, caller, title, runtime)
        _harden(app, caller)
        _limit_body(app)
        install(app, runtime, caller, own_metrics=metrics is None, scrape=scrape)
        app.state.runtime = runtime  # the multi-product server settles its drift and flushes its audit
        return app
    app = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"{meta['task']} model predicting `{meta['target']}` "
                              f"(family {meta['family']}, order {meta['order_id']}).",
                  openapi_url=None, docs_url=None, redoc_url=None)
    row_model = _row_model(bundle.schema, parsed=True)
    request_model = create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"),
        rows=(list[row_model], Field(min_length=1, max_length=MAX_ROWS,
                                     description="Rows to score; fields as in the training data. Missing fields: "
                                                 f"{MISSING_POLICIES[missing_policy(bundle.schema)]}.")))
    stats = {"requests": 0, "rows": 0, "started": time.time()}

    _common_routes(app, bundle, version, caller, stats)
    _harden(app, caller)
    _limit_body(app)
    install(app, runtime, caller, own_metrics=metrics is None, scrape=scrape)
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
    /feedback, instrumentation) and guards its OpenAPI document. It may set up the runtime first
    (`ProductRuntime.not_monitored`, `ProductRuntime.outcomes`)."""
    return bundle.spec.hook(KIND_APP)


def _common_routes(app: FastAPI, bundle: Bundle, version: int | None, caller: Callable[..., None],
                   stats: dict[str, Any]) -> None:
    """GET /health (open: a bare liveness check that names nothing) and GET /metadata (guarded: the product,
    its schema, limits and missing-field policy, uptime and requests served), the same for every kind."""
    meta = bundle.metadata

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata", dependencies=[Depends(caller)])
    def metadata() -> dict[str, Any]:
        limits = {**LIMITS, "body_bytes": app.state.max_body_bytes}  # set by _limit_body before serving
        return {"version": version, "schema": bundle.schema, **meta, "missing_fields": missing_policy(bundle.schema),
                "limits": limits, "uptime_s": round(time.time() - stats["started"], 1), "requests": stats["requests"]}

    tool_routes(app, bundle, caller)  # GET /tool: the OpenAI / MCP tool description (integration workshop)


def missing_policy(schema: dict[str, Any]) -> str:
    """A product's missing-field policy: `missing_fields` in its schema, "impute" (the default) or "reject"."""
    policy = schema.get("missing_fields") or "impute"
    if policy not in MISSING_POLICIES:
        raise MofangError(f"unknown missing_fields policy '{policy}' (known: {', '.join(MISSING_POLICIES)})")
    return str(policy)


def _limit_body(app: FastAPI) -> None:
    """Cap the request body (`body_limit.BodyLimit`, a 413 over it): at the cap a kind's app declares in
    `app.state.max_body_bytes` (one that takes files), else the default; MOFANG_MAX_BODY_BYTES overrides both."""
    app.state.max_body_bytes = max_body_bytes(getattr(app.state, "max_body_bytes", None))
    app.add_middleware(BodyLimit, max_bytes=app.state.max_body_bytes)


def _harden(app: FastAPI, caller: Callable[..., Any]) -> None:
    """Serve the OpenAPI document, Swagger UI and ReDoc behind `caller` (FastAPI's open routes for them
    removed), and answer a 422 with a JSON-safe body."""
    app.router.routes[:] = [r for r in app.router.routes
                            if getattr(r, "path", None) not in (*DOCS_PATHS, app.swagger_ui_oauth2_redirect_url)]
    app.openapi_url = app.docs_url = app.redoc_url = None
    app.add_exception_handler(RequestValidationError, unprocessable)  # type: ignore[arg-type]
    generate = app.openapi

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _declare_refusals(generate())
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(caller)])
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(caller)])
    def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app, SWAGGER))

    @app.get("/redoc", include_in_schema=False, dependencies=[Depends(caller)])
    def redoc() -> HTMLResponse:
        return HTMLResponse(_docs_page(app, REDOC))


ERROR_SCHEMA = {"title": "Error", "type": "object", "properties": {"detail": {"type": "string"}},
                "required": ["detail"]}
REFUSALS = {"401": "No valid API key (none, malformed, unknown, revoked or expired)",
            "403": "The key's role may not call this route",
            "404": "Another tenant's product, or an object this product does not know (a series, a reference)"}


def _declare_refusals(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with what a guarded route may answer besides its result: 401, 403 and 404 with
    {"detail": text} (and 400 for a body that cannot be read, 413 for one over the cap), and a 422 that may name
    its problem in words (a kind's own check) as well as FastAPI's list of field errors."""
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    document.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or not operation.get("security"):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in REFUSALS.items():
                responses.setdefault(status, {"description": description, "content": error})
            if "requestBody" in operation:
                responses.setdefault("400", {"description": "A body that cannot be read (not UTF-8)", "content": error})
                responses.setdefault("413", {"description": "A body over the server's cap (MOFANG_MAX_BODY_BYTES)",
                                             "content": error})
            invalid = responses.get("422", {}).get("content", {}).get("application/json")
            if invalid is not None and "schema" in invalid:
                invalid["schema"] = {"anyOf": [invalid["schema"], {"$ref": "#/components/schemas/Error"}]}
    return document


SWAGGER = ('<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">'
           '<div id="ui"></div><script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js">'
           '</script><script>SwaggerUIBundle({spec: SPEC, dom_id: "#ui", persistAuthorization: true})</script>')
REDOC = ('<div id="ui"></div><script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js">'
         '</script><script>Redoc.init(SPEC, {}, document.getElementById("ui"))</script>')


def _docs_page(app: FastAPI, page: str) -> str:
    """An API page with the OpenAPI document inside it (the page was fetched with a key, which a browser would
    not send again to fetch /openapi.json), escaped for a script element."""
    spec = _script_json(app.openapi())
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>API</title></head><body>'
            f'{page.replace("SPEC", spec)}<script>document.title = {_script_json(app.title)}</script></body></html>')


def _script_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace(
        "&", "\\u0026")


async def unprocessable(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, its values made JSON-safe: no NaN or infinity (JSON cannot carry them), no integer beyond
    a double, no long string or raw bytes echoed back (the portal answers its 422s with it too)."""
    errors = [{**error, **{k: _safe(error[k]) for k in ("input", "ctx") if k in error}} for error in exc.errors()]
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def _safe(value: Any, depth: int = 0) -> Any:
    """`value` as a 422 body may show it: non-finite floats, integers beyond a double and long strings as
    `_shown` text; containers cut to 20 items and 4 levels."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float | str):
        return _shown(value) if _unsafe(value) else value
    if isinstance(value, dict):
        return {str(k)[:SHOWN_CHARS]: _safe(v, depth + 1) for k, v in list(value.items())[:20]} if depth < 4 else "…"
    if isinstance(value, list | tuple):
        return [_safe(v, depth + 1) for v in value[:20]] if depth < 4 else "…"
    return _shown(value)


def _unsafe(value: int | float | str) -> bool:
    if isinstance(value, str):
        return len(value) > SHOWN_CHARS
    if isinstance(value, float):
        return not math.isfinite(value)
    return abs(value) > 2**53


def _shown(value: Any) -> str:
    """A value as an error quotes it: its repr cut to SHOWN_CHARS characters (a long integer by its size)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


class _Bearer(HTTPBearer):
    """`Authorization: Bearer mf_...`, declared as the OpenAPI security scheme `bearer` and read as sent."""

    async def __call__(self, request: Request) -> str | None:  # type: ignore[override]
        return request.headers.get("authorization")


BEARER = _Bearer(auto_error=False, scheme_name="bearer", description="An API key: `Authorization: Bearer mf_...`")
X_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key")


def _caller(guard: Callable[[str | None], Any] | None) -> Callable[..., Any]:
    """A FastAPI dependency that checks the request's API key with `guard` (see `runtime.key_check`) and gives
    the caller's identity (None when unguarded). Its two ways to send a key are the guarded routes' security
    schemes in the OpenAPI document."""
    check = key_check(guard)
    if check is None:
        async def open_endpoint() -> None:  # no key to read: no header parameters to parse either
            return None

        return open_endpoint

    async def caller(authorization: str | None = Depends(BEARER), x_api_key: str | None = Depends(X_API_KEY)) -> Any:
        return await check(api_key(authorization, x_api_key))

    return caller


def _row_model(schema: dict[str, Any], parsed: bool = False) -> type[BaseModel]:
    """A pydantic model of one input row: each feature typed by its kind (in the OpenAPI document too); unknown
    fields rejected so a misspelt field gets a 422 naming it instead of being silently treated as missing.
    Columns the training data had but the model does not use (id, target, dropped ones) are accepted and
    ignored, so a client can send rows exactly as they look in the source. A missing feature follows the
    product's `missing_policy`. With `parsed`, a numeric, boolean or date field validates to the value it was
    read as (what the model reads it as: the same numbers, read once per request instead of again by the model
    and the drift monitor)."""
    required = missing_policy(schema) == "reject"
    fields: dict[str, Any] = {}
    for i, feature in enumerate(schema["features"]):
        typed = Annotated[Any, AfterValidator(_readable_as(feature, parsed, required)),
                          WithJsonSchema(_field_schema(feature["kind"], required))]
        fields[f"f{i}"] = (typed, Field(... if required else None, alias=feature["name"]))
    passive = schema.get("ignored") or [c for c in (schema.get("id_column"), schema.get("target")) if c]
    ignored = Annotated[Any, AfterValidator(_plain_scalar), WithJsonSchema(
        {"description": "accepted and ignored", "anyOf": _field_schema("categorical", False)["anyOf"]})]
    for j, name in enumerate(passive):
        fields[f"p{j}"] = (ignored, Field(None, alias=name))
    return create_model("Row", __config__=ConfigDict(extra="forbid", populate_by_name=False), **fields)


def _field_schema(kind: str, required: bool) -> dict[str, Any]:
    """The JSON schema of a feature of `kind`: numbers as numbers, yes/no as booleans, dates and amounts also
    as the text the source data had ("9000元", "12.5%", "2024年3月2日")."""
    number = {"type": "number", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    text = {"type": "string", "maxLength": MAX_TEXT_CHARS if kind == "text" else MAX_VALUE_CHARS}
    types = {"numeric": [number, {**text, "description": "as in the source: '9000元', '12.5%', '1.2万'"}],
             "boolean": [{"type": "boolean"}, {"enum": [0, 1]}, {**text, "description": "'是', 'yes', 'N'..."}],
             "datetime": [{**text, "description": "a date as in the source"}, number],
             "text": [text]}.get(kind, [text, number, {"type": "boolean"}])
    described = f"{kind} feature; " + ("required" if required else "left out or null: imputed")
    return {"description": described, "anyOf": types + ([] if required else [{"type": "null"}])}


def _plain_scalar(value: Any) -> Any:
    """A validator of an ignored column: any single value `_scalar` lets through."""
    return _scalar(value, MAX_VALUE_CHARS)


def _scalar(value: Any, max_chars: int) -> Any:
    """`value` if a served row may carry it in any field: no list or object, no NaN or infinity, no number
    beyond ±MAX_NUMBER, no string longer than `max_chars`."""
    if isinstance(value, dict | list):
        raise ValueError("expected a single value, not a list or object")
    if isinstance(value, str) and len(value) > max_chars:
        raise ValueError(f"a string of {len(value):,} characters is longer than {max_chars:,}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        if abs(value) > MAX_NUMBER:
            raise ValueError(f"{_shown(value)} is out of range (|x| ≤ {MAX_NUMBER:g})")
    return value


def _readable_as(feature: dict[str, Any], parsed: bool = False, required: bool = False) -> Callable[[Any], Any]:
    """A validator: the value must be a `_scalar` that reads as the feature's kind, the way the model will read
    it (its number and date formats too; no boolean for a number or a date; a value when `required`); gives
    the value as sent, or with `parsed` the value it reads as (numeric, boolean and date kinds)."""
    kind, dayfirst = feature["kind"], feature.get("dayfirst")
    formats = {k: feature[k] for k in ("number_format", "date_format") if feature.get(k)} or None
    what = {"numeric": "a number", "datetime": "a date", "boolean": "yes/no"}.get(kind)
    max_chars = MAX_TEXT_CHARS if kind == "text" else MAX_VALUE_CHARS

    def check(value: Any) -> Any:
        value = _scalar(value, max_chars)
        if isinstance(value, bool) and kind in ("numeric", "datetime"):
            raise ValueError(f"expected {what}, not {str(value).lower()}")
        missing = value is None or (isinstance(value, str) and value.strip() in MISSING)
        if missing and required:
            raise ValueError("a value is required (this product's missing_fields policy is 'reject')")
        if what is None:
            return value
        if missing:
            return None
        read = coerce_value(value, kind, dayfirst, formats)
        if read is None or (isinstance(read, float) and not math.isfinite(read)):
            raise ValueError(f"cannot read {_shown(value)} as {what}")
        if isinstance(read, float) and abs(read) > MAX_NUMBER:
            raise ValueError(f"{_shown(value)} is out of range (|x| ≤ {MAX_NUMBER:g})")
        return read if parsed else value

    return check


def _json(answer: dict[str, Any]) -> bytes:
    """JSON bytes as FastAPI's JSONResponse writes them (UTF-8, compact, no NaN)."""
    return json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
