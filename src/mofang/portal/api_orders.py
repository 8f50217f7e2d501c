"""REST API: uploads, orders, jobs with their process records, and live job progress (SSE)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mofang.core.errors import MofangError, NotFoundError
from mofang.portal import ordering, records, uploads
from mofang.portal.auth import Caller, PortalState, current_caller, portal_state
from mofang.portal.events import job_events
from mofang.portal.i18n import LANG_COOKIE, LANGUAGES
from mofang.portal.listing import JOB_STATUSES, MAX_PER_PAGE, PER_PAGE, OrderQuery, find_orders
from mofang.portal.ordering import OrderForm
from mofang.scheduling.queue import Queue
from mofang.scheduling.tables import STATES
from mofang.security.vault import open_vault

router = APIRouter(prefix="/api/v1", tags=["orders"])
TenantQuery = Query(None, max_length=64, description="Only this tenant (operators; others see their own)")
ReportLangQuery = Query(None, pattern="^(en|zh-CN)$",
                        description="The report's language (default: the portal's language cookie, else en)")
MAX_YAML_CHARS = 200_000


class YamlOrder(BaseModel):
    """An order file's text, as `mofang submit` would read it; data paths name uploads."""

    model_config = ConfigDict(extra="forbid")
    yaml: str = Field(min_length=1, max_length=MAX_YAML_CHARS)
    priority: int = Field(0, ge=-1000, le=1000)


class FormOrder(OrderForm):
    priority: int = Field(0, ge=-1000, le=1000)


def placed(order: Any, job_id: int) -> dict[str, Any]:
    return {"order_id": order.id, "tenant": order.tenant, "task": order.task, "job_id": job_id,
            "state": "queued", "links": {"job": f"/api/v1/jobs/{job_id}", "events": f"/api/v1/jobs/{job_id}/events",
                                         "order": f"/api/v1/orders/{order.id}"}}


# -- uploads ---------------------------------------------------------------------------------------------------
@router.post("/uploads", status_code=201,
             summary="Upload a data file (the request body, encrypted with the tenant's key as it streams to disk)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request, name: str = Query(..., min_length=1, max_length=200,
                                                     description="The file name, e.g. loans.csv"),
                 caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    state: PortalState = portal_state(request)
    caller.allow("order.submit", caller.identity.tenant, what="uploads")
    declared = request.headers.get("content-length")
    return await uploads.receive(request.stream(), vault=open_vault(state.meta, state.home), home=state.home,
                                 tenant=caller.identity.tenant or "", name=name, limit=state.max_upload_bytes,
                                 declared=int(declared) if declared and declared.isdigit() else None)


