"""A small feed-forward network for tables (PyTorch on the CPU), over scaled features (one-hot categories,
imputed numerics with missing indicators, standardised); early-stopped on valid, cut at the deadline. It
answers with numpy alone (the weights are kept as arrays), so serving needs no torch."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import optuna
import torch
from torch import nn

from mofang.models.trainers.base import Trainer

MAX_EPOCHS = 200
PATIENCE = 8


class TorchMLP:
    """An MLP trained with AdamW on mini-batches; `classes` > 0: softmax over class indices, else a
    standardised regression target. After `fit`, `layers_` holds (weight, bias) arrays for numpy answers."""

    def __init__(self, n_classes: int, hidden: int = 256, layers: int = 2, dropout: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 1e-4, batch_size: int = 256, epochs: int = MAX_EPOCHS,
                 seed: int = 0, class_weight: np.ndarray | None = None, threads: int = 2,
                 deterministic: bool = False) -> None:
        self.n_classes = n_classes
        self.hidden, self.layers, self.dropout = hidden, layers, dropout
        self.lr, self.weight_decay, self.batch_size, self.epochs = lr, weight_decay, batch_size, epochs
        self.seed = seed
        self.threads, self.deterministic = threads, deterministic
        self.class_weight = class_weight
        self.best_epochs_ = 0
        self.layers_: list[tuple[np.ndarray, np.ndarray]] = []
        self.y_mean_, self.y_scale_ = 0.0, 1.0

    def _network(self, width: int) -> nn.Module:
        parts: list[nn.Module] = []
        size = width
        for i in range(self.layers):
            out = max(16, self.hidden // (2 ** i))
            parts += [nn.Linear(size, out), nn.ReLU(), nn.Dropout(self.dropout)]
            size = out
        parts.append(nn.Linear(size, self.n_classes or 1))
        return nn.Sequential(*parts)

    def fit(self, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
            deadline: float) -> TorchMLP:
        if getattr(self, "deterministic", False):  # a reproducible build: one thread, deterministic kernels
            from mofang.models.reproducible import deterministic_torch

            with deterministic_torch(getattr(self, "threads", 1)):
                return self._fit(X, y, X_valid, y_valid, deadline)
        torch.set_num_threads(2)
        return self._fit(X, y, X_valid, y_valid, deadline)

    def _fit(self, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray, y_valid: np.ndarray,
             deadline: float) -> TorchMLP:
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        classifier = self.n_classes > 0
        if not classifier:
            self.y_mean_ = float(np.mean(y)) if len(y) else 0.0
            self.y_scale_ = float(np.std(y)) or 1.0
        net = self._network(X.shape[1])
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        weight = torch.tensor(self.class_weight, dtype=torch.float32) if self.class_weight is not None else None
        loss_fn: nn.Module = nn.CrossEntropyLoss(weight=weight) if classifier else nn.MSELoss()
        Xt = torch.tensor(np.asarray(X, dtype=np.float32))
        yt = (torch.tensor(y, dtype=torch.long) if classifier
              else torch.tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32).reshape(-1, 1))
        Xv = torch.tensor(np.asarray(X_valid, dtype=np.float32))
        yv = (torch.tensor(y_valid, dtype=torch.long) if classifier
              else torch.tensor((y_valid - self.y_mean_) / self.y_scale_, dtype=torch.float32).reshape(-1, 1))
        best_loss, best_state, since, epochs = np.inf, None, 0, 0
        for epoch in range(self.epochs):
            net.train()
            order = rng.permutation(len(Xt))
            for start in range(0, len(order), self.batch_size):
                rows = torch.as_tensor(order[start:start + self.batch_size])
                optimizer.zero_grad()
                loss = loss_fn(net(Xt[rows]), yt[rows])
                loss.backward()
                optimizer.step()
            epochs = epoch + 1
            if len(Xv):
                net.eval()
                with torch.no_grad():
                    valid_loss = float(loss_fn(net(Xv), yv))
                if valid_loss < best_loss - 1e-5:
                    best_loss, since, self.best_epochs_ = valid_loss, 0, epochs
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
                else:
                    since += 1
                if since >= PATIENCE:
                    break
            if time.monotonic() > deadline:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            self.best_epochs_ = epochs
        linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
        self.layers_ = [(m.weight.detach().numpy().T.copy(), m.bias.detach().numpy().copy()) for m in linear]
        return self

    def _forward(self, X: np.ndarray) -> np.ndarray:
        h = np.asarray(X, dtype=np.float32)
        for i, (w, b) in enumerate(self.layers_):
            h = h @ w + b
            if i < len(self.layers_) - 1:
                h = np.maximum(h, 0.0)
        return h

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        logits = self._forward(X).astype(float)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self.n_classes:
            return self.predict_proba(X).argmax(axis=1)
        return self._forward(X).ravel().astype(float) * self.y_scale_ + self.y_mean_


class MLPTrainer(Trainer):
    mode = "linear"
    max_trials = None  # the time and a plateau end the search
    bag_folds = 5
    refit_on_valid = True  # refits and fold models train for the early-stopped number of epochs

    def portfolio(self) -> list[dict[str, Any]]:
        return [{"hidden": 256, "layers": 2, "dropout": 0.1, "lr": 1e-3, "weight_decay": 1e-4, "batch_size": 256},
                {"hidden": 128, "layers": 3, "dropout": 0.2, "lr": 3e-3, "weight_decay": 1e-3, "batch_size": 512}]

    def space(self, trial: optuna.Trial) -> dict[str, Any]:
        return {"hidden": trial.suggest_categorical("hidden", [64, 128, 256, 512]),
                "layers": trial.suggest_int("layers", 1, 3),
                "dropout": trial.suggest_float("dropout", 0.0, 0.4),
                "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
                "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
                "batch_size": trial.suggest_categorical("batch_size", [128, 256, 512])}

    def build(self, params: dict[str, Any], seed: int) -> Any:
        classes = self.dataset_classes
        chosen = {k: v for k, v in params.items() if k in ("hidden", "layers", "dropout", "lr", "weight_decay",
                                                          "batch_size")}
        epochs = int(params.get("epochs", MAX_EPOCHS))
        return TorchMLP(len(classes) if classes else 0, epochs=epochs, seed=seed, threads=self.threads(2),
                        deterministic=self.reproducible, **chosen)

    def fit_estimator(self, estimator: Any, X: np.ndarray, y: np.ndarray, X_valid: np.ndarray,
                      y_valid: np.ndarray, deadline: float, categorical: list[int]) -> Any:
        return estimator.fit(X, y, X_valid, y_valid, deadline)

    def learned_params(self, estimator: Any) -> dict[str, Any]:
        return {"epochs": int(max(1, estimator.best_epochs_))}


class MLPClassifierTrainer(MLPTrainer):
    pass


class MLPRegressorTrainer(MLPTrainer):
    pass
