"""Active learning for orders with few labels: uncertainty sampling, a CSV labeling queue, simulated rounds.

Pick what people should label next, hand it to them as a CSV Excel opens correctly, take their labels back:

    queue = LabelingQueue(ids, texts, allowed=["正面", "负面"], labels=labels_so_far)
    rows = queue.propose(50)                 # model suggestions + confidence, most uncertain first
    queue.export("to_label.csv", rows)       # UTF-8 with BOM: id, text, suggestion, confidence, label (empty)
    summary = queue.import_csv("to_label.csv")   # validated all or nothing; blank labels skipped and counted
    queue.save_labels("labels.csv")          # the labeled pool: id, label

`uncertainty_sample(proba, k, strategy)` ranks any model's class probabilities ("margin", "entropy",
"least_confident"). `simulate_rounds(fit_predict, texts, labels, seed_size, batch, rounds)` replays labeling
on a labeled set (uncertainty vs random) and returns learning-curve rows {strategy, round, labels, score};
`curve_area` and `labels_to_reach` summarize them, `learning_curve_plot` draws them. A model is any
`fit_predict(train_texts, train_labels, texts) -> (classes, proba)`; `char_tfidf_fit_predict` (character
1–3-gram TF-IDF + logistic regression) is the built-in one.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mofang.core.errors import DataError, MofangError
from mofang.core.plots import render_png
from mofang.data.label.files import LABEL_COLUMNS, cell, read_csv, read_labels, unescape, write_csv

Strategy = Literal["margin", "entropy", "least_confident"]
STRATEGIES: tuple[str, ...] = ("margin", "entropy", "least_confident")
FitPredict = Callable[[list[str], list[Any], list[str]], tuple[Sequence[Any], np.ndarray]]
MetricFn = Callable[[Any, Any], float]

QUEUE_COLUMNS = ("id", "text", "suggestion", "confidence", "label")
MAX_LISTED = 20  # problems listed in one import error


# -- uncertainty sampling --------------------------------------------------------------------------------
def uncertainty_scores(proba: np.ndarray, strategy: str = "margin", *, multi_label: bool = False) -> np.ndarray:
    """How uncertain the model is about each row, in [0, 1] (higher = more worth labeling).

    margin: 1 − (top probability − runner-up); entropy: entropy / log(k); least_confident: 1 − top
    probability. Multi-label (`proba` holds independent per-label probabilities): each label is scored as
    a binary decision and a row takes its most uncertain label (entropy: the mean over labels)."""
    proba = np.clip(np.asarray(proba, dtype=float), 0.0, 1.0)
    if proba.ndim != 2:
        raise ValueError(f"proba must be (rows, classes); got shape {proba.shape}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r} (expected: {', '.join(STRATEGIES)})")
    if multi_label:
        per_label = np.stack([proba, 1.0 - proba], axis=-1).reshape(-1, 2)
        scores = uncertainty_scores(per_label, strategy).reshape(proba.shape)
        return scores.mean(axis=1) if strategy == "entropy" else scores.max(axis=1)
    if proba.shape[1] < 2:
        return np.zeros(len(proba))
    ranked = -np.sort(-proba, axis=1)
    if strategy == "margin":
        return 1.0 - (ranked[:, 0] - ranked[:, 1])
    if strategy == "least_confident":
        return 1.0 - ranked[:, 0]
    safe = np.where(proba > 0, proba, 1.0)
    return -(proba * np.log(safe)).sum(axis=1) / math.log(proba.shape[1])


def uncertainty_sample(proba: np.ndarray, k: int, strategy: str = "margin", seed: int = 0, *,
                       multi_label: bool = False) -> np.ndarray:
    """Row indices of the `k` most uncertain rows of `proba`, most uncertain first; ties in a seeded order."""
    scores = np.round(uncertainty_scores(proba, strategy, multi_label=multi_label), 12)
    tie_break = np.random.default_rng(seed).permutation(len(scores))
    return np.lexsort((tie_break, -scores))[:max(0, k)]


def random_sample(n: int, k: int, seed: int = 0) -> np.ndarray:
    """`k` of `n` row indices drawn at random (the baseline uncertainty sampling must beat)."""
    return np.random.default_rng(seed).permutation(n)[:max(0, k)]


# -- a built-in model ------------------------------------------------------------------------------------
def char_tfidf_fit_predict(train_texts: Sequence[str], train_labels: Sequence[Any],
                           texts: Sequence[str]) -> tuple[list[Any], np.ndarray]:
    """Character 1–3-gram TF-IDF + logistic regression fitted on the labeled texts: (classes, proba of
    `texts`). One class only: probability 1 for it."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(train_labels), key=str)
    if len(classes) < 2:
        return classes, np.ones((len(texts), len(classes)))
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, lowercase=False)
    # liblinear fits a small binary problem in milliseconds where lbfgs takes a tenth of a second; with more
    # classes saga took 0.04 s where lbfgs took 5 s (470 short texts, 4.7k n-grams, 4 classes, a loaded machine)
    model = LogisticRegression(C=10.0, max_iter=1000, class_weight="balanced",
                               solver="liblinear" if len(classes) == 2 else "saga")
    model.fit(vectorizer.fit_transform(list(train_texts)), list(train_labels))
    return list(model.classes_), model.predict_proba(vectorizer.transform(list(texts)))


