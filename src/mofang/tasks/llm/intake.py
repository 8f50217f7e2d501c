"""The instruction-tuning task's intake check (the `intake.check` hook): run when an order is admitted."""

from __future__ import annotations

from pathlib import Path

from mofang.core.errors import MofangError, OrderError
from mofang.orders.schema import Order
from mofang.tasks.llm.models.workshop import open_order_base


def check(order: Order, source_file: str | Path | None) -> None:
    """An instruction-tuning order's base model opens, has a chat template and reads llm.max_seq_len tokens:
    checked at intake, so a wrong path or template is reported before a job exists."""
    try:
        open_order_base(order)
    except MofangError as exc:
        text = str(exc)
        field = ("llm.max_seq_len" if "max_seq_len" in text else
                 "llm.chat_template" if "chat template" in text or "chat_template" in text else "base_model")
        raise OrderError(text, file=str(source_file) if source_file else None, field=field) from None
