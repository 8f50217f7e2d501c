"""Instruction data for the large-model line: canonical rows (system, history, prompt, response) from alpaca,
sharegpt, lawbench-style and Q&A sources and from documents, length filtering by tokens, decontamination against
held-out prompts, and out-of-domain refusal pairs."""

from mofang.data.instructions.decontaminate import decontaminate
from mofang.data.instructions.documents import pairs_from_documents, passages
from mofang.data.instructions.formats import to_instructions
from mofang.data.instructions.frame import CANONICAL, canonical_frame, messages
from mofang.data.instructions.lengths import filter_by_tokens
from mofang.data.instructions.refusals import load_out_of_domain, refusal_pairs, split_out_of_domain

__all__ = ["CANONICAL", "canonical_frame", "decontaminate", "filter_by_tokens", "load_out_of_domain", "messages",
           "pairs_from_documents", "passages", "refusal_pairs", "split_out_of_domain", "to_instructions"]
