"""Retrieval QA: a knowledge base of question–answer pairs or documents that answers questions, or says it cannot."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec

PACKAGE = "mofang.tasks.retrieval"
RETRIEVAL_METRICS = {"recall_at_1": "higher", "recall_at_5": "higher", "mrr": "higher", "no_answer_precision": "higher",
                     "no_answer_recall": "higher", "answered_rate": "higher", "hallucination_rate": "lower"}

SPEC = TaskSpec(
    name="retrieval-qa", description="answers to questions from a knowledge base (FAQ pairs, documents)",
    metrics=RETRIEVAL_METRICS, text="features", label_target=False, robustness=True, needs=Needs(cpus=1, memory_gb=2),
    overrides={
        "data.split": f"{PACKAGE}.data:split",
        "model.plan": f"{PACKAGE}.model:plan",
        "model.train": f"{PACKAGE}.model:train",
        "model.select": f"{PACKAGE}.model:select",
        "evaluation.score": f"{PACKAGE}.evaluation:score",
        "evaluation.gate": f"{PACKAGE}.evaluation:gate",
        "evaluation.report": f"{PACKAGE}.evaluation:report",
        "integration.smoke_test": f"{PACKAGE}.integration:smoke_test",
    },
    hooks={
        "integration.tool": f"{PACKAGE}.integration:tool",
        "data.columns": f"{PACKAGE}.data:columns",
        "data.publish": f"{PACKAGE}.data:publish",
        "integration.metadata": f"{PACKAGE}.integration:metadata",
        "serving.app": f"{PACKAGE}.serving:app",
    })

SPECS = (SPEC,)
