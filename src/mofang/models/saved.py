"""Saved models: one joblib file per model, loadable from a path or from decrypted bytes, sized in MiB."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Self

import joblib


class SavedModel:
    """Mixin for a model kept as one joblib file (candidates, retrieval models)."""

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path, compress=3)
        return path

    @classmethod
    def load(cls, path: str | Path | io.BytesIO) -> Self:
        """A saved model from a path, or from its bytes (decrypted from an encrypted bundle)."""
        obj: Any = joblib.load(path if isinstance(path, io.BytesIO) else Path(path))
        if not isinstance(obj, cls):
            raise TypeError(f"{path} holds a {type(obj).__name__}, not a {cls.__name__}")
        return obj

    @staticmethod
    def size_mb(path: str | Path) -> float:
        """Size of a saved model in MiB."""
        return Path(path).stat().st_size / (1024 * 1024)
