"""Distance to the closest real record (DCR): synthetic rows too close to a real one are copies, not synthesis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

REFERENCE_ROWS = 5000  # real rows whose nearest-neighbour distance sets the threshold on large tables


@dataclass
class DcrCheck:
    """Per synthetic row: distance to the closest real row, that row's position, and whether it is too close."""

    distances: np.ndarray
    nearest: np.ndarray
    too_close: np.ndarray
    threshold: float  # the quantile of real-to-real nearest-neighbour distances (distinct real rows)


def check_distance_to_real(real: np.ndarray, synthetic: np.ndarray, *, quantile: float = 0.05,
                           seed: int = 0) -> DcrCheck:
    """Flag synthetic rows closer to a real row than `quantile` of the distances between distinct real rows and
    their nearest neighbours — and any exact copy, even when real rows repeat. Features should be standardised."""
    distances, nearest = NearestNeighbors(n_neighbors=1).fit(real).kneighbors(synthetic)
    distances, nearest = distances[:, 0], nearest[:, 0]
    distinct = np.unique(real, axis=0)
    threshold = 0.0
    if len(distinct) > 1:
        queries = distinct
        if len(distinct) > REFERENCE_ROWS:
            queries = distinct[np.random.default_rng(seed).choice(len(distinct), REFERENCE_ROWS, replace=False)]
        real_nn = NearestNeighbors(n_neighbors=2).fit(distinct).kneighbors(queries)[0][:, 1]
        threshold = float(np.quantile(real_nn, quantile))
    too_close = (distances < threshold) | (distances <= 1e-9)
    return DcrCheck(distances=distances, nearest=nearest, too_close=too_close, threshold=threshold)