# -- the labeling queue ----------------------------------------------------------------------------------
class LabelImportError(MofangError):
    """A filled labeling CSV that cannot be merged; `problems` lists (row, column, value, reason)."""

    def __init__(self, file: str, problems: list[dict[str, Any]]) -> None:
        self.file, self.problems = file, problems
        lines = [f"{file}, row {p['row']}: {p['reason']}" if p.get("row") else f"{file}: {p['reason']}"
                 for p in problems[:MAX_LISTED]]
        more = f"\n  … and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        head = f"{file}: {len(problems)} problem{'s' if len(problems) > 1 else ''}, nothing imported"
        super().__init__(head + "".join(f"\n  {line}" for line in lines) + more)


@dataclass(frozen=True)
class ImportSummary:
    """What one import did: rows read, labels added, changed, already equal, and blank rows skipped."""

    file: str
    rows: int
    added: int
    changed: int
    unchanged: int
    blank: int


class LabelingQueue:
    """A pool of texts with the labels gathered so far, and its CSV round trips to the people labeling.

    Ids are strings. `allowed` is the label set (needed to import, not to export); multi-label cells join
    labels with `separator` ("正面|物流"). `labels` maps id → label (the labeled pool, joined the same way
    when multi-label)."""

    def __init__(self, ids: Sequence[Any], texts: Sequence[str], allowed: Sequence[str], *,
                 labels: Mapping[Any, str] | None = None, multi_label: bool = False, separator: str = "|") -> None:
        self.ids = [str(i) for i in ids]
        if len(self.ids) != len(texts):
            raise ValueError(f"{len(self.ids)} ids for {len(texts)} texts")
        if len(set(self.ids)) != len(self.ids):
            duplicate = next(i for i in self.ids if self.ids.count(i) > 1)
            raise DataError(f"id '{duplicate}' appears more than once; a labeling pool needs unique ids")
        self.texts = dict(zip(self.ids, (str(t) for t in texts), strict=True))
        self.allowed = tuple(dict.fromkeys(str(a).strip() for a in allowed if str(a).strip()))
        self.multi_label, self.separator = multi_label, separator
        self.labels: dict[str, str] = {}
        for key, label in (labels or {}).items():
            if str(key) not in self.texts:
                raise DataError(f"labeled id '{key}' is not in the pool of texts")
            self.labels[str(key)] = str(label)

    @property
    def unlabeled(self) -> list[str]:
        """Ids without a label, in pool order."""
        return [i for i in self.ids if i not in self.labels]

    def label_lists(self) -> dict[str, list[str]]:
        """The labeled pool with each label as a list (one item unless multi-label)."""
        return {i: self._split(label) for i, label in self.labels.items()}

    def _split(self, cell: str) -> list[str]:
        parts = cell.split(self.separator) if self.multi_label else [cell]
        return list(dict.fromkeys(p.strip() for p in parts if p.strip()))

    # -- choosing what to label ------------------------------------------------------------------------
    def propose(self, k: int, fit_predict: FitPredict | None = char_tfidf_fit_predict, *,
                strategy: str = "margin", seed: int = 0) -> list[dict[str, Any]]:
        """Up to `k` unlabeled rows to label next: {id, text, suggestion, confidence}, most uncertain first.

        With a model and labels of at least two classes the model (fitted on the labeled pool) suggests a
        label and its probability; otherwise (or multi-label) the rows are a seeded random sample without
        suggestions."""
        pool = self.unlabeled
        classes = {label for labels in self.label_lists().values() for label in labels}
        if fit_predict is None or self.multi_label or len(classes) < 2:
            return [{"id": pool[i], "text": self.texts[pool[i]], "suggestion": "", "confidence": None}
                    for i in random_sample(len(pool), k, seed)]
        labeled = list(self.labels)
        model_classes, proba = fit_predict([self.texts[i] for i in labeled], [self.labels[i] for i in labeled],
                                           [self.texts[i] for i in pool])
        proba = np.asarray(proba, dtype=float)
        picks = uncertainty_sample(proba, k, strategy, seed)
        return [{"id": pool[i], "text": self.texts[pool[i]], "suggestion": str(model_classes[int(proba[i].argmax())]),
                 "confidence": round(float(proba[i].max()), 4)} for i in picks]

    # -- CSV round trip --------------------------------------------------------------------------------
    def export(self, path: str | Path, rows: Sequence[Mapping[str, Any] | str]) -> Path:
        """Write rows to label (dicts from `propose`, or bare ids) as CSV, UTF-8 with BOM so Excel shows
        Chinese; columns id, text, suggestion, confidence and an empty label. Cells that Excel would run
        as formulas (=, +, -, @) get a leading apostrophe."""
        out = []
        for row in rows:
            item = {"id": row} if isinstance(row, str) else dict(row)
            key = str(item["id"])
            if key not in self.texts:
                raise DataError(f"id '{key}' is not in the pool of texts")
            confidence = item.get("confidence")
            out.append([key, self.texts[key], item.get("suggestion") or "",
                        "" if confidence is None else f"{float(confidence):.4f}", ""])
        return write_csv(Path(path), QUEUE_COLUMNS, out)

    def import_csv(self, path: str | Path) -> ImportSummary:
        """Merge a filled queue CSV into the labeled pool, all or nothing.

        Needs the columns id and label (others are ignored); reads UTF-8 (with or without BOM), GBK/GB18030
        or UTF-16 as Excel may save it, separated by , ; or TAB. Blank labels are skipped and counted.
        Raises LabelImportError naming the file, the spreadsheet row (the header is row 1) and the value of
        every unknown id, label outside the allowed set, or id labeled twice differently."""
        path = Path(path)
        if not self.allowed:
            raise LabelImportError(path.name, [{"reason": "no allowed labels were given to check the labels against"}])
        header, records = read_csv(path)
        columns = {name.strip().lower(): k for k, name in enumerate(header)}
        missing = [c for c in LABEL_COLUMNS if c not in columns]
        if missing:
            raise LabelImportError(path.name, [{"reason": f"no column {', '.join(repr(m) for m in missing)} "
                                                          f"(found: {', '.join(header) or 'nothing'})"}])
        id_at, label_at = columns["id"], columns["label"]
        problems: list[dict[str, Any]] = []
        found: dict[str, tuple[int, str]] = {}
        blank = 0
        for row_number, record in enumerate(records, start=2):
            if not any(value.strip() for value in record):
                continue  # an empty line at the end of a file edited by hand
            key = unescape(cell(record, id_at).strip())
            given = unescape(cell(record, label_at).strip())
            if key not in self.texts:
                problems.append(self._unknown_id(row_number, key))
                continue
            if not given:
                blank += 1
                continue
            labels = self._split(given)
            bad = [label for label in labels if label not in self.allowed]
            if bad:
                problems.extend(self._bad_label(row_number, label) for label in bad)
                continue
            label = self.separator.join(labels)
            if key in found and found[key][1] != label:
                problems.append({"row": row_number, "column": "label", "value": label,
                                 "reason": f"id '{key}' labeled '{found[key][1]}' in row {found[key][0]} "
                                           f"and '{label}' here"})
                continue
            found[key] = (row_number, label)
        if problems:
            raise LabelImportError(path.name, problems)
        added = sum(key not in self.labels for key in found)
        changed = sum(key in self.labels and self.labels[key] != label for key, (_, label) in found.items())
        for key, (_, label) in found.items():
            self.labels[key] = label
        return ImportSummary(file=path.name, rows=len(records), added=added, changed=changed,
                             unchanged=len(found) - added - changed, blank=blank)

    def _unknown_id(self, row: int, key: str) -> dict[str, Any]:
        reason = f"id '{key}' is not in the pool of texts" if key else "the id is empty"
        if re.fullmatch(r"\d(\.\d+)?E\+\d+", key, flags=re.IGNORECASE):
            reason += " — a spreadsheet wrote a long numeric id in scientific notation; format the id column as text"
        elif key.isdigit():
            twins = [i for i in self.texts if i.isdigit() and i != key and int(i) == int(key)]
            if twins:
                reason += f" — did a spreadsheet turn '{twins[0]}' into a number? Format the id column as text"
        return {"row": row, "column": "id", "value": key, "reason": reason}

    def _bad_label(self, row: int, label: str) -> dict[str, Any]:
        close = difflib.get_close_matches(label, self.allowed, n=1, cutoff=0.5)
        hint = f" — did you mean '{close[0]}'?" if close else ""
        return {"row": row, "column": "label", "value": label,
                "reason": f"label '{label}' is not allowed (allowed: {', '.join(self.allowed)}){hint}"}

    # -- the labeled pool ------------------------------------------------------------------------------
    def save_labels(self, path: str | Path) -> Path:
        """Write the labeled pool as CSV (id, label; UTF-8 with BOM), in pool order, replacing the file whole."""
        return write_csv(Path(path), LABEL_COLUMNS, [[i, self.labels[i]] for i in self.ids if i in self.labels])

    @staticmethod
    def read_labels(path: str | Path) -> dict[str, str]:
        """A labels CSV (id, label) as id → label; rows with a blank label are skipped."""
        return read_labels(path)












