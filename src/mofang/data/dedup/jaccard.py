"""Exact Jaccard similarity of shingle sets for many document pairs at once."""

from __future__ import annotations

import numpy as np

from mofang.data.dedup.arrays import unique_sorted

PAIR_CHUNK = 200_000  # pairs verified per sort


def shingle_sets(hashes: np.ndarray, offsets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct shingles of `docs` (sorted within each), concatenated, and their offsets."""
    counts = offsets[docs + 1] - offsets[docs]
    local = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    owner = np.repeat(np.arange(docs.size, dtype=np.uint64), counts)
    keys = unique_sorted((owner << np.uint64(32)) | hashes[np.repeat(offsets[docs], counts) + local].astype(np.uint64))
    owners = (keys >> np.uint64(32)).astype(np.int64)
    set_offsets = np.searchsorted(owners, np.arange(docs.size + 1), side="left").astype(np.int64)
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32), set_offsets


def pair_jaccard(hashes: np.ndarray, offsets: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """|A∩B| / |A∪B| of the shingle sets of each (i, j) in `pairs`; a pair of empty documents scores 0."""
    if not len(pairs):
        return np.zeros(0)
    docs = unique_sorted(pairs)
    local = np.searchsorted(docs, pairs)
    sets, set_offsets = shingle_sets(hashes, offsets, docs)
    sizes = np.diff(set_offsets)
    result = np.empty(len(pairs))
    for start in range(0, len(pairs), PAIR_CHUNK):
        left, right = local[start:start + PAIR_CHUNK, 0], local[start:start + PAIR_CHUNK, 1]
        inter = _intersections(sets, set_offsets, left, right)
        union = sizes[left] + sizes[right] - inter
        result[start:start + PAIR_CHUNK] = np.where(union > 0, inter / np.maximum(union, 1), 0.0)
    return result


def _intersections(sets: np.ndarray, set_offsets: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Count shared shingles: tag both sets of pair p with p, sort, and count adjacent equal (p, shingle) keys."""
    sides = np.concatenate((left, right))
    counts = set_offsets[sides + 1] - set_offsets[sides]
    local = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    pair = np.repeat(np.tile(np.arange(left.size, dtype=np.uint64), 2), counts)
    keys = np.sort((pair << np.uint64(32)) | sets[np.repeat(set_offsets[sides], counts) + local].astype(np.uint64))
    shared = keys[1:][keys[1:] == keys[:-1]] >> np.uint64(32)
    return np.bincount(shared.astype(np.int64), minlength=left.size)
