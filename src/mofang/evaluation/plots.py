"""The report's plots as PNG bytes: drawn with matplotlib's Agg canvas, no global pyplot state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from mofang.core.plots import bilingual as _bi
from mofang.core.plots import render_png as _render

MAX_CURVES = 10


def classification_plots(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray,
                         classes: Sequence[str], importance: dict[str, float]) -> dict[str, bytes]:
    """ROC and PR curves (one-vs-rest beyond two classes), confusion matrix, calibration (binary: P(positive);
    more classes: the confidence of the predicted class), feature importance."""
    classes = list(classes)
    curves = _curve_targets(y_true, proba, classes)
    plots: dict[str, bytes] = {}
    if curves:
        plots["roc_curve"] = _render(lambda ax: _roc(ax, curves))
        plots["pr_curve"] = _render(lambda ax: _pr(ax, curves))
    plots["confusion_matrix"] = _render(lambda ax: _confusion(ax, y_true, y_pred, classes),
                                        size=(max(4.5, 0.5 * len(classes) + 3), max(4.0, 0.5 * len(classes) + 2.5)))
    if len(classes) == 2 and len(curves) == 1:
        plots["calibration"] = _render(lambda ax: _calibration(ax, *curves[0][1:]))
    elif len(classes) > 2 and len(y_true):
        top = proba.argmax(axis=1)
        correct = np.asarray(classes, dtype=object)[top] == y_true
        if 0 < correct.sum() < len(correct):
            plots["calibration"] = _render(lambda ax: _calibration(
                ax, correct, proba[np.arange(len(top)), top], title=_bi("校准曲线（预测类别的置信度）",
                                                   "Calibration (confidence of the predicted class)")))
    if importance:
        plots["feature_importance"] = _render(lambda ax: _importance(ax, importance), size=(6.0, 5.0))
    return plots


def multilabel_plots(truth: np.ndarray, pred: np.ndarray, proba: np.ndarray, classes: Sequence[str],
                     importance: dict[str, float]) -> dict[str, bytes]:
    """Multi-label (0/1 matrices rows × classes): ROC and PR curves per class, F1 per class, calibration of
    every (row, class) probability, feature importance."""
    classes = list(classes)
    curves = [(c, truth[:, k] == 1, proba[:, k]) for k, c in enumerate(classes)
              if 0 < truth[:, k].sum() < len(truth)][:MAX_CURVES]
    plots: dict[str, bytes] = {}
    if curves:
        plots["roc_curve"] = _render(lambda ax: _roc(ax, curves))
        plots["pr_curve"] = _render(lambda ax: _pr(ax, curves))
    f1 = skm.f1_score(truth, pred, average=None, zero_division=0) if len(truth) else np.zeros(len(classes))
    plots["per_class_f1"] = _render(lambda ax: _per_class(ax, classes, f1, truth.sum(axis=0)),
                                    size=(6.0, max(3.0, 0.35 * len(classes) + 1.5)))
    flat_truth, flat_proba = truth.ravel() == 1, proba.ravel()
    if 0 < flat_truth.sum() < len(flat_truth):
        title = _bi("校准曲线（每行 × 每个标签）", "Calibration (every row × label)")
        plots["calibration"] = _render(lambda ax: _calibration(ax, flat_truth, flat_proba, title=title))
    if importance:
        plots["feature_importance"] = _render(lambda ax: _importance(ax, importance), size=(6.0, 5.0))
    return plots


def retrieval_plots(leaderboard: Sequence[dict[str, Any]], winner: str) -> dict[str, bytes]:
    """Recall@1/5/10 and MRR on test per retrieval candidate (the winner first); empty without test metrics."""
    rows = [r for r in leaderboard if r.get("test_metrics") and r["test_metrics"].get("recall_at_1") is not None]
    if not rows:
        return {}
    rows = sorted(rows, key=lambda r: r["name"] != winner)
    names = ["recall_at_1", "recall_at_5", "recall_at_10", "mrr"]

    def draw(ax: Any) -> None:
        width = 0.8 / len(rows)
        x = np.arange(len(names))
        for i, row in enumerate(rows):
            values = [row["test_metrics"].get(m) or 0.0 for m in names]
            bars = ax.bar(x + i * width - 0.4 + width / 2, values, width, label=row["name"])
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xticks(x, ["recall@1", "recall@5", "recall@10", "MRR"])
        ax.set(ylim=(0, 1.08), ylabel=_bi("测试集", "test"),
               title=_bi("留出问题上的检索效果", "Retrieval on held-out questions"))
        ax.legend(fontsize=7, loc="upper left")

    return {"recall_at_k": _render(draw, size=(6.0, 4.0))}


def _per_class(ax: Any, classes: list[str], f1: np.ndarray, support: np.ndarray) -> None:
    order = np.argsort(f1)
    ax.barh([f"{classes[k]} ({int(support[k])})" for k in order], f1[order], color="#4c78a8")
    ax.set(xlabel=_bi("测试集 F1", "F1 on test"), xlim=(0, 1),
           title=_bi("各标签 F1（括号内为含该标签的测试行数）", "F1 per label (test rows with the label)"))


def regression_plots(y_true: np.ndarray, y_pred: np.ndarray, importance: dict[str, float]) -> dict[str, bytes]:
    """Predicted vs actual, residual histogram, feature importance."""
    plots = {"predicted_vs_actual": _render(lambda ax: _scatter(ax, y_true, y_pred)),
             "residuals": _render(lambda ax: _residuals(ax, y_true - y_pred))}
    if importance:
        plots["feature_importance"] = _render(lambda ax: _importance(ax, importance), size=(6.0, 5.0))
    return plots


def _curve_targets(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> list[tuple[str, Any, Any]]:
    """(label, is_positive, score) for each curve: the positive class if binary, else each class."""
    picks = [1] if len(classes) == 2 else range(len(classes))
    out = []
    for k in picks:
        positive = y_true == classes[k]
        if 0 < positive.sum() < len(positive):
            out.append((classes[k], positive, proba[:, k]))
    return out[:MAX_CURVES]


def _roc(ax: Any, curves: list[tuple[str, Any, Any]]) -> None:
    for label, positive, score in curves:
        fpr, tpr, _ = skm.roc_curve(positive, score)
        ax.plot(fpr, tpr, label=f"{label} (AUC {skm.auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel=_bi("假阳性率", "False positive rate"), ylabel=_bi("真阳性率", "True positive rate"),
           title=_bi("ROC 曲线", "ROC curve"))
    ax.legend(loc="lower right", fontsize=8)


def _pr(ax: Any, curves: list[tuple[str, Any, Any]]) -> None:
    for label, positive, score in curves:
        precision, recall, _ = skm.precision_recall_curve(positive, score)
        ax.plot(recall, precision, label=f"{label} (AP {skm.average_precision_score(positive, score):.3f})")
    ax.set(xlabel=_bi("召回率", "Recall"), ylabel=_bi("精确率", "Precision"),
           title=_bi("精确率-召回率曲线", "Precision-recall curve"), ylim=(0, 1.02))
    ax.legend(loc="lower left", fontsize=8)


def _confusion(ax: Any, y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> None:
    matrix = skm.confusion_matrix(y_true, y_pred, labels=classes)
    ax.imshow(matrix, cmap="Blues")
    ticks = range(len(classes))
    ax.set_xticks(list(ticks), labels=classes, rotation=45, ha="right")
    ax.set_yticks(list(ticks), labels=classes)
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in ticks:
        for j in ticks:
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black", fontsize=8)
    ax.set(xlabel=_bi("预测", "Predicted"), ylabel=_bi("实际", "Actual"), title=_bi("混淆矩阵", "Confusion matrix"))


def _calibration(ax: Any, positive: np.ndarray, score: np.ndarray, title: str = "") -> None:
    true_rate, predicted = calibration_curve(positive, score, n_bins=10, strategy="quantile")
    ax.plot(predicted, true_rate, marker="o", label=_bi("模型", "model"))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label=_bi("完美校准", "perfect"))
    ax.set(xlabel=_bi("预测概率", "Predicted probability"), ylabel=_bi("实际频率", "Observed frequency"),
           title=title or _bi("校准曲线", "Calibration"))
    ax.legend(loc="upper left", fontsize=8)


def _importance(ax: Any, importance: dict[str, float]) -> None:
    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:20][::-1]
    ax.barh([name for name, _ in top], [value for _, value in top], color="#4c78a8")
    ax.set(xlabel=_bi("重要性", "Importance"), title=_bi("特征重要性（前 20）", "Feature importance (top 20)"))


def _scatter(ax: Any, y_true: np.ndarray, y_pred: np.ndarray) -> None:
    ax.scatter(y_true, y_pred, s=8, alpha=0.5)
    low, high = float(np.nanmin([y_true.min(), y_pred.min()])), float(np.nanmax([y_true.max(), y_pred.max()]))
    ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel=_bi("实际值", "Actual"), ylabel=_bi("预测值", "Predicted"),
           title=_bi("预测值与实际值", "Predicted vs actual"))


def _residuals(ax: Any, residuals: np.ndarray) -> None:
    ax.hist(residuals, bins=40, color="#4c78a8")
    ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel=_bi("残差（实际 − 预测）", "Residual (actual − predicted)"), ylabel=_bi("行数", "Rows"),
           title=_bi("残差分布", "Residuals"))
