"""MinHash signatures with LSH banding, computed for all documents at once in numpy, returning candidate pairs."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from mofang.data.dedup.arrays import unique_sorted
from mofang.data.dedup.shingles import mix64

SMALL_BUCKET = 8  # buckets up to this size are verified pair by pair
CHUNK_SHINGLES = 16_384  # shingles hashed per step: the (shingles × permutations) block stays in cache


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash functions (a·x + b) mod 2⁶⁴, a odd, on 32-bit keys; their high 32 bits (which decide the minimum) form
    the multiply-add-shift family, 2-universal."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def band_hashes(hashes: np.ndarray, offsets: np.ndarray, *, num_perm: int, bands: int, seed: int,
                workers: int | None = None) -> np.ndarray:
    """Per band, a 64-bit hash of each document's MinHash rows: shape (bands, documents).

    Every document must have at least one shingle. Work is split into chunks of whole documents and spread over
    threads (numpy releases the GIL), each chunk writing its own columns, so the result does not depend on timing."""
    if num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
    a, b = permutations(num_perm, seed)
    docs = len(offsets) - 1
    out = np.empty((bands, docs), dtype=np.uint64)
    cuts = np.searchsorted(offsets, np.arange(0, offsets[-1], CHUNK_SHINGLES), side="right") - 1
    cuts = unique_sorted(np.concatenate((cuts, [docs])))

    def run(chunk: int) -> None:
        first, last = int(cuts[chunk]), int(cuts[chunk + 1])
        lo, hi = int(offsets[first]), int(offsets[last])
        block = a[:, None] * hashes[lo:hi].astype(np.uint64)[None, :]  # (permutations, shingles)
        block += b[:, None]
        signature = np.minimum.reduceat(block, offsets[first:last] - lo, axis=1)  # (permutations, documents)
        out[:, first:last] = _bands(signature, bands)

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        list(pool.map(run, range(len(cuts) - 1)))
    return out


def _bands(signature: np.ndarray, bands: int) -> np.ndarray:
    """Fold each band's rows of the signature, shape (permutations, documents), into one hash per document."""
    rows = signature.shape[0] // bands
    grouped = signature.reshape(bands, rows, signature.shape[1])
    combined = np.full((bands, signature.shape[1]), np.uint64(bands), dtype=np.uint64)
    for r in range(rows):
        combined *= np.uint64(0x100000001B3)
        combined += grouped[:, r, :] >> np.uint64(32)
    combined += np.arange(bands, dtype=np.uint64)[:, None]  # the same rows in different bands must not collide
    return mix64(combined)


def candidate_pairs(buckets: np.ndarray, *, all_pairs_up_to: int = SMALL_BUCKET) -> np.ndarray:
    """Document pairs (i < j) that share a bucket in some band, without repeats: shape (pairs, 2).

    A bucket of up to `all_pairs_up_to` members gives all its pairs; in a larger one each member is paired with the
    bucket's first member and with its predecessor — linear, so a huge bucket cannot blow up, while union-find
    still joins whatever verifies."""
    docs = buckets.shape[1]
    keys = []
    for band in buckets:
        order = np.argsort(band, kind="stable")
        ordered = band[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            continue
        starts = np.concatenate(([True], ~same))
        run = np.cumsum(starts) - 1
        run_size = np.bincount(run)[run]
        run_first = order[np.flatnonzero(starts)][run]
        member = np.flatnonzero(~starts)
        large = member[run_size[member] > all_pairs_up_to]
        pairs = [(run_first[large], order[large]), (order[large - 1], order[large])]
        for gap in range(1, all_pairs_up_to):
            left = np.flatnonzero((run_size[:-gap] <= all_pairs_up_to) & (run[:-gap] == run[gap:]))
            pairs.append((order[left], order[left + gap]))
        for left, right in pairs:
            keys.append(np.minimum(left, right).astype(np.int64) * docs + np.maximum(left, right))
    if not keys:
        return np.zeros((0, 2), dtype=np.int64)
    unique = unique_sorted(np.concatenate(keys))
    return np.stack((unique // docs, unique % docs), axis=1)
