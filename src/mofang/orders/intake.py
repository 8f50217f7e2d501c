"""Order intake: admit an order only when the line can run it, then queue a job for it."""

from __future__ import annotations

from pathlib import Path

from mofang.core.errors import OrderError
from mofang.orders.schema import SUPPORTED_TASKS, Order
from mofang.store import MetaStore


def submit(order: Order, meta: MetaStore, *, source_file: str | Path | None = None, actor: str = "local") -> int:
    """Check the order can run (task supported, every source readable, target present) and queue a
    job; returns the job id. Nothing is registered when a check fails."""
    if order.task not in SUPPORTED_TASKS:
        supported = ", ".join(sorted(t.value for t in SUPPORTED_TASKS))
        raise OrderError(f"task '{order.task.value}' is not on the line yet (supported: {supported})",
                         file=str(source_file) if source_file else None, field="task")
    from mofang.data import check_sources

    check_sources(order)
    if order.task.value == "instruction-tuning":  # checkpoint, tokenizer, chat template, sequence length
        _check_base_model(order, source_file)
    spec = order.model_dump(mode="json")
    job_id = meta.register_job(order.tenant, order.id, order.task.value, spec,
                               str(source_file) if source_file else None)
    from mofang.security.audit import ORDER_SUBMITTED, AuditLog

    AuditLog(meta).record(ORDER_SUBMITTED, actor=actor, tenant=order.tenant, object=order.id,
                          details={"job": job_id, "task": order.task.value, "sources": [s.label for s in order.data],
                                   "retention_days": order.retention_days})
    return job_id


def _check_base_model(order: Order, source_file: str | Path | None) -> None:
    """An instruction-tuning order's base model opens, has a chat template and reads llm.max_seq_len tokens:
    checked at intake, so a wrong path or template is reported before a job exists."""
    from mofang.core.errors import MofangError
    from mofang.models.llm.workshop import open_order_base

    try:
        open_order_base(order)
    except MofangError as exc:
        text = str(exc)
        field = ("llm.max_seq_len" if "max_seq_len" in text else
                 "llm.chat_template" if "chat template" in text or "chat_template" in text else "base_model")
        raise OrderError(text, file=str(source_file) if source_file else None, field=field) from None
