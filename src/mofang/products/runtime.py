"""A served product's runtime: micro-batched predictions, metrics, drift monitoring, the call audit, the API-key
check and the routes that come with them (GET /metrics, GET /drift, POST /feedback).

(No `from __future__ import annotations` here: FastAPI must see the request model built at run time.)
"""

import asyncio
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from mofang.core.errors import MofangError, NotFoundError
from mofang.products.batching import MicroBatcher
from mofang.products.feedback import Outcomes, record_feedback, row_outcomes
from mofang.products.monitoring import DriftMonitor
from mofang.products.telemetry import CallAudit, ServingMetrics
from mofang.security.authz import Forbidden

ENDPOINTS = frozenset({"predict", "ask", "forecast", "score", "feedback", "drift", "metadata", "health", "metrics",
                       "completions", "models", "embeddings"})  # the OpenAI routes' last path segments (/v1/...)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
METRICS_TOKEN_ENV = "MOFANG_METRICS_TOKEN"  # a scrape token: `Authorization: Bearer <it>` may read GET /metrics

KeyCheck = Callable[[str | None], Awaitable[Any]]  # an API key -> the caller's identity, or an HTTPException


class ProductRuntime:
    """Everything a served product keeps while it serves, shared by its routes."""

    def __init__(self, bundle: Any, version: int | None, *, metrics: ServingMetrics, meta: Any = None,
                 audit: CallAudit | None = None, batching: bool = True, max_wait_ms: float = 0.0) -> None:
        self.bundle, self.version, self.metrics, self.meta, self.audit = bundle, version, metrics, meta, audit
        self.name = bundle.metadata["product"]
        self.tenant = bundle.metadata.get("tenant")
        reference = getattr(bundle, "reference", None)
        self.unmonitored: str | None = None  # why drift does not apply, where a kind says so (`not_monitored`)
        self.monitor = (DriftMonitor(reference, bundle.schema["features"], product=self.name,
                                     on_result=lambda result: metrics.drift(self.name, result), background=True)
                        if reference and not bundle.is_retrieval else None)
        # what POST /feedback takes (None: no route); a kind with routes of its own may say otherwise
        self.outcomes: Outcomes | None = row_outcomes(bundle.schema)
        self._edges = (reference or {}).get("prediction", {}).get("edges") if not bundle.is_classifier else None
        self.batcher = MicroBatcher(self._predict_and_watch, max_wait_ms=max_wait_ms,
                                    on_batch=metrics.batch_rows.labels(self.name).observe) if batching else None
        # labelled children looked up once: `labels(...)` costs more than the increment it returns
        self._rows = metrics.rows.labels(self.name)
        self._per_class: dict[str, Any] = {}
        self._per_bucket: dict[int, Any] = {}
        self._uppers = [*(f"{e:.6g}" for e in self._edges), "+Inf"] if self._edges is not None else []
        self._edge_array = np.asarray(self._edges, dtype=float) if self._edges is not None else None
        self._per_request: dict[tuple[str, int], Any] = {}
        self._latency: dict[str, Any] = {}

    def not_monitored(self, reason: str) -> None:
        """A kind whose served inputs are not rows to compare with a training reference: GET /drift answers 200
        with `reason` (set by the kind's app, before `install`)."""
        self.unmonitored, self.monitor = reason, None

    async def predict(self, records: list[dict[str, Any]], identity: Any) -> dict[str, Any]:
        """The model's answer for raw rows (batched with concurrent requests), counted and audited."""
        error = True
        try:
            if self.batcher is not None:
                answer = await self.batcher.submit(records)
            else:
                answer = await asyncio.to_thread(self._predict_and_watch, records)
            error = False
            return answer
        finally:
            self.called(identity, "predict", len(records), error)

    def called(self, identity: Any, endpoint: str, rows: int, error: bool) -> None:
        if not error:
            self._rows.inc(rows)
        if self.audit is not None:
            user = getattr(identity, "user", None) or "anonymous"
            self.audit.record(user, getattr(identity, "tenant", None) or self.tenant, self.name, endpoint, rows, error)

    def count_classes(self, counts: dict[str, int]) -> None:
        """Add answers to the predicted-class counter (label -> how many)."""
        for label, count in counts.items():
            child = self._per_class.get(label)
            if child is None:
                child = self._per_class[label] = self.metrics.predicted_class.labels(self.name, str(label))
            child.inc(count)

    def settle(self) -> None:
        """Let the drift windows already full finish (their gauges are part of the metrics)."""
        if self.monitor is not None:
            self.monitor.settle()

    def requested(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency."""
        counter = self._per_request.get((endpoint, status))
        if counter is None:
            counter = self._per_request[(endpoint, status)] = self.metrics.requests.labels(
                self.name, str(self.version), endpoint, str(status))
        counter.inc()
        latency = self._latency.get(endpoint)
        if latency is None:
            latency = self._latency[endpoint] = self.metrics.latency.labels(self.name, endpoint)
        latency.observe(seconds)

    def _predict_and_watch(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """One model call (in a worker thread), then its predictions counted and fed to the drift monitor."""
        answer = self.bundle.predict_records(records)
        predictions = answer["predictions"]
        if self.bundle.is_classifier:
            counts: dict[str, int] = {}
            for p in predictions:
                for label in (p if isinstance(p, list) else (p,)):
                    counts[label] = counts.get(label, 0) + 1
            self.count_classes(counts)
        elif self._edge_array is not None:
            values = np.asarray([np.nan if p is None else p for p in predictions], dtype=float)
            bins = np.searchsorted(self._edge_array, values[~np.isnan(values)], side="left")
            for index in bins.tolist():
                child = self._per_bucket.get(index)
                if child is None:
                    child = self._per_bucket[index] = self.metrics.predicted_bucket.labels(self.name,
                                                                                           self._uppers[index])
                child.inc()
        if self.monitor is not None:
            self.monitor.observe(records, predictions)
        return answer


def api_key(authorization: str | None, x_api_key: str | None) -> str | None:
    """The API key a request sends: `X-API-Key`, else `Authorization: Bearer ...` (None: none sent)."""
    if x_api_key:
        return x_api_key
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def key_check(guard: Callable[[str | None], Any] | None) -> KeyCheck | None:
    """The check of an API key against `guard` (None when unguarded), as an HTTP answer: AuthError is a 401,
    Forbidden a 403, NotFoundError (another tenant's product) a 404. A key the guard verified recently is
    answered from its memory (`guard.remembered`) on the event loop; any other check (scrypt, the metadata
    store) runs in a worker thread."""
    if guard is None:
        return None
    remembered = getattr(guard, "remembered", None)

    async def check(key: str | None) -> Any:
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


def scrape_access(checks: list[KeyCheck | None]) -> Callable[[Request], Awaitable[bool]]:
    """A dependency for GET /metrics: the scrape token (env MOFANG_METRICS_TOKEN, sent as `Authorization: Bearer`
    or `X-API-Key`), or an API key one of `checks` accepts. Open only when nothing is guarded and no token is
    set; with a token and nothing guarded, only the token. It gives True when the caller may read every
    product's series (the token, or an open server), False when an API key was accepted (see `multi`)."""
    token = os.environ.get(METRICS_TOKEN_ENV) or None
    guarded = [c for c in checks if c is not None]

    async def scrape(request: Request) -> bool:
        key = api_key(request.headers.get("authorization"), request.headers.get("x-api-key"))
        if token is not None and key is not None and hmac.compare_digest(key.encode(), token.encode()):
            return True
        if not guarded:
            if token is None:
                return True
            raise HTTPException(401, "send the scrape token as 'Authorization: Bearer ...'",
                                headers={"WWW-Authenticate": "Bearer"})
        refusals: list[HTTPException] = []
        for check in guarded:
            try:
                await check(key)
                return False
            except HTTPException as exc:
                refusals.append(exc)
        raise refusals[0]

    return scrape


def install(app: FastAPI, runtime: ProductRuntime, caller: Callable[..., Any], *, own_metrics: bool,
            scrape: Callable[..., Awaitable[None]] | None = None) -> None:
    """Add GET /drift, POST /feedback (and GET /metrics when the app is served alone, behind `scrape`: see
    `scrape_access`) and the request instrumentation to a product's app."""
    app.add_middleware(_Instrument, runtime=runtime)  # type: ignore[arg-type]
    if own_metrics:
        @app.get("/metrics", include_in_schema=False, dependencies=[Depends(scrape or scrape_access([]))])
        def metrics() -> Response:
            runtime.settle()
            return Response(runtime.metrics.exposition(), media_type=PROMETHEUS_TEXT)

    @app.get("/drift")
    def drift(identity: Any = Depends(caller)) -> dict[str, Any]:
        """Input and prediction drift of served traffic against the training reference."""
        if runtime.unmonitored is not None:
            return {"product": runtime.name, "version": runtime.version, "monitored": False,
                    "reason": runtime.unmonitored}
        if runtime.monitor is None:
            raise HTTPException(404, f"product '{runtime.name}' has no training reference to compare with "
                                     "(delivered before monitoring, a retrieval or a chat product)")
        return runtime.monitor.report()

    _feedback_route(app, runtime, caller)


def _feedback_route(app: FastAPI, runtime: ProductRuntime, caller: Callable[..., Any]) -> None:
    """POST /feedback for a product whose answers have a true outcome to record (not retrieval or chat), the
    rows as its `runtime.outcomes` say."""
    outcomes = runtime.outcomes
    if outcomes is None:  # no outcome column to correct
        return

    class FeedbackRequest(BaseModel):
        model_config = ConfigDict(extra="forbid")
        rows: list[dict[str, Any]] = Field(min_length=1, max_length=10_000, description=outcomes.describe())

    @app.post("/feedback")
    def feedback(request: FeedbackRequest, identity: Any = Depends(caller)) -> dict[str, Any]:
        """Record true outcomes (or corrections) for the improvement loop (`mofang improve`)."""
        if runtime.meta is None:
            raise HTTPException(503, "this server has no product registry to record feedback in")
        user = getattr(identity, "user", None) or "anonymous"
        try:
            count = record_feedback(runtime.meta, tenant=runtime.tenant, product=runtime.name,
                                    version=runtime.version, outcomes=outcomes, rows=request.rows, caller=user)
        except MofangError as exc:
            runtime.called(identity, "feedback", len(request.rows), True)
            raise HTTPException(422, str(exc)) from None
        runtime.called(identity, "feedback", count, False)
        return {"product": runtime.name, "version": runtime.version, "recorded": count}


class _Instrument:
    """Pure ASGI middleware: request count by status and latency per endpoint (cheaper than BaseHTTPMiddleware)."""

    def __init__(self, app: Any, runtime: ProductRuntime) -> None:
        self.app, self.runtime = app, runtime

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        endpoint = scope["path"].rstrip("/").rsplit("/", 1)[-1]
        endpoint = endpoint if endpoint in ENDPOINTS else "other"
        status = 500
        start = time.perf_counter()

        async def sending(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if endpoint not in ("metrics", "health"):
                self.runtime.requested(endpoint, status, time.perf_counter() - start)
