"""Placing orders over the API: YAML text or the wizard's form, data confined to the tenant's uploads.

Uploads are stored encrypted: admission reads them decrypted in memory, and the job gets its own copy in its
scratch folder, sealed with the order's key at once; the line unseals its scratch when the job runs and seals it
again when it stops, so a decrypted upload exists on disk only while its job runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from mofang.core.errors import DataError, NotFoundError, OrderError
from mofang.core.tasks import wizard_tasks
from mofang.orders import Order, parse_order
from mofang.orders.schema import NO_ACCEPTANCE, TaskName
from mofang.portal import uploads
from mofang.portal.auth import Caller
from mofang.scheduling.admission import admit
from mofang.scheduling.placement import order_needs
from mofang.scheduling.queue import Queue
from mofang.security.scope import UnsafePathError
from mofang.security.scratch import seal_job_folder
from mofang.security.vault import Vault, open_vault
from mofang.store import ArtifactStore
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
        # always a section: with no criterion the order says so (`none`), which a placed order must do explicitly
        order["acceptance"] = acceptance or NO_ACCEPTANCE
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
    """Admit the order (its uploads read in memory), give its job a sealed copy of them and queue it for the
    scheduling workers; returns (order, job id)."""
    order = parse_api_order(text, caller, home)
    vault = open_vault(caller.meta, home)
    placed = [Path(source.path or "") for source in order.data]
    contents = [(path, uploads.read(vault, order.tenant, path)) for path in placed]
    with uploads.in_memory(contents) as views:
        job_id = _admit(caller, order, views, placed)
    try:
        staged = _stage(vault, home, order, job_id, contents)
        _record_paths(caller, job_id, order, placed, staged)
    except BaseException as exc:
        caller.meta.set_job(job_id, status="failed", error=f"its uploads could not be staged: {exc}")
        raise
    queue = Queue(caller.meta)
    try:
        queue.enqueue(job_id, priority=priority, needs=order_needs(order))
    finally:
        queue.close()
    return order, job_id


def _admit(caller: Caller, order: Order, views: list[Path], placed: list[Path]) -> int:
    """Admission over the in-memory views of the uploads; its errors name the upload, not the view."""
    for source, view in zip(order.data, views, strict=True):
        source.path = view
    try:
        return admit(order, caller.meta, actor=caller.identity.user)
    except DataError as exc:
        raise uploads.relabel(exc, views, placed) from None


def _stage(vault: Vault, home: Path, order: Order, job_id: int, contents: list[tuple[Path, bytes]]) -> list[Path]:
    """The uploads decrypted into the job's scratch folder and sealed there with the order's key at once."""
    folder = ArtifactStore(home).job_dir(order.tenant, job_id)
    try:
        staged = [uploads.stage(content, path, folder) for path, content in contents]
        seal_job_folder(vault, order.tenant, order.id, folder)
    except BaseException:
        shutil.rmtree(folder / "uploads", ignore_errors=True)  # nothing decrypted stays behind
        raise
    return staged


def _record_paths(caller: Caller, job_id: int, order: Order, placed: list[Path], staged: list[Path]) -> None:
    """The order record names the uploads it was placed with; its job reads the copies in its scratch folder."""
    specs = []
    for paths in (placed, staged):
        for source, path in zip(order.data, paths, strict=True):
            source.path = path
        specs.append(order.model_dump(mode="json"))
    with caller.meta.session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.order.spec, job.spec = specs


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