# -- simulated labeling rounds ---------------------------------------------------------------------------
def simulate_rounds(fit_predict: FitPredict, pool_texts: Sequence[str], pool_labels: Sequence[Any],
                    seed_size: int, batch: int, rounds: int, *, test_texts: Sequence[str] | None = None,
                    test_labels: Sequence[Any] | None = None, test_size: float = 0.3,
                    strategies: Sequence[str] = ("margin", "random"), metric_fn: MetricFn | None = None,
                    seed: int = 0) -> list[dict[str, Any]]:
    """Replay labeling on an already labeled set: the learning curve of each strategy.

    Every strategy starts from the same random seed set of `seed_size` labels (holding at least two
    classes), then labels `batch` more rows per round for `rounds` rounds, chosen by uncertainty
    ("margin", "entropy", "least_confident") or at random ("random"). Scores are `metric_fn(y_true,
    y_pred)` (default: accuracy) on the test set: `test_texts`/`test_labels`, or a stratified `test_size`
    share held out of the pool. Rows: {strategy, round, labels, score, seed}. Single-label only."""
    texts, labels = [str(t) for t in pool_texts], list(pool_labels)
    if test_texts is None or test_labels is None:
        from sklearn.model_selection import train_test_split

        texts, test_x, labels, test_y = train_test_split(texts, labels, test_size=test_size, random_state=seed,
                                                         stratify=labels)
    else:
        test_x, test_y = [str(t) for t in test_texts], list(test_labels)
    if seed_size + batch * rounds > len(texts):
        raise ValueError(f"{seed_size} + {rounds} × {batch} labels exceed the pool of {len(texts)} texts")
    score_fn = metric_fn or _accuracy
    start = _seed_set(labels, seed_size, seed)
    rows = []
    for strategy in strategies:
        if strategy != "random" and strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (expected: random, {', '.join(STRATEGIES)})")
        chosen = list(start)
        rng = np.random.default_rng(seed + 1)
        for round_number in range(rounds + 1):
            rest = np.setdiff1d(np.arange(len(texts)), chosen)
            wants_pool = strategy != "random" and round_number < rounds
            targets = test_x + ([texts[i] for i in rest] if wants_pool else [])
            classes, proba = fit_predict([texts[i] for i in chosen], [labels[i] for i in chosen], targets)
            proba = np.asarray(proba, dtype=float)
            predicted = [classes[j] for j in proba[:len(test_x)].argmax(axis=1)]
            rows.append({"strategy": strategy, "round": round_number, "labels": len(chosen),
                         "score": float(score_fn(test_y, predicted)), "seed": seed})
            if round_number == rounds:
                break
            if wants_pool:
                picks = rest[uncertainty_sample(proba[len(test_x):], batch, strategy, seed + round_number)]
            else:
                picks = rng.choice(rest, size=batch, replace=False)
            chosen.extend(int(i) for i in picks)
    return rows


