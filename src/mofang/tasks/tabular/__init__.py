"""Tabular classification and regression: the line's shared processes, with classes or without, and a
robustness measure on perturbed test rows (`robustness`, hook `evaluation.robustness`)."""

from __future__ import annotations

from mofang.core.tasks import TaskSpec

CLASSIFICATION_METRICS = {
    "roc_auc": "higher", "pr_auc": "higher", "f1_macro": "higher", "accuracy": "higher",
    "precision_macro": "higher", "recall_macro": "higher", "log_loss": "lower",
}
TRAINERS = "mofang.models.trainers"  # the shared model workshop's families
PACKAGE = "mofang.tasks.tabular"
HOOKS = {"evaluation.robustness": f"{PACKAGE}.robustness:robustness"}  # noise, missing, unseen categories, shift
REGRESSION_METRICS = {"rmse": "lower", "mae": "lower", "r2": "higher", "mape": "lower"}

CLASSIFICATION = TaskSpec(
    name="tabular-classification", description="a label for each row of a table (risk, churn, fraud)",
    metrics=CLASSIFICATION_METRICS, labels_file=True, classes=True, refit=True, base_model=("market",),
    robustness=True, hooks=HOOKS, wizard=0, wizard_criterion=("roc_auc", ">= 0.70"),
    families={"dummy": f"{TRAINERS}.baseline:PriorClassifier", "linear": f"{TRAINERS}.linear:LogisticTrainer",
              "knn": f"{TRAINERS}.neighbors:KNeighborsClassifierTrainer",
              "randomforest": f"{TRAINERS}.forest:RandomForestClassifierTrainer",
              "extratrees": f"{TRAINERS}.forest:ExtraTreesClassifierTrainer",
              "mlp": f"{TRAINERS}.mlp:MLPClassifierTrainer",
              "catboost": f"{TRAINERS}.cat:CatBoostClassifierTrainer",
              "xgboost": f"{TRAINERS}.xgb:XGBoostClassifierTrainer",
              "lightgbm": f"{TRAINERS}.boosting:LightGBMClassifierTrainer"})
REGRESSION = TaskSpec(
    name="tabular-regression", description="a number for each row of a table (amounts, demand, prices)",
    metrics=REGRESSION_METRICS,  # refit on all rows: classification only, as the order schema documents
    base_model=("market",),  # a published regressor competes; no checkpoint family reads tables
    robustness=True, hooks=HOOKS,
    wizard=1, wizard_criterion=("r2", ">= 0.50"),
    families={"dummy": f"{TRAINERS}.baseline:MeanRegressor", "linear": f"{TRAINERS}.linear:RidgeTrainer",
              "knn": f"{TRAINERS}.neighbors:KNeighborsRegressorTrainer",
              "randomforest": f"{TRAINERS}.forest:RandomForestRegressorTrainer",
              "extratrees": f"{TRAINERS}.forest:ExtraTreesRegressorTrainer",
              "mlp": f"{TRAINERS}.mlp:MLPRegressorTrainer",
              "catboost": f"{TRAINERS}.cat:CatBoostRegressorTrainer",
              "xgboost": f"{TRAINERS}.xgb:XGBoostRegressorTrainer",
              "lightgbm": f"{TRAINERS}.boosting:LightGBMRegressorTrainer"})

SPECS = (CLASSIFICATION, REGRESSION)
