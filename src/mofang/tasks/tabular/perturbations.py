"""Seeded perturbations of a typed table: what a served tabular model meets that its test split did not show.

Perturbations (registry `PERTURBATIONS`, stable names, in report order):

- ``noise``: gaussian noise of `NOISE_SIGMA` × the column's standard deviation on every present numeric cell.
- ``missing``: `MISSING_RATE` of the cells of every feature emptied (chosen among the present ones).
- ``unseen_category``: `UNSEEN_RATE` of the present cells of every categorical feature replaced by `UNSEEN`,
  a value no training row had.
- ``shift``: every present numeric cell moved up by `SHIFT_SIGMA` × the column's standard deviation (a
  covariate shift of the whole population).

Each is ``fn(frame, features, rng) -> Perturbed``: `features` are the dataset's features ({"name", "kind"});
only their columns are touched, every other column (target, id) is returned as it was. Numeric columns are
read as the model reads them (`coerce_column`), so raw spellings such as "￥1.2万" are perturbed as numbers.
`rng_for(seed, name)` gives each perturbation its own generator: the same seed perturbs the same cells.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mofang.evaluation.robustness import registrar
from mofang.models.features import coerce_column

NOISE_SIGMA = 0.1
MISSING_RATE = 0.1
UNSEEN_RATE = 0.1
SHIFT_SIGMA = 0.5
UNSEEN = "__unseen_at_training__"
EXAMPLES = 3  # changed cells kept per perturbation


@dataclass
class Perturbed:
    """A perturbed copy of a frame: which cells changed (rows × `columns`), and what was done."""

    frame: pd.DataFrame
    changed: pd.DataFrame  # booleans, one column per touched feature
    detail: str
    examples: list[dict[str, str]] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return list(self.changed.columns)

    @property
    def changed_share(self) -> float:
        """Share of rows with at least one changed cell."""
        return float(self.changed.any(axis=1).mean()) if len(self.changed) and self.columns else 0.0


Perturbation = Callable[[pd.DataFrame, list[dict[str, Any]], np.random.Generator], Perturbed]
PERTURBATIONS: dict[str, Perturbation] = {}


perturbation = registrar(PERTURBATIONS)  # register a table perturbation under a stable name


def rng_for(seed: int, name: str) -> np.random.Generator:
    """The generator of one perturbation under one seed: stable across runs, machines and registry order."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode("utf-8"))])


@perturbation("noise")
def noise(frame: pd.DataFrame, features: list[dict[str, Any]], rng: np.random.Generator) -> Perturbed:
    """Gaussian noise of NOISE_SIGMA σ (the column's own σ) on every present numeric cell."""
    return _numeric(frame, features, lambda n, sigma: rng.normal(0.0, NOISE_SIGMA * sigma, n),
                    f"gaussian noise of {NOISE_SIGMA:g} σ on")


@perturbation("missing")
def missing(frame: pd.DataFrame, features: list[dict[str, Any]], rng: np.random.Generator) -> Perturbed:
    """MISSING_RATE of each feature's cells emptied (NaN, NaT or None, as the column holds)."""
    out, changed, examples = frame.copy(), {}, []
    for name in _names(frame, features):
        mask = _pick(_present(frame[name]), MISSING_RATE, rng)
        if mask.any():
            out[name] = frame[name].mask(mask)
            changed[name] = mask
            examples += _examples(frame[name], out[name], mask, name)
    return _perturbed(out, frame, changed, f"{MISSING_RATE:.0%} of the cells emptied in", examples)


@perturbation("unseen_category")
def unseen_category(frame: pd.DataFrame, features: list[dict[str, Any]], rng: np.random.Generator) -> Perturbed:
    """UNSEEN_RATE of each categorical feature's present cells replaced by a value unseen at training."""
    out, changed, examples = frame.copy(), {}, []
    for name in _names(frame, features, ("categorical",)):
        mask = _pick(_present(frame[name]), UNSEEN_RATE, rng)
        if mask.any():
            out[name] = frame[name].astype(object).mask(mask, UNSEEN)
            changed[name] = mask
            examples += _examples(frame[name], out[name], mask, name)
    return _perturbed(out, frame, changed, f"{UNSEEN_RATE:.0%} of the cells set to an unseen category in",
                      examples)


