"""The portal's pages: server-rendered Jinja2 over the same calls as the REST API (sign-in, the order
wizard, order progress, reports, data cards, "try it", the operator dashboard and the audit log)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from mofang.core.errors import MofangError, NotFoundError
from mofang.core.tasks import spec as task_spec
from mofang.core.tasks import wizard_tasks
from mofang.devices.health import health, worst
from mofang.devices.inventory import inventory
from mofang.line import stations_for
from mofang.orders import Order
from mofang.portal import i18n, ordering, records, tryit, uploads
from mofang.portal.api_catalog import bundles, checked_rows
from mofang.portal.api_factory import list_tenants, workers_view
from mofang.portal.api_orders import job_entry
from mofang.portal.auth import Caller, optional_caller, portal_state
from mofang.portal.listing import JOB_STATUSES, OrderQuery, find_orders
from mofang.portal.sessions import CSRF_COOKIE, CSRF_FIELD, SESSION_COOKIE
from mofang.scheduling.queue import Queue
from mofang.security.audit import AuditLog
from mofang.security.authz import Forbidden, can
from mofang.security.identity import AuthError

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
STATIONS = ("data", "model", "evaluation", "integration", "delivery")


def page_caller(caller: Caller | None = Depends(optional_caller)) -> Caller:
    """The signed-in caller of a page; without one the error handler redirects to the sign-in page."""
    if caller is None:
        raise AuthError("sign in first")
    return caller


def _lang(request: Request) -> str:
    return i18n.choose(request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language"))


def render(request: Request, template: str, caller: Caller | None = None, status: int = 200,
           **context: Any) -> Response:
    lang = _lang(request)
    who = caller.identity if caller else None
    context.update(request=request, t=i18n.translator(lang), lang=lang, languages=i18n.LANGUAGES, who=who,
                   csrf=caller.session.csrf if caller and caller.session else "",
                   may_audit=bool(who and can(who, "audit.read", who.tenant)),
                   is_operator=bool(who and who.is_operator))
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, message: str) -> Response:
    return render(request, "error.html.j2", status=status, status_code=status, message=message, lang_next="/")


async def checked_form(request: Request, caller: Caller) -> Any:
    """The posted form, once its CSRF token matches the session's."""
    form = await request.form()
    if caller.session is None or not caller.session.csrf_ok(str(form.get(CSRF_FIELD) or "")):
        raise Forbidden("missing or wrong CSRF token; reload the page and try again")
    return form


def _safe_next(target: str | None, default: str) -> str:
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


# -- sign-in and language -------------------------------------------------------------------------------------
@router.get("/")
def home(caller: Caller | None = Depends(optional_caller)) -> Response:
    if caller is None:
        return RedirectResponse("/signin", status_code=303)
    return RedirectResponse("/ops" if caller.wide else "/orders", status_code=303)


@router.get("/signin")
def signin_page(request: Request, next: str | None = None) -> Response:
    token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, "signin.html.j2", signin_csrf=token, next=_safe_next(next, ""), error=None)
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path="/signin")
    return response


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    cookie, posted = request.cookies.get(CSRF_COOKIE), str(form.get(CSRF_FIELD) or "")
    if not cookie or not secrets.compare_digest(cookie, posted):
        raise Forbidden("missing or wrong CSRF token; reload the sign-in page")
    state = portal_state(request)
    try:
        identity = state.identify(str(form.get("api_key") or "").strip())
    except AuthError:
        response = render(request, "signin.html.j2", status=401, signin_csrf=cookie, next=str(form.get("next") or ""),
                          error="signin.failed")
        return response
    sid, _ = state.sessions.open(identity)
    target = _safe_next(str(form.get("next") or ""), "/ops" if identity.is_operator else "/orders")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        max_age=int(state.sessions.ttl_s), path="/")
    response.delete_cookie(CSRF_COOKIE, path="/signin")
    return response


