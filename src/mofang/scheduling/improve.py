"""The improvement loop: feedback → retraining order → challenger → promoted only if it beats the champion.

`improve` reopens the champion's order with the feedback rows as one more source (stacked under the
original data), queues it and runs it here like `mofang run` (the queue shows it truly), and — when the new
version passes the order's gate and was delivered — scores the champion and the challenger on the new job's
held-out test split (which holds feedback rows too) with the same gate. The challenger becomes champion only
when it passes that gate and beats the champion on the order's primary metric; otherwise it stays challenger,
with the reason recorded.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from mofang.core.config import settings
from mofang.core.errors import MofangError
from mofang.core.metrics.predictive import is_better
from mofang.evaluation.gates import check_gate
from mofang.evaluation.scoring import score_candidate
from mofang.integration.bundle import open_bundle
from mofang.models.metric import primary_metric
from mofang.orders.schema import Order
from mofang.products.feedback import feedback_rows, mark_used
from mofang.products.registry import CHALLENGER, CHAMPION, Ref, promote, resolve, unset
from mofang.products.tables import ImprovementRun
from mofang.scheduling.foreground import run_here
from mofang.scheduling.submit import submit
from mofang.security.audit import AuditLog
from mofang.security.crypto import is_encrypted
from mofang.security.scope import safe_child
from mofang.security.vault import open_vault
from mofang.store import MetaStore

FEEDBACK_SOURCE = "feedback.csv"


class ImproveError(MofangError):
    """An improvement that cannot start (no feedback, a product without a row model)."""


@dataclass
class Decision:
    """What one improvement decided: promoted, kept (as challenger), rejected (gate failed) — and why."""

    product: str
    champion: int
    job_id: int
    feedback_rows: int
    decision: str
    reason: str
    challenger: int | None = None
    comparison: dict[str, Any] = field(default_factory=dict)


def improve(meta: MetaStore, tenant: str, product: str, *, actor: str, progress: Any = None,
            min_feedback: int = 1) -> Decision:
    """Retrain `product` of `tenant` on its order's data plus the feedback not used before; see the module doc."""

    champion = resolve(meta, Ref(product), tenant)
    fresh = feedback_rows(meta, tenant, product, unused_only=True)
    if len(fresh) < min_feedback:
        raise ImproveError(f"product '{product}' has {len(fresh)} new feedback rows (needs {min_feedback}); "
                           "send true outcomes to POST /feedback first")
    rows = feedback_rows(meta, tenant, product)  # every row so far: an improved champion learnt from earlier ones
    bundle = open_bundle(champion.bundle_path, tenant, meta)
    schema = bundle.schema
    if bundle.is_retrieval:  # it answers questions from passages: there are no rows to learn from
        raise ImproveError("a retrieval product is improved by a new knowledge base order, not by feedback rows")
    spec = dict(meta.job(champion.job_id).spec or {})
    columns = [f["name"] for f in schema["features"]] + [c for c in schema.get("ignored", []) if c]
    folder = Path(tempfile.mkdtemp(prefix=".feedback-", dir=_tenant_dir(settings().home, tenant)))
    try:
        frame = pd.DataFrame([{c: r.row.get(c) for c in dict.fromkeys(columns)} for r in rows])
        frame.to_csv(folder / FEEDBACK_SOURCE, index=False, encoding="utf-8")
        original = [d for d in spec.get("data", []) if not _is_feedback(d)]  # an earlier improvement's feedback
        original = _readable(meta, tenant, str(spec.get("id")), original, folder)
        spec["data"] = [*original, {"path": str(folder / FEEDBACK_SOURCE), "format": "csv"}]
        order = Order.model_validate(spec)
        job_id = submit(order, meta, actor=actor)
        with meta.session() as s:
            s.add(ImprovementRun(tenant_id=tenant, product=product, champion_version=champion.version, job_id=job_id,
                                 feedback_rows=len(rows)))
        mark_used(meta, tenant, [r.id for r in fresh], job_id)
        job = _run(meta, job_id, progress)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    decision = _decide(meta, order, champion, job, len(rows), actor)
    _record(meta, tenant, decision)
    return decision


def _readable(meta: MetaStore, tenant: str, order_id: str, sources: list[dict[str, Any]],
              folder: Path) -> list[dict[str, Any]]:
    """The order's sources as the retraining reads them. An order placed through the portal reads sealed copies
    of its uploads in its first job's scratch folder (encrypted with the order's key): those are decrypted into
    `folder`, a private folder removed with the feedback when the retraining ends."""
    vault = None
    readable = []
    for index, source in enumerate(sources):
        path = Path(str(source.get("path") or ""))
        if source.get("path") and path.is_file() and is_encrypted(path):
            vault = vault or open_vault(meta, settings().home)
            copy = folder / "sources" / str(index) / path.name
            copy.parent.mkdir(parents=True, mode=0o700)
            copy.write_bytes(vault.read(tenant, path, order=order_id))
            source = {**source, "path": str(copy)}
        readable.append(source)
    return readable