@perturbation("shift")
def shift(frame: pd.DataFrame, features: list[dict[str, Any]], rng: np.random.Generator) -> Perturbed:
    """Every present numeric cell moved up by SHIFT_SIGMA σ: the population drifted."""
    return _numeric(frame, features, lambda n, sigma: np.full(n, SHIFT_SIGMA * sigma),
                    f"shifted by +{SHIFT_SIGMA:g} σ in")


# -- helpers ---------------------------------------------------------------------------------------------
def _numeric(frame: pd.DataFrame, features: list[dict[str, Any]], delta: Callable[[int, float], np.ndarray],
             what: str) -> Perturbed:
    """Add `delta(n, σ)` to the present cells of every numeric feature with a spread."""
    out, changed, examples = frame.copy(), {}, []
    kinds = {f["name"]: f for f in features}
    for name in _names(frame, features, ("numeric",)):
        feature = kinds[name]
        formats = {"number_format": feature["number_format"]} if feature.get("number_format") else None
        values = coerce_column(frame[name], "numeric", None, formats)
        values = pd.to_numeric(values, errors="coerce").astype(float)
        sigma = float(np.nanstd(values.to_numpy())) if values.notna().any() else 0.0
        if not np.isfinite(sigma) or sigma <= 0:
            continue
        present = values.notna().to_numpy()
        moved = values.to_numpy(copy=True)
        moved[present] = moved[present] + delta(int(present.sum()), sigma)
        mask = pd.Series(present & (moved != values.to_numpy()), index=frame.index)
        if mask.any():
            out[name] = pd.Series(moved, index=frame.index)
            changed[name] = mask
            examples += _examples(frame[name], out[name], mask, name)
    return _perturbed(out, frame, changed, what, examples)


def _names(frame: pd.DataFrame, features: list[dict[str, Any]], kinds: tuple[str, ...] | None = None) -> list[str]:
    return [f["name"] for f in features if f["name"] in frame.columns and (kinds is None or f["kind"] in kinds)]


def _present(values: pd.Series) -> pd.Series:
    """Cells holding a value: not missing, not an empty or blank string."""
    blank = values.map(lambda v: isinstance(v, str) and not v.strip())
    return values.notna() & ~blank.astype(bool)


def _pick(present: pd.Series, rate: float, rng: np.random.Generator) -> pd.Series:
    """`rate` of all cells (at least one), drawn among the present ones."""
    where = np.flatnonzero(present.to_numpy())
    k = min(len(where), max(1, round(rate * len(present)))) if len(where) else 0
    mask = np.zeros(len(present), dtype=bool)
    mask[rng.choice(where, size=k, replace=False)] = True
    return pd.Series(mask, index=present.index)


def _examples(before: pd.Series, after: pd.Series, mask: pd.Series, name: str) -> list[dict[str, str]]:
    rows = np.flatnonzero(mask.to_numpy())[:1]  # one per column; the report keeps the first EXAMPLES
    return [{"text": f"{name} = {_show(before.iloc[i])}", "perturbed": f"{name} = {_show(after.iloc[i])}"}
            for i in rows]


def _show(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "(missing)"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def _perturbed(out: pd.DataFrame, frame: pd.DataFrame, changed: dict[str, pd.Series], what: str,
               examples: list[dict[str, str]]) -> Perturbed:
    columns = list(changed)
    listed = ", ".join(columns[:4]) + (f" and {len(columns) - 4} more" if len(columns) > 4 else "")
    detail = f"{what} {len(columns)} column{'s' if len(columns) != 1 else ''} ({listed})" if columns else ""
    return Perturbed(frame=out, changed=pd.DataFrame(changed, index=frame.index), detail=detail,
                     examples=examples[:EXAMPLES])
