"""One AutoML system on one benchmark split, run inside the AutoML virtual environment (not Mofang's).

    python automl_worker.py {autogluon,flaml} TRAIN.csv TEST.csv TARGET TASK SECONDS OUT_FOLDER

Reads the raw CSVs (every value a string, as Mofang reads them), fits within SECONDS, writes
OUT_FOLDER/predictions.csv (prediction and, for classification, the positive class's probability) and
OUT_FOLDER/result.json (the model it chose, the fit's wall time). Imports nothing of Mofang.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers where a column is (almost) all numbers, categories elsewhere: what a user hands either system."""
    out = frame.copy()
    for column in out.columns:
        numeric = pd.to_numeric(out[column].replace("", np.nan), errors="coerce")
        if numeric.notna().mean() >= 0.95 * max(out[column].ne("").mean(), 1e-9):
            out[column] = numeric
        else:
            out[column] = out[column].astype("category")
    return out


def main() -> int:
    system, train_csv, test_csv, target, task, seconds, out = sys.argv[1:8]
    seconds_f, folder = float(seconds), Path(out)
    warnings.filterwarnings("ignore")
    read = {"dtype": str, "keep_default_na": False}
    train, test = pd.read_csv(train_csv, **read), pd.read_csv(test_csv, **read)
    classification = task == "tabular-classification"
    y = train[target].str.strip()
    positive = sorted(y.unique())[-1] if classification else None
    started = time.perf_counter()
    if system == "autogluon":
        from autogluon.tabular import TabularPredictor

        frame = typed(train.drop(columns=[target]))
        frame[target] = y if classification else y.astype(float)
        predictor = TabularPredictor(label=target, eval_metric="roc_auc" if classification else "r2",
                                     path=str(folder / "ag"), verbosity=0)
        # under 300 s, no dynamic stacking: its sub-fit (a quarter of the budget) trained no model in 30 s on
        # bank_marketing with 2 cores, after which AutoGluon 1.6.3 raised "Learner is already fit"
        predictor.fit(frame, presets="best_quality", time_limit=seconds_f, num_cpus=2,
                      dynamic_stacking=seconds_f >= 300)
        x_test = typed(test.drop(columns=[target]))
        for column in x_test.columns:  # the training types on the test side
            if column in frame and not isinstance(frame[column].dtype, pd.CategoricalDtype):
                x_test[column] = pd.to_numeric(x_test[column], errors="coerce")
        predictions = predictor.predict(x_test).to_numpy()
        proba = predictor.predict_proba(x_test)[positive].to_numpy() if classification else None
        model = str(predictor.model_best)
    else:
        from flaml import AutoML

        x_train, x_test = typed(train.drop(columns=[target])), typed(test.drop(columns=[target]))
        for column in x_train.columns:
            if isinstance(x_train[column].dtype, pd.CategoricalDtype):
                x_test[column] = pd.Categorical(x_test[column].astype(str), categories=x_train[column].cat.categories)
            else:
                x_test[column] = pd.to_numeric(x_test[column], errors="coerce")
        automl = AutoML()
        automl.fit(x_train, y if classification else y.astype(float),
                   task="classification" if classification else "regression",
                   metric="roc_auc" if classification else "r2", time_budget=seconds_f, seed=0, verbose=0,
                   n_jobs=2)
        predictions = automl.predict(x_test)
        proba = None
        if classification:
            classes = [str(c) for c in automl.classes_]
            proba = automl.predict_proba(x_test)[:, classes.index(positive)]
        model = str(automl.best_estimator)
    wall = time.perf_counter() - started
    table = pd.DataFrame({"prediction": np.asarray(predictions)})
    if proba is not None:
        table["proba"] = np.asarray(proba, dtype=float)
    table.to_csv(folder / "predictions.csv", index=False)
    (folder / "result.json").write_text(json.dumps({"model": model, "fit_wall_s": round(wall, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