def _accuracy(y_true: Sequence[Any], y_pred: Sequence[Any]) -> float:
    return float(np.mean([str(a) == str(b) for a, b in zip(y_true, y_pred, strict=True)]))


def _seed_set(labels: list[Any], size: int, seed: int) -> list[int]:
    """A random seed set; when it holds one class only, its last row is swapped for a row of another class."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    chosen = [int(i) for i in order[:size]]
    if len({str(labels[i]) for i in chosen}) < 2:
        other = next((int(i) for i in order[size:] if str(labels[i]) != str(labels[chosen[0]])), None)
        if other is not None:
            chosen[-1] = other
    return chosen


def _mean_curves(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per strategy, the mean score at each number of labels (averaging the seeds)."""
    sums: dict[str, dict[int, list[float]]] = {}
    for row in rows:
        sums.setdefault(row["strategy"], {}).setdefault(int(row["labels"]), []).append(float(row["score"]))
    return {s: sorted((n, float(np.mean(v))) for n, v in points.items()) for s, points in sums.items()}


def curve_area(rows: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Per strategy, the area under its (seed-averaged) learning curve divided by the label range: the
    mean score over the labeling budget, comparable across strategies run on the same rounds."""
    areas = {}
    for strategy, points in _mean_curves(rows).items():
        x = np.array([n for n, _ in points], dtype=float)
        y = np.array([s for _, s in points])
        if len(x) < 2:
            areas[strategy] = float(y[0])
        else:  # the trapezoid rule
            areas[strategy] = float(((y[1:] + y[:-1]) / 2 * np.diff(x)).sum() / (x[-1] - x[0]))
    return areas


def labels_to_reach(rows: Sequence[Mapping[str, Any]], score: float) -> dict[str, int | None]:
    """Per strategy, the fewest labels at which its (seed-averaged) curve reaches `score` (None: never)."""
    return {strategy: next((n for n, s in points if s >= score), None)
            for strategy, points in _mean_curves(rows).items()}


def learning_curve_plot(rows: Sequence[Mapping[str, Any]], *, metric: str = "score", title: str | None = None) -> bytes:
    """PNG bytes: score against labels per strategy (averaged over the seeds in `rows`)."""

    curves = _mean_curves(rows)
    seeds = len({row.get("seed") for row in rows})

    def draw(ax: Any) -> None:
        for strategy, points in curves.items():
            ax.plot([n for n, _ in points], [s for _, s in points], marker="o", markersize=3,
                    linestyle="--" if strategy == "random" else "-", label=strategy)
        ax.set(xlabel="Labels", ylabel=metric,
               title=title or f"Learning curve ({seeds} seed{'s' if seeds > 1 else ''})")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)

    return render_png(draw, size=(6.0, 4.0))
