"""Candidate image classifiers behind one interface: `fit(images, labels, masks, budget_s=..., seed=...)`, then
`predict_proba(images)` (one column per class of `classes_`) and `predict(images)`. Images are uint8 arrays
(H×W or H×W×3, any size); masks are bool H×W arrays or None.

Families: `features-logistic` and `features-lightgbm` (classical features with a linear or boosting head),
`cnn` (a small network trained from scratch, `mofang.tasks.vision.cnn`) and `pretrained` (a timm/torchvision
backbone from a local weights file, `mofang.tasks.vision.pretrained`). A family that cannot run here raises
`CandidateSkipped` with the reason."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from mofang.tasks.vision.features import ClassicalFeatures


class CandidateSkipped(RuntimeError):
    """A family that cannot be trained here (no weights, no library); the message is the reason."""


class ImageCandidate:
    """The common interface of every family."""

    family = "base"

    def __init__(self) -> None:
        self.classes_: list[str] = []
        self.info: dict[str, Any] = {}

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str],
            masks: Sequence[np.ndarray | None] | None = None, *, budget_s: float = 60.0,
            seed: int = 42) -> ImageCandidate:
        raise NotImplementedError

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The most probable class of each image."""
        return np.asarray(self.classes_, dtype=object)[self.predict_proba(images).argmax(axis=1)]


class FeatureCache:
    """Classical features computed once per image and shared by the feature families of one run."""

    def __init__(self, extractor: ClassicalFeatures | None = None) -> None:
        self.extractor = extractor or ClassicalFeatures()
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id → (the image, kept alive; its row)

    def transform(self, images: Sequence[np.ndarray]) -> np.ndarray:
        rows = []
        for image in images:
            found = self._rows.get(id(image))
            if found is None or found[0] is not image:
                found = (image, self.extractor.one(image))
                self._rows[id(image)] = found
            rows.append(found[1])
        return np.stack(rows) if rows else np.zeros((0, self.extractor.dimension), dtype=np.float32)


class FeatureClassifier(ImageCandidate):
    """Classical features (HOG, LBP, intensity, residuals) with a `logistic` (scaled, class-balanced
    logistic regression) or `lightgbm` (class-balanced gradient boosting, stopped by the budget) head."""

    def __init__(self, head: str = "logistic", cache: FeatureCache | None = None, threads: int = 2,
                 trees: int | None = None) -> None:
        super().__init__()
        if head not in ("logistic", "lightgbm"):
            raise ValueError(f"head must be 'logistic' or 'lightgbm', not {head!r}")
        self.head, self.cache, self.threads = head, cache or FeatureCache(), threads
        self.trees = trees  # the boosting head's number of trees (default: as many as the budget allows, ≤ 400)
        self.family = f"features-{head}"
        self.model: Any = None

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str],
            masks: Sequence[np.ndarray | None] | None = None, *, budget_s: float = 60.0,
            seed: int = 42) -> FeatureClassifier:
        start = time.monotonic()
        features = self.cache.transform(images)
        labels = np.asarray(labels).astype(str)
        self.classes_ = sorted(set(labels))
        left = max(1.0, budget_s - (time.monotonic() - start))
        if self.head == "logistic":
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler

            self.model = make_pipeline(StandardScaler(), LogisticRegression(
                C=0.05, class_weight="balanced", max_iter=3000, random_state=seed))
            self.model.fit(features, labels)
        else:
            from lightgbm import LGBMClassifier

            deadline = time.monotonic() + left

            def stop_at_deadline(env: Any) -> None:
                if time.monotonic() > deadline:
                    from lightgbm.callback import EarlyStopException

                    raise EarlyStopException(env.iteration, env.evaluation_result_list)

            self.model = LGBMClassifier(
                n_estimators=getattr(self, "trees", None) or 400, learning_rate=0.05, num_leaves=15,
                min_child_samples=5, subsample=0.8, max_bin=63,
                subsample_freq=1, colsample_bytree=0.3, class_weight="balanced", reg_lambda=1.0,
                n_jobs=self.threads, random_state=seed, verbose=-1)
            self.model.fit(features, labels, callbacks=[stop_at_deadline])
        self.info = {"train_s": round(time.monotonic() - start, 2), "features": int(features.shape[1]),
                     "images": len(labels)}
        return self

    def trees_grown(self) -> int | None:
        """The trees the boosting head grew before its budget or its 400 stopped it (None: a logistic head)."""
        if self.head != "lightgbm" or self.model is None:
            return None
        return int(self.model.booster_.current_iteration())

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        proba = np.asarray(self.model.predict_proba(self.cache.transform(images)), dtype=float)
        order = [list(self.model.classes_).index(c) for c in self.classes_]
        return proba[:, order]


class Blend(ImageCandidate):
    """Soft voting: the mean of trained candidates' probabilities (over the union of their classes)."""

    family = "blend"

    def __init__(self, members: Sequence[ImageCandidate]) -> None:
        super().__init__()
        self.members = list(members)
        self.classes_ = sorted({c for m in self.members for c in m.classes_})
        self.family = "blend(" + "+".join(m.family for m in self.members) + ")"
        self.info = {"members": [m.family for m in self.members]}

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str],
            masks: Sequence[np.ndarray | None] | None = None, *, budget_s: float = 60.0,
            seed: int = 42) -> Blend:
        return self  # its members are trained already

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        total = np.zeros((len(images), len(self.classes_)))
        for member in self.members:
            proba = member.predict_proba(images)
            for k, name in enumerate(member.classes_):
                total[:, self.classes_.index(name)] += proba[:, k]
        return total / len(self.members)


def build(family: str, *, cache: FeatureCache | None = None, **settings: Any) -> ImageCandidate:
    """A candidate of `family`: features-logistic, features-lightgbm, cnn, or pretrained (settings:
    `weights`, `arch`). Raises CandidateSkipped for a family that cannot run here, ValueError for an unknown
    one."""
    if family in ("features-logistic", "features-lightgbm"):
        return FeatureClassifier(family.split("-", 1)[1], cache=cache)
    if family == "cnn":
        from mofang.tasks.vision.cnn import SmallCNN

        return SmallCNN(**settings)
    if family == "pretrained":
        from mofang.tasks.vision.pretrained import PretrainedBackbone

        return PretrainedBackbone(**settings)
    raise ValueError(f"unknown image family {family!r} (features-logistic, features-lightgbm, cnn, pretrained)")


FAMILIES = ("features-logistic", "features-lightgbm", "cnn", "pretrained")