@router.post("/signout")
async def signout(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    form = await checked_form(request, caller)
    sessions = portal_state(request).sessions
    if form.get("everywhere"):  # every browser signed in with this key, in every portal process
        sessions.close_key(caller.identity.key_id)
    sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def set_language(code: str, request: Request, next: str | None = None) -> Response:
    if code not in i18n.LANGUAGES:
        raise NotFoundError(f"no language '{code}'")
    response = RedirectResponse(_safe_next(next, "/"), status_code=303)
    response.set_cookie(i18n.LANG_COOKIE, code, samesite="lax", max_age=365 * 86400, path="/")
    return response


# -- orders ---------------------------------------------------------------------------------------------------
@router.get("/orders")
def orders_page(request: Request, status: str | None = None, q: str | None = None, page: int = 1,
                caller: Caller = Depends(page_caller)) -> Response:
    shown = caller.tenant_filter(None)
    caller.allow("order.read", shown, what="orders")
    asked = OrderQuery(status or None, (q or "")[:200] or None, max(1, page))
    found = find_orders(caller, shown, asked)
    return render(request, "orders.html.j2", caller, orders=found.orders, found=found, asked=asked,
                  statuses=JOB_STATUSES)


@router.get("/orders/new")
def wizard_page(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    caller.allow("order.submit", caller.identity.tenant, what="orders")
    return _wizard(request, caller, error=None)


def _wizard(request: Request, caller: Caller, error: str | None, status: int = 200) -> Response:
    tasks = wizard_tasks()  # retrieval-qa and instruction-tuning orders name folders and checkpoints: YAML only
    metrics = {task: sorted(task_spec(task).metrics) for task in tasks}
    defaults = {task: task_spec(task).wizard_criterion for task in tasks if task_spec(task).wizard_criterion}
    recent = uploads.uploads(portal_state(request).home, caller.identity.tenant or "")[:10]
    return render(request, "wizard.html.j2", caller, status=status, tasks=tasks, metrics=metrics,
                  defaults=defaults, error=error, recent=recent)


@router.post("/orders/new")
async def wizard_submit(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    form = await checked_form(request, caller)
    names, values = form.getlist("metric_name"), form.getlist("metric_value")
    try:
        answers = ordering.OrderForm(
            id=str(form.get("id") or "").strip(), task=str(form.get("task") or ""),
            description=str(form.get("description") or ""),
            uploads=[str(u) for u in form.getlist("uploads") if u],
            target=str(form.get("target") or "") or None, id_column=str(form.get("id_column") or "") or None,
            deny=[str(d) for d in form.getlist("deny")],
            metrics={str(n): str(v) for n, v in zip(names, values, strict=False) if n and str(v).strip()},
            budget_minutes=float(form.get("budget_minutes") or 10))
        home = portal_state(request).home
        order, _ = ordering.place(caller, home, answers.to_yaml(caller, home))
    except (MofangError, ValidationError, ValueError) as exc:
        if isinstance(exc, Forbidden | NotFoundError | AuthError):
            raise
        return _wizard(request, caller, error=str(exc), status=422)
    return RedirectResponse(f"/orders/{order.id}", status_code=303)


@router.get("/orders/{order_id}")
def order_page(order_id: str, request: Request, caller: Caller = Depends(page_caller)) -> Response:
    record = caller.view.order(order_id, caller.tenant_filter(None))
    caller.allow("order.read", record.tenant_id, what=f"order '{order_id}'")
    order = records.order_view(record, detailed=True)
    job = order["job_list"][-1] if order["job_list"] else None
    return render(request, "order.html.j2", caller, order=order, job=job, stations=_line(record.spec, job))


def _planned(spec: dict[str, Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The order's line: each station and its processes, in order (the standard five when it cannot be built)."""
    try:
        return [(s.name, tuple(s.processes)) for s in stations_for(Order.model_validate(spec))]
    except (MofangError, ValidationError, ValueError):
        return [(name, ()) for name in STATIONS]


def _line(spec: dict[str, Any], job: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each station of the line with the job's record of it; processes not started yet are listed pending."""
    found = {s["station"]: s for s in (job or {}).get("stations", [])}
    line = []
    for name, processes in _planned(spec):
        station = dict(found.get(name, {"station": name, "status": "pending", "processes": []}))
        done = {p["name"] for p in station["processes"]}
        station["processes"] = [*station["processes"], *({"name": p, "status": "pending", "seconds": None}
                                                         for p in processes if p not in done)]
        line.append(station)
    return line


@router.get("/orders/{order_id}/report")
def report_page(order_id: str, request: Request, caller: Caller = Depends(page_caller)) -> Response:
    record = caller.view.order(order_id, caller.tenant_filter(None))
    caller.allow("order.read", record.tenant_id, what=f"order '{order_id}'")
    order = records.order_view(record)
    return render(request, "report.html.j2", caller, order=order,
                  source=f"/api/v1/orders/{order_id}/report?lang={_lang(request)}")


# -- products -------------------------------------------------------------------------------------------------
@router.get("/products")
def products_page(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    shown = caller.tenant_filter(None)
    caller.allow("product.read", shown, what="products")
    products = [{"name": p.name, "task": p.task, "versions": [records.version_view(v) for v in p.versions]}
                for p in caller.view.products(shown)]
    return render(request, "products.html.j2", caller, products=products)


def _product(request: Request, caller: Caller, name: str) -> tuple[Any, Any]:
    version = records.product_version(caller, name, None, None)
    return version, bundles(request).get(caller, version)


@router.get("/products/{name}")
def product_page(name: str, request: Request, caller: Caller = Depends(page_caller)) -> Response:
    version, bundle = _product(request, caller, name)
    return render(request, "product.html.j2", caller, name=name, version=records.version_view(version),
                  schema=bundle.schema, fields=tryit.fields(bundle.schema, bundle.reference), answer=None, values={},
                  error=None)


@router.post("/products/{name}/try")
async def try_product(name: str, request: Request, caller: Caller = Depends(page_caller)) -> Response:
    form = await checked_form(request, caller)
    version = records.product_version(caller, name, None, None, action="product.predict")
    bundle = bundles(request).get(caller, version)
    values = {k: str(v) for k, v in form.items() if k != CSRF_FIELD}
    answer, error = None, None
    try:
        if bundle.is_retrieval:
            answer = bundle.ask(values.get("question", "").strip() or "?", 3)
        elif callable(getattr(bundle.candidate, "answer", None)):  # a chat: one turn, under its guardrails
            chat = bundle.candidate
            question = values.get("question", "").strip() or "?"
            answer = chat.answer(chat.prepare([{"role": "user", "content": question}]))
            answer = {"reply": answer["text"], "sources": answer.get("sources") or []}
        else:
            row = {f["name"]: values[f["name"]] for f in bundle.schema["features"] if values.get(f["name"], "").strip()}
            answer = bundle.predict_records(checked_rows(bundle, [row]))
    except MofangError as exc:
        error = tryit.plain_error(str(exc), i18n.translator(_lang(request)))
    return render(request, "product.html.j2", caller, status=422 if error else 200, name=name,
                  version=records.version_view(version), schema=bundle.schema,
                  fields=tryit.fields(bundle.schema, bundle.reference), answer=answer, values=values, error=error)


# -- datasets -------------------------------------------------------------------------------------------------
@router.get("/datasets")
def datasets_page(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    shown = caller.tenant_filter(None)
    caller.allow("order.read", shown, what="datasets")
    return render(request, "datasets.html.j2", caller, datasets=records.datasets(caller, shown))


@router.get("/datasets/{digest}")
def dataset_page(digest: str, request: Request, caller: Caller = Depends(page_caller)) -> Response:
    found = records.dataset(caller, digest)
    return render(request, "dataset.html.j2", caller, dataset=found, source=f"/api/v1/datasets/{digest}/card.html")


# -- the factory ----------------------------------------------------------------------------------------------
@router.get("/ops")
def ops_page(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    caller.operator("dashboard.read")
    state = portal_state(request)
    queue = Queue(caller.meta)
    try:
        depth = sorted(queue.depth().items())
        jobs = [job_entry(v) for v in queue.jobs(limit=50)]
    finally:
        queue.close()
    machines = inventory(ray=False, home=state.home)
    checks = health(machines, meta=caller.meta, home=state.home)
    nodes = [n.to_dict() for n in machines]
    return render(request, "ops.html.j2", caller, depth=depth, jobs=jobs, workers=workers_view(caller),
                  nodes=nodes, checks=[c.to_dict() for c in checks],
                  health=worst(checks), tenants=list_tenants(caller))


@router.get("/audit")
def audit_page(request: Request, caller: Caller = Depends(page_caller)) -> Response:
    shown = caller.tenant_filter(None)
    caller.allow("audit.read", shown, what="audit log")
    events = AuditLog(caller.meta).events(tenant=shown)
    return render(request, "audit.html.j2", caller, events=events[-300:][::-1], total=len(events))


@router.get("/favicon.ico")
def favicon() -> Response:
    return HTMLResponse(status_code=204)
