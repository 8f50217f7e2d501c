"""The transformer family: fine-tune a local base model (catalog name or checkpoint folder) on the texts."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from mofang.core.errors import MofangError
from mofang.core.metrics.predictive import compute_metrics
from mofang.models.trainers.base import Trainer, default_metric
from mofang.models.transformer.catalog import CatalogEntry, catalog_path, load_catalog, resolve_entry
from mofang.models.transformer.classifier import TransformerClassifier
from mofang.models.transformer.coverage import THRESHOLD, Coverage, dominant_script, measure_coverage, sample_texts
from mofang.models.transformer.runtime import load_tokenizer, require_nlp

CPU_MAX_LENGTH, GPU_MAX_LENGTH = 128, 512  # tokens per text: attention cost grows with the square
MIN_LENGTH = 16


class TransformerTrainer(Trainer):
    """Fine-tunes a sequence classifier from `order.base_model`, or from the first catalog entry whose
    tokenizer reads the order's text. Every checkpoint is checked for tokenizer coverage first: one that
    cannot read the text is skipped with the reason (the workshop records it as "not trained — ...")."""

    mode = "text-raw"
    max_trials = 4
    multilabel_native = True  # one model with a sigmoid per class, never one fine-tune per class
    coverage_threshold = THRESHOLD

    def first_params(self) -> dict[str, Any]:
        return {"lora_rank": 0, "learning_rate": 5e-5, "epochs": 3}

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        rank = trial.suggest_categorical("lora_rank", [0, 8, 16])
        if rank:  # LoRA adapters start at zero: 10–50× the full fine-tuning rate (3e-3 best on MiniLM)
            lr = trial.suggest_float("lora_learning_rate", 3e-4, 5e-3, log=True)
        else:
            lr = trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True)
        return {"lora_rank": rank, "learning_rate": lr, "epochs": trial.suggest_int("epochs", 1, 4)}

    # -- the family's work -----------------------------------------------------------------------
    def fit(self, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict[str, Any], budget_s: float,
            seed: int = 42, on_trial: Any = None, metric: tuple[str, str] | None = None,
            decision_metric: str | None = None, order: Any = None) -> Any:
        """Pick and check the base model, then search within the rest of `budget_s` (see Trainer.fit)."""
        started = time.monotonic()
        require_nlp()  # a clear "install mofang[nlp]" before any work
        texts = self.make_pipeline(dataset["features"]).fit(train).transform(train)
        self.choice_ = choose_base_model(getattr(order, "base_model", None), texts, self.coverage_threshold)
        self.metric_ = metric or default_metric(self.task, dataset.get("classes"))
        self.class_names_ = list(dataset.get("classes") or [])
        return super().fit(train, valid, dataset, budget_s - (time.monotonic() - started), seed=seed,
                           on_trial=on_trial, metric=metric, decision_metric=decision_metric, order=order)

    def build(self, params: dict[str, Any], seed: int) -> Any:
        torch, _ = require_nlp()
        cap = GPU_MAX_LENGTH if torch.cuda.is_available() else CPU_MAX_LENGTH
        return TransformerClassifier(self.choice_.entry.path, max_length=min(cap, self.choice_.length),
                                     learning_rate=params["learning_rate"], epochs=params["epochs"],
                                     lora_rank=params["lora_rank"], seed=seed)

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        scorer = None if np.ndim(y) == 2 else self._scorer(estimator)
        try:
            return estimator.fit(X, y, X_valid, y_valid, deadline=deadline, scorer=scorer)
        except RuntimeError as exc:  # torch: out of memory, a checkpoint whose shapes do not fit, ...
            raise MofangError(f"fine-tuning {self.choice_.entry.name} failed: {str(exc).splitlines()[0]}") from exc

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        stats = getattr(estimator, "stats_", {})
        keep = ("steps", "epochs_run", "stopped", "train_samples_per_s", "predict_samples_per_s", "device")
        return {"base_model": self.choice_.entry.name, "base_model_path": str(self.choice_.entry.path),
                "base_model_choice": self.choice_.reason, "max_length": estimator.max_length,
                **{k: stats[k] for k in keep if k in stats}}

    def _scorer(self, estimator: Any) -> Any:
        """The order's metric on valid (higher is better), for picking the best weights during training."""
        name, direction = self.metric_
        labels = np.asarray(self.class_names_, dtype=object)

        def score(y_codes: np.ndarray, proba: np.ndarray) -> float:
            full = np.zeros((len(proba), len(labels)))
            full[:, np.asarray(estimator.classes_, dtype=int)] = proba
            value = compute_metrics(self.task, labels[y_codes], labels[full.argmax(axis=1)], full,
                                    self.class_names_).get(name)
            if value is None:
                return -np.inf
            return float(value) if direction == "higher" else -float(value)

        return score


@dataclass(frozen=True)
class Choice:
    """The base model picked for an order, why, and the token length its texts need."""

    entry: CatalogEntry
    coverage: Coverage
    reason: str
    length: int


def choose_base_model(base_model: str | None, texts: Any, threshold: float = THRESHOLD) -> Choice:
    """`base_model` (catalog name or folder) when the order names one, else the catalog's entries in
    preference order (the text's language first, then multilingual, encoders before causal LMs); the
    first whose tokenizer reads the text wins. MofangError with every skip reason when none does."""
    sample = sample_texts(texts)
    if not sample:
        raise MofangError("transformer: the text columns hold no text to learn from")
    if base_model:
        entries = [resolve_entry(base_model)]  # a bad name or path is an error, not a skip
    else:
        script, language = dominant_script(sample)
        entries = sorted(load_catalog().values(),
                         key=lambda e: (0 if e.language == language else 1 if e.language == "multi" else 2,
                                        e.kind != "encoder"))
        if not entries:
            raise MofangError(f"transformer: the model catalog is empty; give the order a base_model or list "
                              f"checkpoints in {catalog_path()}")
    skipped: list[str] = []
    for entry in entries:
        try:
            tokenizer = load_tokenizer(entry.path) if base_model else _catalog_tokenizer(entry)
        except MofangError as exc:
            if base_model:
                raise
            skipped.append(f"{entry.name} skipped: {exc}")
            continue
        coverage = measure_coverage(tokenizer, sample, model=entry.name)
        if not coverage.readable(threshold):
            skipped.append(coverage.skip_reason(threshold))
            continue
        how = "the order's base_model" if base_model else f"catalog entry for {entry.language}"
        reason = f"{entry.name} ({how}): {coverage.summary()}"
        if skipped:
            reason += "; " + "; ".join(skipped)
        return Choice(entry, coverage, reason, _token_length(tokenizer, sample))
    raise MofangError("; ".join(skipped) + ("" if base_model else
                      f" (no catalog entry reads this text; add one to {catalog_path()})"))


def _catalog_tokenizer(entry: CatalogEntry) -> Any:
    resolve_entry(entry.name)  # checks the folder: a missing one is skipped with its path
    return load_tokenizer(entry.path)


def _token_length(tokenizer: Any, sample: list[str]) -> int:
    """Tokens that hold 95% of the sampled texts whole (special tokens included), rounded up to 8."""
    lengths = [len(ids) for ids in tokenizer(sample, verbose=False)["input_ids"]]
    wanted = int(np.percentile(lengths, 95)) if lengths else MIN_LENGTH
    return max(MIN_LENGTH, -(-wanted // 8) * 8)
