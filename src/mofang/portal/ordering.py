"""Placing orders over the API: YAML text or the wizard's form, data confined to the tenant's uploads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mofang.core.errors import NotFoundError, OrderError
from mofang.core.tasks import wizard_tasks
from mofang.orders import Order, parse_order
from mofang.orders.schema import TaskName
from mofang.portal import uploads
from mofang.portal.auth import Caller
from mofang.scheduling.queue import Queue
from mofang.scheduling.submit import submit
from mofang.security.scope import UnsafePathError
from mofang.store.models import Job

API_ORDER = "<api order>"
ACTIVE = ("queued", "running", "interrupted")


class OrderForm(BaseModel):
    """The wizard's answers; turned into an order (the schema stays the single definition of one)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Order id, unique per tenant")
    tenant: str | None = Field(None, description="Default: the caller's tenant")
    task: TaskName = Field(default_factory=lambda: wizard_tasks()[0], description="A task the wizard offers")
    description: str = ""
    uploads: list[str] = Field(min_length=1, max_length=20, description="Upload ids of the data files")
    target: str | None = None
    id_column: str | None = None
    text: str | list[str] | None = None
    deny: list[str] = Field(default_factory=list, description="Columns never read")
    metrics: dict[str, str] = Field(default_factory=dict, description="Acceptance, e.g. {'roc_auc': '>= 0.8'}")
    p95_latency_ms: float | None = None
    max_model_mb: float | None = None
    budget_minutes: float = 10.0

    def to_yaml(self, caller: Caller, home: Path) -> str:
        """The order file this form stands for (its uploads checked to be the tenant's)."""
        tenant = self.tenant or caller.identity.tenant or ""
        caller.allow("order.submit", tenant or None, what=f"tenant '{tenant}'")
        data = [{"path": f"{u}/{uploads.find(home, tenant, u).name}"} for u in self.uploads]
        order: dict[str, Any] = {"id": self.id, "tenant": tenant, "task": str(self.task), "data": data}
        for key in ("description", "target", "id_column", "text"):
            if getattr(self, key):
                order[key] = getattr(self, key)
        if self.deny:
            order["columns"] = {"deny": self.deny}
        acceptance: dict[str, Any] = {"metrics": self.metrics} if self.metrics else {}
        for key in ("p95_latency_ms", "max_model_mb"):
            if getattr(self, key) is not None:
                acceptance[key] = getattr(self, key)
        if acceptance:
            order["acceptance"] = acceptance
        order["budget"] = {"minutes": self.budget_minutes}
        return yaml.safe_dump(order, allow_unicode=True, sort_keys=False)


def parse_api_order(text: str, caller: Caller, home: Path) -> Order:
    """Validate order text placed over the API, authorize it for its tenant, and point its files at the
    tenant's uploads: a relative path is taken from the uploads folder (`<upload id>/<name>`, or a bare name
    for the newest upload of that name); anything outside it, and database URLs, are refused."""
    order = parse_order(text, file=API_ORDER)
    caller.allow("order.submit", order.tenant, what=f"tenant '{order.tenant}'")
    root = uploads.upload_root(home, order.tenant).resolve()
    for index, source in enumerate(order.data):
        field = f"data.{index}"
        if source.url is not None:
            raise OrderError("database sources are placed with the CLI (`mofang submit`), not over the API",
                             file=API_ORDER, field=f"{field}.url")
        source.path = _confined(root, source.path, home, order.tenant, field)
    return order


def _confined(root: Path, path: Path | None, home: Path, tenant: str, field: str) -> Path:
    assert path is not None
    relative = path.relative_to(root) if path.is_absolute() and path.resolve().is_relative_to(root) else path
    if relative.is_absolute():
        raise OrderError("over the API an order reads only uploaded files: name them '<upload id>/<file>' "
                         "(see GET /api/v1/uploads)", file=API_ORDER, field=f"{field}.path")
    if len(relative.parts) == 1:  # a bare name: the newest upload of that name
        matches = [u for u in uploads.uploads(home, tenant) if u["name"] == relative.name]
        if matches:
            relative = Path(matches[0]["order_path"])
    try:
        resolved = (root / relative).resolve()
        if not resolved.is_relative_to(root):
            raise UnsafePathError(str(relative))
    except (UnsafePathError, OSError):
        raise OrderError(f"'{relative}' leads outside your uploads", file=API_ORDER, field=f"{field}.path") from None
    if not resolved.exists():
        raise OrderError(f"no uploaded file '{relative}' (see GET /api/v1/uploads)", file=API_ORDER,
                         field=f"{field}.path")
    return resolved


def place(caller: Caller, home: Path, text: str, *, priority: int = 0) -> tuple[Order, int]:
    """Admit the order and queue its job for the scheduling workers; returns (order, job id)."""
    order = parse_api_order(text, caller, home)
    job_id = submit(order, caller.meta, priority=priority, actor=caller.identity.user)
    return order, job_id


def cancel(caller: Caller, job_id: int) -> str:
    """Cancel a queued job or stop a running one; 'cancelled' or 'cancelling'."""
    job = caller.view.job(job_id)
    caller.allow("job.resume", job.tenant_id, what=f"job {job_id}")
    queue = Queue(caller.meta)
    try:
        return queue.cancel(job_id)
    finally:
        queue.close()


def active_job(caller: Caller, order_id: str, tenant: str | None) -> Job:
    """The order's newest job that is still queued or running."""
    record = caller.view.order(order_id, caller.tenant_filter(tenant))
    caller.allow("job.resume", record.tenant_id, what=f"order '{order_id}'")
    active = [j for j in record.jobs if j.status in ACTIVE]
    if not active:
        raise NotFoundError(f"order '{order_id}' has no queued or running job")
    return active[-1]
