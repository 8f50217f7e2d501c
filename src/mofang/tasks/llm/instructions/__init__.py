"""Instruction data for the large-model line: canonical rows (system, history, prompt, response) from alpaca,
sharegpt, lawbench-style and Q&A sources and from documents, length filtering by tokens, decontamination against
held-out prompts, and out-of-domain refusal pairs."""

from mofang.tasks.llm.instructions.decontaminate import decontaminate
from mofang.tasks.llm.instructions.documents import pairs_from_documents, passages
from mofang.tasks.llm.instructions.formats import to_instructions
from mofang.tasks.llm.instructions.frame import CANONICAL, canonical_frame, messages
from mofang.tasks.llm.instructions.lengths import filter_by_tokens
from mofang.tasks.llm.instructions.refusals import load_out_of_domain, refusal_pairs, split_out_of_domain

__all__ = ["CANONICAL", "canonical_frame", "decontaminate", "filter_by_tokens", "load_out_of_domain", "messages",
           "pairs_from_documents", "passages", "refusal_pairs", "split_out_of_domain", "to_instructions"]
