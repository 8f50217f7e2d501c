"""Instruction tuning: a base language model tuned on the customer's conversations into an industry assistant."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec

PACKAGE = "mofang.tasks.llm"
GENERATION_METRICS = {"rouge_l": "higher", "bleu": "higher", "f1": "higher", "exact_match": "higher",
                      "choice_accuracy": "higher", "hallucination_rate": "lower", "grounded_rate": "higher",
                      "answered_rate": "higher", "no_answer_recall": "higher",
                      "refusal_rate": "higher", "eval_loss": "lower", "judge_score": "higher"}

SPEC = TaskSpec(
    name="instruction-tuning", description="an assistant tuned from a base language model on conversations",
    metrics=GENERATION_METRICS, target="optional", text="prompt", label_target=False, sections=("llm",),
    base_model=("checkpoint",),  # required: the order check says so
    needs=Needs(cpus=2, memory_gb=6),
    overrides={
        "data.validate": f"{PACKAGE}.data:validate",
        "data.split": f"{PACKAGE}.data:split",
        "model.plan": f"{PACKAGE}.model:plan",
        "model.train": f"{PACKAGE}.model:train",
        "model.select": f"{PACKAGE}.model:select",
        "evaluation.score": f"{PACKAGE}.evaluation:score",
        "evaluation.gate": f"{PACKAGE}.evaluation:gate",
        "evaluation.report": f"{PACKAGE}.evaluation:report",
        "integration.package": f"{PACKAGE}.integration:package",
        "integration.edge_bundle": f"{PACKAGE}.integration:edge_bundle",
        "integration.smoke_test": f"{PACKAGE}.integration:smoke_test",
    },
    hooks={
        "integration.tool": f"{PACKAGE}.integration:tool",
        "order.check": f"{PACKAGE}.order:check",
        "intake.check": f"{PACKAGE}.intake:check",
        "data.read": f"{PACKAGE}.data:read",
        "data.publish": f"{PACKAGE}.data:publish",
        "serving.app": f"{PACKAGE}.serving:app",
        "serving.load": f"{PACKAGE}.product:load_llm",
    })

SPECS = (SPEC,)