def improvements(meta: MetaStore, tenant: str, product: str) -> list[ImprovementRun]:
    with meta.session() as s:
        return list(s.scalars(select(ImprovementRun).where(ImprovementRun.tenant_id == tenant,
                                                           ImprovementRun.product == product)
                              .order_by(ImprovementRun.id)))


def _run(meta: MetaStore, job_id: int, progress: Any) -> Any:
    """Run the queued retraining job in this process; its record, however it ended."""
    run_here(job_id, meta, progress=progress)
    return meta.job(job_id)


def _decide(meta: MetaStore, order: Any, champion: Any, job: Any, feedback: int, actor: str) -> Decision:
    outcome = job.outcome or {}
    base = {"product": order.id, "champion": champion.version, "job_id": job.id, "feedback_rows": feedback}
    if job.status == "failed":
        return Decision(**base, decision="failed", reason=f"the retraining job failed: {job.error}")
    if not outcome.get("version"):
        failed = ", ".join(outcome.get("failed_checks") or []) or "not delivered"
        return Decision(**base, decision="rejected", reason=f"the challenger missed the order's gate ({failed})")
    challenger = meta.product_version(order.id, int(outcome["version"]), order.tenant)
    comparison = compare(meta, order, champion, challenger, job.id)
    name, direction = comparison["metric"], comparison["direction"]
    new, old = comparison["challenger"]["metrics"].get(name), comparison["champion"]["metrics"].get(name)

    text = f"{name} {_fmt(new)} vs champion v{champion.version} {_fmt(old)} on the same {comparison['rows']} test rows"
    if not comparison["challenger"]["gate"]["passed"]:
        missed = [c["name"] for c in comparison["challenger"]["gate"]["checks"] if not c["passed"]]
        return Decision(**base, decision="kept", challenger=challenger.version, comparison=comparison,
                        reason=f"kept as challenger: fails the gate on the shared test data ({', '.join(missed)})")
    if not is_better(new, old, direction):
        return Decision(**base, decision="kept", challenger=challenger.version, comparison=comparison,
                        reason=f"kept as challenger: does not beat the champion ({text})")
    promote(meta, order.tenant, order.id, challenger.version, CHAMPION, actor=actor,
            reason=f"improvement job {job.id} beat v{champion.version}: {text}")
    unset(meta, order.tenant, order.id, CHALLENGER, actor=actor, reason=f"v{challenger.version} became champion")
    return Decision(**base, decision="promoted", challenger=challenger.version, comparison=comparison,
                    reason=f"promoted to champion: {text}")


def compare(meta: MetaStore, order: Any, champion: Any, challenger: Any, job_id: int) -> dict[str, Any]:
    """Champion and challenger scored on the challenger job's test split and checked against the same gate."""

    home = settings().home
    test_file = _tenant_dir(home, order.tenant) / "jobs" / str(job_id) / "test.parquet"
    test = pd.read_parquet(io.BytesIO(open_vault(meta, home).read(order.tenant, test_file, order=order.id)))
    result: dict[str, Any] = {"rows": len(test)}
    for role, version in (("champion", champion), ("challenger", challenger)):
        bundle = open_bundle(version.bundle_path, order.tenant, meta)
        metrics = score_candidate(bundle.candidate, test, bundle.schema["target"])
        recorded = bundle.metadata.get("gate", {})
        gate = check_gate(order, metrics, recorded.get("size_mb"), recorded.get("p95_ms"))
        result[role] = {"version": version.version, "metrics": metrics, "gate": gate}
    result["metric"], result["direction"] = primary_metric(order, bundle.metadata.get("classes"))
    return result


def _record(meta: MetaStore, tenant: str, decision: Decision) -> None:

    with meta.session() as s:
        run = s.scalar(select(ImprovementRun).where(ImprovementRun.tenant_id == tenant,
                                                    ImprovementRun.job_id == decision.job_id))
        if run is not None:
            run.decision, run.reason = decision.decision, decision.reason
            run.challenger_version, run.comparison = decision.challenger, decision.comparison
    AuditLog(meta).record("product.improved", actor="line", tenant=tenant, object=decision.product,
                          details={"job": decision.job_id, "decision": decision.decision,
                                   "champion": decision.champion, "challenger": decision.challenger})


def _is_feedback(source: dict[str, Any]) -> bool:
    path = Path(str(source.get("path") or ""))
    return path.name == FEEDBACK_SOURCE and path.parent.name.startswith(".feedback-")


def _tenant_dir(home: Path, tenant: str) -> Path:

    path = safe_child(home / "tenants", tenant)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
