"""Text classification: labels for texts (one or several per row), read by TF-IDF, jieba and transformer families."""

from __future__ import annotations

from mofang.core.resources import Needs
from mofang.core.tasks import TaskSpec
from mofang.tasks.tabular import CLASSIFICATION_METRICS

PACKAGE = "mofang.tasks.text"
TRAINERS = "mofang.models.trainers"
TEXT_CLASSIFICATION_METRICS = {
    **CLASSIFICATION_METRICS, "f1_micro": "higher",
    "hamming_loss": "lower",  # multi-label only: share of wrong (row, label) decisions
}

TEXT_CLASSIFICATION = TaskSpec(
    name="text-classification", description="labels for texts (reviews, tickets, news titles)",
    metrics=TEXT_CLASSIFICATION_METRICS, text="features", labels_file=True, multi_label=True, classes=True,
    refit=True, blend=True, base_model=("checkpoint", "market"), robustness=True,
    wizard=2, wizard_criterion=("f1_macro", ">= 0.70"),
    needs=Needs(cpus=2, memory_gb=3),  # a small transformer may be fine-tuned on torch threads
    families={  # the shared workshop's text families; the transformer is absent, with the reason, without torch
        "dummy": f"{TRAINERS}.text_baseline:TextPriorTrainer",
        "tfidf-linear": f"{TRAINERS}.text_linear:CharTfidfLinearTrainer",
        "jieba-linear": f"{TRAINERS}.text_linear:WordTfidfLinearTrainer",
        "lsa-linear": f"{TRAINERS}.text_embedding:LsaLinearTrainer",
        "tfidf-lightgbm": f"{TRAINERS}.text_boosting:TfidfLightGBMTrainer",
        "transformer": f"{TRAINERS}.transformer:TransformerTrainer",
    },
    overrides={"evaluation.learning_curve": f"{PACKAGE}.evaluation:learning_curve"},
    hooks={"evaluation.robustness": f"{PACKAGE}.evaluation:robustness",
           "evaluation.reserve": f"{PACKAGE}.evaluation:reserve"})

SPECS = (TEXT_CLASSIFICATION,)
