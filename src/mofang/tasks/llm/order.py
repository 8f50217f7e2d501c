"""The instruction-tuning task's order checks (the `order.check` hook): run when an order is validated."""

from __future__ import annotations

from mofang.orders.schema import LLMSettings, Order


def check(order: Order) -> None:
    """An instruction-tuning order names its base model (a catalog name or local checkpoint: nothing is
    downloaded); a Q&A table needs the answer column as 'target'."""
    if not order.base_model:
        raise ValueError("an instruction-tuning order needs 'base_model': a model-catalog name or a local "
                         "checkpoint folder of a causal language model")
    if order.base_model.startswith("market:"):
        raise ValueError("instruction-tuning starts from a checkpoint; base_model 'market:...' is not one")
    if order.llm is None:
        order.llm = LLMSettings()
    if order.llm.format == "qa" and not (order.target and order.text_columns):
        raise ValueError("llm.format 'qa' needs 'text' (the question column or columns) and 'target' (the answer "
                         "column)")
    if order.acceptance.metrics.get("judge_score") is not None and not order.llm.judge:
        raise ValueError("acceptance metric 'judge_score' needs llm.judge: true (and a configured endpoint)")
