"""REST API: who am I, tenants and keys, the audit log, the queue, workers and devices, and the webhook."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from mofang.core.errors import MofangError, NotFoundError
from mofang.devices.api import devices_router
from mofang.portal import webhooks
from mofang.portal.api_orders import TenantQuery, job_entry
from mofang.portal.auth import Caller, current_caller, portal_state
from mofang.scheduling.queue import Queue
from mofang.security.audit import KEY_CREATED, AuditLog
from mofang.security.identity import Role, create_api_key, create_tenant, key_state, parse_expiry, revoke_api_key
from mofang.security.tables import ApiKey
from mofang.store.models import Job, OrderRecord, Product, Tenant

router = APIRouter(prefix="/api/v1", tags=["factory"])
SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=SLUG)


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(pattern=SLUG)
    role: Role
    tenant: str | None = Field(None, pattern=SLUG, description="The key's tenant (none for an operator key)")
    expires: str | None = Field(None, max_length=40, examples=["30d", "2027-06-30"],
                                description="When the key stops working: a span from now (30d, 12h, 2w) or an ISO "
                                            "date or time (UTC unless it names an offset); none: until revoked")


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=8, max_length=2000, description="Where order state changes are posted")


def _identity_view(caller: Caller) -> dict[str, Any]:
    who = caller.identity
    return {"user": who.user, "tenant": who.tenant, "role": str(who.role), "key_id": who.key_id,
            "csrf_token": caller.session.csrf if caller.session else None}


@router.get("/me", summary="The caller's identity")
def me(caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return _identity_view(caller)


# -- tenants and keys ------------------------------------------------------------------------------------------
@router.get("/tenants", summary="Tenants (operators: all, with their counts; others: their own)")
def list_tenants(caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    with caller.view.session() as s:
        tenants = list(s.scalars(select(Tenant).order_by(Tenant.id)))
        count = {}
        for model in (OrderRecord, Job, Product):
            rows = s.execute(select(model.tenant_id, func.count()).group_by(model.tenant_id))
            count[model.__tablename__] = dict(rows.all())
    return [{"id": t.id, "created_at": t.created_at.isoformat() if t.created_at else None,
             "orders": count["orders"].get(t.id, 0), "jobs": count["jobs"].get(t.id, 0),
             "products": count["products"].get(t.id, 0)} for t in tenants]


@router.post("/tenants", status_code=201, summary="Create a tenant (operators)")
def new_tenant(body: NewTenant, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    caller.allow("tenant.create", None, what="tenants")
    create_tenant(caller.meta, body.id)
    return {"id": body.id}


@router.get("/keys", summary="API keys (ids, users, roles; never the secrets) of a tenant (owners) or all")
def list_keys(tenant: str | None = TenantQuery, caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    shown = caller.tenant_filter(tenant)
    caller.allow("keys.create", shown, what=f"tenant '{shown}'")
    with caller.view.session() as s:
        query = select(ApiKey).order_by(ApiKey.created_at)
        if shown:
            query = query.where(ApiKey.tenant_id == shown)
        return [{"key_id": k.key_id, "tenant": k.tenant_id, "user": k.user, "role": k.role,
                 "created_at": k.created_at.isoformat(), "expires_at": _iso(k.expires_at),
                 "revoked_at": _iso(k.revoked_at), "state": key_state(k)} for k in s.scalars(query)]


def _iso(moment: datetime | None) -> str | None:
    """A stored time in ISO form, as UTC (SQLite hands back naive datetimes, written in UTC)."""
    if moment is None:
        return None
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)).isoformat()


@router.post("/keys", status_code=201, summary="Create an API key; the key is in this answer only")
def new_key(body: NewKey, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    tenant = body.tenant if caller.wide else (body.tenant or caller.identity.tenant)
    caller.allow("keys.create", tenant, what=f"tenant '{tenant}'")
    if not caller.wide and body.role is Role.OPERATOR:
        caller.operator("keys.create.operator")
    if (body.role is Role.OPERATOR) != (tenant is None):
        raise MofangError("an operator key has no tenant; every other role needs one (tenant: ...)")
    expires_at = parse_expiry(body.expires) if body.expires else None
    identity, secret = create_api_key(caller.meta, tenant=tenant, user=body.user, role=body.role,
                                      expires_at=expires_at)
    AuditLog(caller.meta).record(KEY_CREATED, actor=caller.identity.user, tenant=tenant, object=identity.key_id,
                                 details={"user": body.user, "role": str(body.role), "via": "api",
                                          "expires_at": _iso(expires_at)})
    return {"key_id": identity.key_id, "key": secret, "user": body.user, "role": str(body.role), "tenant": tenant,
            "expires_at": _iso(expires_at)}


@router.delete("/keys/{key_id}", summary="Revoke an API key")
def delete_key(request: Request, key_id: str = Path(..., max_length=32),
               caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    with caller.meta.session() as s:
        row = s.get(ApiKey, key_id)
        tenant = row.tenant_id if row is not None else None
    if row is None:
        raise NotFoundError(f"no API key {key_id}")
    caller.allow("keys.revoke", tenant, what=f"API key {key_id}")
    revoke_api_key(caller.meta, key_id)
    portal_state(request).sessions.close_key(key_id)  # its browsers are signed out at once
    return {"key_id": key_id, "revoked": True}


# -- audit -----------------------------------------------------------------------------------------------------
@router.get("/audit", summary="Audit events (owners: their tenant's; operators: all)")
def audit_events(tenant: str | None = TenantQuery, action: str | None = Query(None, max_length=64),
                 limit: int = Query(200, ge=1, le=5000), caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    shown = caller.tenant_filter(tenant)
    caller.allow("audit.read", shown, what=f"tenant '{shown}'")
    events = AuditLog(caller.meta).events(tenant=shown, action=action)
    return {"events": events[-limit:][::-1], "total": len(events)}


# -- the factory floor (operators) ----------------------------------------------------------------------------
@router.get("/queue", summary="The whole queue: depth by state and tenant, and the newest entries (operators)")
def queue_view(limit: int = Query(100, ge=1, le=2000), caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    caller.operator("queue.read")
    queue = Queue(caller.meta)
    try:
        depth = [{"state": state, "tenant": tenant, "jobs": n} for (state, tenant), n in sorted(queue.depth().items())]
        return {"depth": depth, "jobs": [job_entry(v) for v in queue.jobs(limit=limit)]}
    finally:
        queue.close()


@router.get("/workers", summary="Workers holding leases now, with their jobs and heartbeats (operators)")
def workers_view(caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    caller.operator("workers.read")
    queue = Queue(caller.meta)
    try:
        leases = queue.leases()
    finally:
        queue.close()
    now = time.time()
    by_worker: dict[str, dict[str, Any]] = {}
    for job_id, worker, beat, expires in leases:
        entry = by_worker.setdefault(worker, {"worker": worker, "jobs": [], "last_heartbeat_s_ago": None})
        entry["jobs"].append({"job_id": job_id, "lease_expires_in_s": round(expires - now, 1)})
        ago = round(now - beat, 1) if beat else None
        if ago is not None and (entry["last_heartbeat_s_ago"] is None or ago < entry["last_heartbeat_s_ago"]):
            entry["last_heartbeat_s_ago"] = ago
    return list(by_worker.values())


def _devices_guard(caller: Caller = Depends(current_caller)) -> Caller:
    caller.allow("devices.read", None, what="devices")
    return caller


def devices() -> APIRouter:
    """The device management center's /devices router, behind the portal's own authentication."""
    wrapped = APIRouter(prefix="/api/v1")
    wrapped.include_router(devices_router(_devices_guard))
    return wrapped


# -- the tenant's webhook --------------------------------------------------------------------------------------
def _hook_tenant(caller: Caller, tenant: str | None, action: str) -> str:
    shown = caller.tenant_filter(tenant)
    caller.allow(action, shown, what=f"tenant '{shown}'")
    if shown is None:
        raise NotFoundError("name the tenant (?tenant=...)")
    return shown


@router.put("/webhook", summary="Set the tenant's webhook for order state changes; the secret is shown once")
def set_webhook(body: WebhookBody, request: Request, tenant: str | None = TenantQuery,
                caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    owner = _hook_tenant(caller, tenant, "keys.create")
    key = webhooks.master_data_key(caller.meta, portal_state(request).home, owner)
    secret = webhooks.configure(caller.meta, key, owner, body.url)
    where = urlsplit(body.url)  # never the URL's user info or query, which may carry credentials
    AuditLog(caller.meta).record("webhook.set", actor=caller.identity.user, tenant=owner,
                                 object=f"{where.scheme}://{where.hostname}:{where.port or ''}{where.path}"[:200],
                                 details={"via": "api"})
    return {"tenant": owner, "url": body.url, "secret": secret,
            "signature": f"{webhooks.SIGNATURE_HEADER}: sha256=HMAC-SHA256(secret, "
                         f"<{webhooks.TIMESTAMP_HEADER}>.<body>)"}


@router.get("/webhook", summary="The tenant's webhook (without its secret)")
def get_webhook(tenant: str | None = TenantQuery, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    return webhooks.endpoint(caller.view, _hook_tenant(caller, tenant, "audit.read"))


@router.delete("/webhook", summary="Remove the tenant's webhook")
def delete_webhook(tenant: str | None = TenantQuery, caller: Caller = Depends(current_caller)) -> dict[str, Any]:
    owner = _hook_tenant(caller, tenant, "keys.create")
    webhooks.remove(caller.meta, owner)
    return {"tenant": owner, "removed": True}


@router.get("/webhook/deliveries", summary="The tenant's webhook deliveries, newest first")
def webhook_deliveries(tenant: str | None = TenantQuery, limit: int = Query(100, ge=1, le=1000),
                       caller: Caller = Depends(current_caller)) -> list[dict[str, Any]]:
    return webhooks.deliveries(caller.view, _hook_tenant(caller, tenant, "audit.read"), limit)
