"""The instruction-tuning task at the data workshop: sources read as conversations (the `data.read` hook),
conversations too long for the base model dropped (the `data.validate` override), a decontaminated split with
refusal pairs (the `data.split` override) and the dataset's instructions description (the `data.publish` hook).
The conversation machinery itself is the data unit's (`mofang.tasks.llm.preparation`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.data.ops import OpTrace
from mofang.data.station import latest_table, run_validate_steps
from mofang.station.context import StationContext
from mofang.tasks.llm.preparation import (
    choose_conversation_columns,
    conversation_info,
    read_conversations,
    split_conversations,
)


def read(ctx: StationContext, data: pd.DataFrame, reads: list[Any]) -> pd.DataFrame:
    """The sources read as conversations: system, history, prompt, response."""
    return read_conversations(ctx, data, reads)


def validate(ctx: StationContext) -> str:
    """Run the recipe's validate steps, then drop conversations longer than llm.max_seq_len tokens; the
    target became the response column, so no row is dropped for a missing target."""
    frame, traces = run_validate_steps(ctx, latest_table(ctx, "validate"))
    rows_in = len(frame)
    frame = choose_conversation_columns(ctx, frame)
    trace = OpTrace(op="validate.tokens", process="validate", rows_in=rows_in)
    trace.dropped, trace.rows_out = rows_in - len(frame), len(frame)
    trace.details["note"] = f"conversations over llm.max_seq_len {ctx.order.llm.max_seq_len} tokens dropped"
    traces.append(trace.as_dict())
    ctx.save("validated", frame)
    ctx.save("trace_validate", {"steps": traces})
    return f"{len(frame):,} conversations within {ctx.order.llm.max_seq_len} tokens"


def split(ctx: StationContext) -> str:
    """70/15/15 at random; train and valid rows copying a test prompt removed; refusal pairs added to train."""
    return split_conversations(ctx)


def publish(ctx: StationContext, parts: dict[str, pd.DataFrame], features: dict) -> dict[str, Any]:
    """The dataset's `instructions` record: the conversations' format, out-of-domain questions, lengths, RAG."""
    return {"instructions": conversation_info(ctx)}
