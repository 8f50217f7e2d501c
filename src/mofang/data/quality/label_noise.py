"""quality.label_noise: find rows whose label out-of-fold predictions contradict (confident learning)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier

from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, register
from mofang.data.ops.base import SAMPLE
from mofang.data.quality.confident import find_label_issues, out_of_fold_probabilities
from mofang.data.quality.features import numeric_and_categorical, tabular_matrix

TEXT_CHARS = 1000  # the start of a text is enough to judge its label and keeps long documents cheap


@register
class LabelNoise(Operator):
    name = "quality.label_noise"
    process = "quality"
    description = "Find likely mislabelled rows with out-of-fold predictions and confident learning; flag or drop"

    class Params(OpParams):
        action: Literal["flag", "drop"] = "flag"  # flag: list the suspects in the trace, data unchanged
        max_drop_share: float = Field(0.05, ge=0, le=1)  # drop at most this share of rows, most suspicious first
        folds: int = Field(5, ge=2, le=10)
        min_class_rows: int = Field(10, ge=2)  # classes with fewer rows are left out of the analysis

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        p = self.params
        skip = _why_not_applicable(table, ctx)
        if skip:
            trace.details["note"] = skip
            return table
        labels = np.array(table.column(ctx.target).cast(pa.string()).to_pylist(), dtype=object)
        present = labels != None  # noqa: E711 - elementwise test for missing labels
        classes, counts = np.unique(labels[present].astype(str), return_counts=True)
        small = classes[counts < max(p.min_class_rows, p.folds)]
        kept_classes = classes[counts >= max(p.min_class_rows, p.folds)]
        if kept_classes.size < 2:
            trace.details["note"] = (f"skipped: fewer than 2 classes with at least "
                                     f"{max(p.min_class_rows, p.folds)} labelled rows")
            return table
        names = [str(c) for c in kept_classes]
        rows = np.flatnonzero(present & np.isin(labels, kept_classes))
        features, model, model_name = _features_and_model(table.take(pa.array(rows)), ctx, self.params.columns,
                                                          ctx.seed)
        if features is None:
            trace.details["note"] = "skipped: no usable feature columns"
            return table
        given = np.searchsorted(kept_classes, labels[rows].astype(str))
        probabilities = out_of_fold_probabilities(model, features, given, folds=p.folds, seed=ctx.seed)
        issues = find_label_issues(given, probabilities)
        positions = rows[issues.positions]
        confidence = probabilities[issues.positions, issues.suggested]
        ids = ctx.row_ids(table, positions[:SAMPLE])
        trace.details.update({
            "model": model_name, "rows_analyzed": int(rows.size), "excluded_classes": [str(c) for c in small],
            "suspects": int(positions.size), "suspect_share": round(positions.size / rows.size, 4),
            "thresholds": {c: round(float(t), 4) for c, t in zip(names, issues.thresholds, strict=True)},
            "noise_rate": {c: round(float((given[issues.positions] == j).sum() / (given == j).sum()), 4)
                           for j, c in enumerate(names)},
            "top_suspects": [{"row": row, "given": names[given[q]], "suggested": names[s],
                              "confidence": round(float(conf), 4)} for row, q, s, conf in zip(
                ids, issues.positions, issues.suggested, confidence, strict=False)],
        })
        if kept_classes.size <= 20:
            trace.details["confident_joint"] = {"classes": names, "counts": issues.joint.tolist()}
        if p.action == "flag" or positions.size == 0:
            trace.details["note"] = f"{positions.size:,} suspect labels of {rows.size:,} rows flagged"
            return table
        limit = int(p.max_drop_share * table.num_rows)
        dropped = positions[:limit]
        trace.drop(ctx.row_ids(table, dropped), [
            f"label '{names[given[q]]}' looks like '{names[s]}' (p={conf:.2f})"
            for q, s, conf in zip(issues.positions[:limit], issues.suggested[:limit], confidence[:limit], strict=True)])
        trace.details["note"] = (f"{positions.size:,} suspect labels; dropped the {dropped.size:,} most suspicious "
                                 f"(max_drop_share {p.max_drop_share})")
        keep = np.ones(table.num_rows, dtype=bool)
        keep[dropped] = False
        return table.filter(pa.array(keep))


def _why_not_applicable(table: pa.Table, ctx: OpContext) -> str | None:
    if not ctx.classes:
        return f"skipped: label noise needs a classification task, not {ctx.task or 'none'}"
    if not ctx.target or ctx.target not in table.column_names:
        return "skipped: no target column"
    if table.num_rows < 50:
        return f"skipped: {table.num_rows} rows are too few to judge labels"
    return None


def _features_and_model(table: pa.Table, ctx: OpContext, columns: list[str] | None,
                        seed: int) -> tuple[np.ndarray | sparse.spmatrix | None, object, str]:
    """TF-IDF character 1–3-grams + logistic regression for text; for tables, median-imputed numerics and
    one-hot categoricals into a small LightGBM."""
    if ctx.text_features:  # a text task: its labels are judged from the text
        texts = columns or ctx.columns_of(table, ("text",))
        if not texts:
            return None, None, ""
        joined = texts[0] if len(texts) == 1 else None
        values = (table.column(joined) if joined else pc.binary_join_element_wise(
            *[pc.fill_null(table.column(c).cast(pa.string()), "") for c in texts], " "))
        corpus = [(v or "")[:TEXT_CHARS] for v in values.cast(pa.string()).to_pylist()]
        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, sublinear_tf=True, dtype=np.float32)
        # SGD on the logistic loss with alpha = 1/n regularises like LogisticRegression(C=1) but fits in a fraction
        # of the time on tens of thousands of rows and many classes
        model = SGDClassifier(loss="log_loss", alpha=1.0 / table.num_rows, max_iter=50, tol=1e-4, random_state=seed)
        return vectorizer.fit_transform(corpus), model, "tf-idf char 1-3-grams + logistic regression (SGD)"
    from lightgbm import LGBMClassifier

    numeric, categorical = numeric_and_categorical(
        table, ctx.kinds, columns or ctx.columns_of(table, ("numeric", "categorical", "boolean")))
    if not numeric and not categorical:
        return None, None, ""
    # one thread: LightGBM and scikit-learn bring separate OpenMP runtimes whose idle threads spin against each other
    model = LGBMClassifier(n_estimators=60, learning_rate=0.1, num_leaves=15, min_child_samples=10,
                           subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed, n_jobs=1,
                           verbose=-1)
    return tabular_matrix(table, numeric, categorical), model, "lightgbm, 60 trees, on numerics + one-hot"
