"""Few labelled rows: the linear text families score each trial by cross-validation over train + valid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.metrics import f1_score

from mofang.models.registry import get_trainer
from mofang.models.text.linear import CalibratedLinear
from mofang.models.text.pipeline import TextPipeline
from mofang.models.trainers import base
from mofang.models.trainers.base import cross_validation_folds
from tests.models.text_fixtures import FEATURES, dataset, news


def test_folds_cover_train_and_valid_once_each_stratified() -> None:
    y, y_valid = np.repeat([0, 1, 2], 40), np.repeat([0, 1, 2], 10)
    folds = cross_validation_folds(5, y, y_valid, seed=0)
    assert folds is not None and len(folds) == 5
    held = np.concatenate([rows for _, rows in folds])
    assert sorted(held) == list(range(150))  # every row of the concatenation held out exactly once
    for fit_rows, held_rows in folds:
        assert not set(fit_rows) & set(held_rows)
        assert np.bincount(np.concatenate([y, y_valid])[held_rows]).tolist() == [10, 10, 10]


@pytest.mark.parametrize(("k", "rows", "multi_label", "why"), [
    (0, 300, False, "the family does not ask for folds"),
    (5, base.CV_MAX_ROWS + 10, False, "enough rows: valid alone chooses steadily"),
    (5, 60, False, "too few rows for five folds"),
    (5, 300, True, "multi-label thresholds are tuned on valid"),
])
def test_valid_scores_the_trials_when_folds_do_not_apply(k: int, rows: int, multi_label: bool, why: str) -> None:
    y = np.zeros((rows, 3), dtype=int) if multi_label else np.arange(rows) % 3
    assert cross_validation_folds(k, y[: rows * 4 // 5], y[rows * 4 // 5:], seed=0) is None, why


def noisy_news(n: int, seed: int) -> pd.DataFrame:
    """The synthetic news with a fifth of the labels shuffled, so the trials' scores differ."""
    frame = news(n, seed)
    rng = np.random.default_rng(seed)
    flip = rng.random(n) < 0.2
    frame.loc[flip, "类别"] = rng.permutation(frame.loc[flip, "类别"].to_numpy())
    return frame


def test_the_chosen_trial_is_the_best_out_of_fold_and_the_model_is_fitted_on_train() -> None:
    frame = noisy_news(500, seed=4)
    train, valid = frame.iloc[:400].reset_index(drop=True), frame.iloc[400:].reset_index(drop=True)
    trainer = get_trainer("text-classification", "tfidf-linear")
    best_scores: list[float] = []
    candidate, info = trainer.fit(train, valid, dataset(train), 120.0, seed=7,
                                  on_trial=lambda n, s, best: best_scores.append(best))
    assert info["cross_validated"].startswith("trials scored by 5-fold cross-validation over train + valid (500 rows")
    # the reported best is the out-of-fold macro-F1 of the chosen parameters, recomputed here independently
    classes = dataset(train)["classes"]
    y, y_valid = (pd.Categorical(f["类别"], categories=classes).codes.astype(int) for f in (train, valid))
    ngrams = candidate.pipeline_.char_ngrams  # the n-gram range its own cross-validation kept
    assert f"{ngrams[0]}–{ngrams[1]} kept" in info["cross_validated"]
    pipeline = TextPipeline(FEATURES, **{**trainer.pipeline_params(), "char_ngrams": ngrams}).fit(train)
    X_all = sp.vstack([pipeline.transform(train), pipeline.transform(valid)]).tocsr()
    y_all = np.concatenate([y, y_valid])
    params = {k: candidate.params[k] for k in ("loss", "C", "balanced")}
    oof = np.empty(len(y_all), dtype=int)
    for fit_rows, held_rows in cross_validation_folds(5, y, y_valid, seed=7):
        model = CalibratedLinear(loss=params["loss"], C=params["C"],
                                 class_weight="balanced" if params["balanced"] else None, seed=7)
        oof[held_rows] = model.fit(X_all[fit_rows], y_all[fit_rows]).predict(X_all[held_rows])
    assert f1_score(y_all, oof, average="macro") == pytest.approx(max(best_scores), abs=1e-9)
    assert info["trials"] >= 2
    # the delivered candidate is those parameters on train (+ valid by the refit), calibrated on valid
    assert info["refit"].startswith("refitted") and candidate.params["refit_rows"] == 500
    assert candidate.estimator_.scale_[0] != pytest.approx(4.0)  # a temperature fitted on valid, not the default


def test_a_family_without_folds_keeps_scoring_on_valid() -> None:
    frame = noisy_news(300, seed=5)
    train, valid = frame.iloc[:240].reset_index(drop=True), frame.iloc[240:].reset_index(drop=True)
    _, info = get_trainer("text-classification", "lsa-linear").fit(train, valid, dataset(train), 60.0, seed=1)
    assert "cross_validated" not in info


def test_the_pick_ranks_a_cross_validated_family_by_its_cross_validated_score() -> None:
    from mofang.models.station import selection_score

    # valid-tuned families look better on valid than they are; a cross-validated one is ranked by its folds
    linear = {"valid_metrics": {"f1_macro": 0.436}, "selection_metrics": {"f1_macro": 0.450}}
    lsa = {"valid_metrics": {"f1_macro": 0.435}}
    assert selection_score(linear, "f1_macro") == 0.450 and selection_score(lsa, "f1_macro") == 0.435
    assert selection_score({"valid_metrics": {}}, "f1_macro") is None


def test_short_texts_compare_character_ngram_ranges_and_the_refit_keeps_the_chosen_one() -> None:
    frame = noisy_news(400, seed=6)
    train, valid = frame.iloc[:320].reset_index(drop=True), frame.iloc[320:].reset_index(drop=True)
    trainer = get_trainer("text-classification", "tfidf-linear")
    candidate, info = trainer.fit(train, valid, dataset(train), 60.0, seed=2)
    assert "character n-grams 1–3 f1_macro" in info["cross_validated"]
    assert "1–2 f1_macro" in info["cross_validated"]
    kept = tuple(candidate.pipeline_.char_ngrams)
    assert kept in ((1, 3), (1, 2)) and f"{kept[0]}–{kept[1]} kept" in info["cross_validated"]
    refitted = trainer.refit_rows(candidate, dataset(train), frame, seed=2)
    assert tuple(refitted.pipeline_.char_ngrams) == kept and refitted.params["refit_rows"] == 400
    assert trainer.pipeline_params()["char_ngrams"] == (1, 3)  # the family's default again afterwards