@router.get("/uploads", summary="The caller's uploads, newest first")
def list_uploads(request: Request, caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    caller.allow("order.read", caller.identity.tenant, what="uploads")
    return uploads.uploads(portal_state(request).home, caller.identity.tenant or "")


@router.get("/uploads/{upload_id}/profile",
            summary="Profile an upload: columns, kinds, masked samples, personal data (a malformed file: 422)")
def profile_upload(upload_id: str, request: Request, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    caller.allow("order.read", caller.identity.tenant, what=f"upload '{upload_id}'")
    state, tenant = portal_state(request), caller.identity.tenant or ""
    return uploads.profile(open_vault(state.meta, state.home), tenant, uploads.find(state.home, tenant, upload_id))


# -- orders ----------------------------------------------------------------------------------------------------
@router.post("/orders", status_code=201, summary="Place an order from YAML text; its job is queued")
def create_order(body: YamlOrder, request: Request, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    order, job_id = ordering.place(caller, portal_state(request).home, body.yaml, priority=body.priority)
    return placed(order, job_id)


@router.post("/orders/form", status_code=201, summary="Place an order from the wizard's form; its job is queued")
def create_order_from_form(body: FormOrder, request: Request,
                           caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    home = portal_state(request).home
    order, job_id = ordering.place(caller, home, body.to_yaml(caller, home), priority=body.priority)
    return placed(order, job_id)


@router.get("/orders", summary="Orders with their latest job, newest first: filtered, searched, one page at a time",
            description="The total and the page are in the headers X-Total-Count, X-Page, X-Per-Page and Link "
                        "(rel next/prev).")
def list_orders(response: Response, tenant: str | None = TenantQuery,
                status: str | None = Query(None, max_length=16, description="The latest job's status: "
                                           + ", ".join(JOB_STATUSES)),
                q: str | None = Query(None, max_length=200, description="Words in the order id or description"),
                page: int = Query(1, ge=1, le=1_000_000), per_page: int = Query(PER_PAGE, ge=1, le=MAX_PER_PAGE),
                caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    shown = caller.tenant_filter(tenant)
    caller.allow("order.read", shown, what=f"tenant '{shown}'")
    found = find_orders(caller, shown, OrderQuery(status or None, q, page, per_page))
    response.headers.update({"X-Total-Count": str(found.total), "X-Page": str(found.page),
                             "X-Per-Page": str(found.per_page)})
    links = [f'<{_page_url(tenant, status, q, n, per_page)}>; rel="{rel}"'
             for n, rel in ((page + 1, "next"), (page - 1, "prev")) if 1 <= n <= found.pages]
    if links:
        response.headers["Link"] = ", ".join(links)
    return found.orders


def _page_url(tenant: str | None, status: str | None, q: str | None, page: int, per_page: int) -> str:
    asked = {"tenant": tenant, "status": status, "q": q, "page": page, "per_page": per_page}
    return "/api/v1/orders?" + urlencode({k: v for k, v in asked.items() if v})


@router.get("/orders/{order_id}", summary="An order, its jobs, stations, processes and the reasons for choices")
def get_order(order_id: str, tenant: str | None = TenantQuery,
              caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    record = caller.view.order(order_id, caller.tenant_filter(tenant))
    caller.allow("order.read", record.tenant_id, what=f"order '{order_id}'")
    return records.order_view(record, detailed=True)


@router.post("/orders/{order_id}/cancel", summary="Cancel the order's queued or running job")
def cancel_order(order_id: str, tenant: str | None = TenantQuery,
                 caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    job = ordering.active_job(caller, order_id, tenant)
    return {"job_id": job.id, "state": ordering.cancel(caller, job.id)}


@router.get("/orders/{order_id}/report", response_class=HTMLResponse,
            summary="The order's evaluation report (HTML with its plots), decrypted for its tenant")
def order_report(order_id: str, request: Request, tenant: str | None = TenantQuery,
                 job: int | None = Query(None, ge=1, le=2**62), lang: str | None = ReportLangQuery,
                 caller: Caller = Depends(current_caller)) -> HTMLResponse:
    html = records.order_report(caller, portal_state(request).home, order_id, tenant, job,
                                lang=report_language(request, lang))
    return report_response(html)


def report_language(request: Request, lang: str | None) -> str:
    """The language a report is read in: the one asked for, else the portal's language cookie, else English
    (an API client that asks for nothing gets report.html as before)."""
    cookie = request.cookies.get(LANG_COOKIE)
    return lang or (cookie if cookie in LANGUAGES else "en")


def report_response(html: bytes) -> HTMLResponse:
    """A stored report, sandboxed: it may show its own inline plots and styles, and run or fetch nothing."""
    return HTMLResponse(html, headers={"Content-Security-Policy": "default-src 'none'; img-src data:; "
                                                                  "style-src 'unsafe-inline'; frame-ancestors 'self'",
                                       "X-Content-Type-Options": "nosniff"})


# -- jobs ------------------------------------------------------------------------------------------------------
@router.get("/jobs", summary="Jobs in the queue: state, priority, attempts, last error")
def list_jobs(tenant: str | None = TenantQuery, state: str | None = Query(None, max_length=16),
              limit: int = Query(50, ge=1, le=1000), caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    if state is not None and state not in STATES:
        raise MofangError(f"unknown state '{state}' (expected: {', '.join(STATES)})")
    shown = caller.tenant_filter(tenant)
    if shown is not None:
        caller.allow("job.read", shown, what=f"tenant '{shown}'")
    queue = Queue(caller.view)
    try:
        views = queue.jobs(tenant=shown, states=(state,) if state else None, limit=limit)
    finally:
        queue.close()
    return [job_entry(v) for v in views]


def job_entry(view: Any) -> dict[str, Any]:
    return {"job_id": view.job_id, "tenant": view.tenant, "order_id": view.order_id, "state": view.state,
            "job_status": view.job_status, "priority": view.priority, "attempts": view.attempts,
            "max_attempts": view.max_attempts, "lease_owner": view.lease_owner, "needs": view.needs,
            "cpu_s": view.cpu_s, "error_kind": view.error_kind, "last_error": view.last_error,
            "cancel_requested": view.cancel_requested, "submitted_at": records.when(view.submitted_at)}


@router.get("/jobs/{job_id}", summary="A job with its station and process records")
def get_job(job_id: int, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return records.job_detail(caller, _job_id(job_id))


@router.post("/jobs/{job_id}/cancel", summary="Cancel a queued job or stop a running one")
def cancel_job(job_id: int, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return {"job_id": job_id, "state": ordering.cancel(caller, _job_id(job_id))}


@router.post("/jobs/{job_id}/retry", summary="Queue a failed, cancelled or interrupted job again")
def retry_job(job_id: int, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    job = caller.view.job(_job_id(job_id))
    caller.allow("job.resume", job.tenant_id, what=f"job {job_id}")
    queue = Queue(caller.meta)
    try:
        queue.retry(job_id)
    finally:
        queue.close()
    return {"job_id": job_id, "state": "queued"}


@router.get("/jobs/{job_id}/events", summary="Live progress per station and process (text/event-stream)",
            response_class=StreamingResponse)
def job_progress(job_id: int, caller: Caller = Depends(current_caller)) -> StreamingResponse:
    records.job_detail(caller, _job_id(job_id))  # found and authorized before the stream opens

    def snapshot() -> dict[str, Any]:
        return records.job_detail(caller, job_id)

    return StreamingResponse(job_events(snapshot), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _job_id(job_id: int) -> int:
    if not 1 <= job_id <= 2**62:
        raise NotFoundError(f"no job {job_id}")
    return job_id
