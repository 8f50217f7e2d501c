"""Anomaly detectors on window features: each learns what normal looks like and scores readings (higher = stranger)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

DETECTORS: dict[str, type[Detector]] = {}


class Detector:
    """A detector family: `fit(X, y)` on training readings, `score(X)` → one anomaly score per reading."""

    name: ClassVar[str]
    supervised: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        DETECTORS[cls.name] = cls

    def __init__(self, seed: int = 42) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Detector:
        raise NotImplementedError

    def score(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def params(self) -> dict[str, Any]:
        return {}


class RobustZ(Detector):
    """The largest robust z-score (median/MAD of normal training readings) over every window feature: a reading,
    its deviation from its window (a local residual), its window's spread or its step."""

    name = "robust-z"

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> RobustZ:
        self.median_ = np.nanmedian(X, axis=0)
        mad = np.nanmedian(np.abs(X - self.median_), axis=0) * 1.4826
        spread = np.nanstd(X, axis=0)
        self.scale_ = np.where(mad > 1e-12, mad, np.where(spread > 1e-12, spread, 1.0))
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        z = np.abs((X - self.median_) / self.scale_)
        return np.nanmax(np.nan_to_num(z, nan=0.0), axis=1)


class IsolationForestDetector(Detector):
    """Isolation forest on the window features: readings isolated by few random splits are anomalous."""

    name = "isolation-forest"
    n_estimators = 100  # scikit-learn's default; scoring time grows with every tree

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> IsolationForestDetector:
        from sklearn.ensemble import IsolationForest

        self.fill_ = np.nan_to_num(np.nanmedian(X, axis=0))  # a missing reading reads as a typical one
        self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.seed, n_jobs=1)
        self.model_.fit(self._filled(X))
        return self

    def _filled(self, X: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(X), self.fill_, X)

    def score(self, X: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(self._filled(X))

    @property
    def params(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators}


class PCAReconstruction(Detector):
    """Reconstruction error through the principal components holding 95% of normal variance (a linear
    autoencoder): readings that break the sensors' usual correlations reconstruct badly."""

    name = "pca-reconstruction"
    variance = 0.95

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> PCAReconstruction:
        from sklearn.decomposition import PCA

        self.center_ = np.nanmedian(X, axis=0)
        spread = np.nanstd(X, axis=0)
        self.scale_ = np.where(spread > 1e-12, spread, 1.0)
        Z = self._standard(X)
        k = max(1, min(Z.shape[1] - 1, Z.shape[0] - 1))
        pca = PCA(n_components=k, random_state=self.seed).fit(Z)
        keep = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), self.variance) + 1)
        self.components_ = pca.components_[:min(keep, k)]
        self.mean_ = pca.mean_
        return self

    def _standard(self, X: np.ndarray) -> np.ndarray:
        return np.nan_to_num((X - self.center_) / self.scale_)

    def score(self, X: np.ndarray) -> np.ndarray:
        Z = self._standard(X) - self.mean_
        back = Z @ self.components_.T @ self.components_
        return np.sum((Z - back) ** 2, axis=1)

    @property
    def params(self) -> dict[str, Any]:
        return {"variance": self.variance, "components": int(len(getattr(self, "components_", [])))}


class WindowBoosting(Detector):
    """Supervised: LightGBM on the window features, trained on the labelled readings; scores P(anomalous)."""

    name = "lightgbm-windows"
    supervised = True

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> WindowBoosting:
        from lightgbm import LGBMClassifier

        if y is None or len(np.unique(y)) < 2:
            raise ValueError("needs labelled anomalous and normal training readings")
        self.model_ = LGBMClassifier(n_estimators=200, learning_rate=0.05, num_leaves=31, subsample=0.8,
                                     subsample_freq=1, colsample_bytree=0.8, random_state=self.seed, n_jobs=1,
                                     verbose=-1)
        self.model_.fit(X, y)
        return self

    def score(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_proba(X)[:, 1]

    @property
    def params(self) -> dict[str, Any]:
        return {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 31}


class EitherDetector(Detector):
    """Labelled faults or novelty: the larger of a supervised and an unsupervised detector's scores, each divided
    by its own calibrated threshold (1.0 = at that threshold), so a reading is strange when either finds it so.
    Built from fitted members (see `fitting.either_of`), never fitted itself."""

    name = "supervised+novelty"

    def __init__(self, seed: int = 42, members: Sequence[Detector] = (), scales: Sequence[float] = ()) -> None:
        super().__init__(seed)
        self.members_ = list(members)
        self.scales_ = [s if s > 0 else 1.0 for s in scales]

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> EitherDetector:
        raise TypeError("an either-detector is built from fitted members, not fitted")

    def score(self, X: np.ndarray) -> np.ndarray:
        return np.max([member.score(X) / scale for member, scale in zip(self.members_, self.scales_, strict=True)],
                      axis=0)

    @property
    def params(self) -> dict[str, Any]:
        return {"members": [m.name for m in self.members_], "scales": [round(float(s), 6) for s in self.scales_]}
