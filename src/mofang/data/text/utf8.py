"""Byte-level work on Arrow string arrays with numpy: per-character translation and codepoint decoding."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def string_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One contiguous `string` or `large_string` array starting at offset 0 (chunks combined, views cast)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = pc.cast(values, pa.string())
    if values.offset:
        values = pa.concat_arrays([values])
    return values


def utf8_buffers(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a `string_array` and its value offsets (int64, rebased to start at 0)."""
    _, offsets_buf, data_buf = values.buffers()
    dtype = np.int32 if pa.types.is_string(values.type) else np.int64
    offsets = np.frombuffer(offsets_buf, dtype=dtype)[: len(values) + 1].astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    start, end = (int(offsets[0]), int(offsets[-1])) if len(offsets) else (0, 0)
    return data[start:end], offsets - start


def from_utf8_buffers(values: pa.Array, data: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """A string array of `values`' type and nulls holding new bytes and offsets."""
    validity = values.buffers()[0] if values.null_count else None
    if pa.types.is_string(values.type):
        if offsets[-1] >= 2**31:
            return from_utf8_buffers(pc.cast(values, pa.large_string()), data, offsets)
        offsets = offsets.astype(np.int32)
        builder = pa.StringArray
    else:
        builder = pa.LargeStringArray
    return builder.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data)),
                                validity, values.null_count)


def translate_bmp_chars(values: pa.Array | pa.ChunkedArray, table: np.ndarray, leads: tuple[int, ...]) -> pa.Array:
    """Replace 3-byte UTF-8 characters by single ASCII bytes: `table[codepoint]` (0 = keep the character).

    `leads` lists the first UTF-8 bytes the table can map, so only those positions are decoded."""
    values = string_array(values)
    data, offsets = utf8_buffers(values)
    if not data.size:
        return values
    at = positions_of(data[:-2], leads)
    if not at.size:
        return values
    codepoints = ((data[at].astype(np.int32) & 0x0F) << 12) | ((data[at + 1].astype(np.int32) & 0x3F) << 6) \
        | (data[at + 2].astype(np.int32) & 0x3F)
    replacement = table[codepoints]
    hit = replacement != 0
    if not hit.any():
        return values
    at, replacement = at[hit], replacement[hit]
    out = data.copy()
    out[at] = replacement
    removed = np.empty(2 * at.size, dtype=np.int64)  # the two continuation bytes of each replaced character
    removed[0::2], removed[1::2] = at + 1, at + 2
    new_offsets = offsets - np.searchsorted(removed, offsets, side="left")
    return from_utf8_buffers(values, np.delete(out, removed), new_offsets)


def positions_of(data: np.ndarray, byte_values: tuple[int, ...], *, below: int = 0) -> np.ndarray:
    """Positions of bytes equal to one of `byte_values` or less than `below` (comparisons beat a lookup table)."""
    mask = data < below if below else np.zeros(data.size, dtype=bool)
    scratch = np.empty(data.size, dtype=bool)
    for value in byte_values:
        mask |= np.equal(data, value, out=scratch)
    return np.flatnonzero(mask)


def apply_to_rows(values: pa.Array, rows: np.ndarray, convert: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """`convert` run on the values marked in `rows` only, the rest left as they are."""
    if not rows.any():
        return values
    mask = pa.array(rows)
    part = convert(values.filter(mask))
    return pc.replace_with_mask(values, mask, part.cast(values.type))


def decode_codepoints(values: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """All characters of all values as one uint32 codepoint array, and per-value character offsets (nulls empty)."""
    values = string_array(values)
    data, offsets = utf8_buffers(values)
    if values.null_count:  # a null's slot may hold bytes in principle; Arrow writers leave it empty
        lengths = np.diff(offsets)
        lengths[np.asarray(values.is_null())] = 0
        if int(lengths.sum()) != data.size:
            keep = np.repeat(np.asarray(values.is_valid()), np.diff(offsets))
            data = data[keep]
        offsets = np.concatenate(([0], np.cumsum(lengths)))
    is_lead = (data & 0xC0) != 0x80
    starts = np.flatnonzero(is_lead)
    padded = np.concatenate((data, np.zeros(3, np.uint8)))
    b0, b1, b2, b3 = (padded[starts + k].astype(np.uint32) for k in range(4))
    codepoints = np.where(b0 < 0x80, b0,
                          np.where(b0 < 0xE0, ((b0 & 0x1F) << 6) | (b1 & 0x3F),
                                   np.where(b0 < 0xF0, ((b0 & 0x0F) << 12) | ((b1 & 0x3F) << 6) | (b2 & 0x3F),
                                            ((b0 & 0x07) << 18) | ((b1 & 0x3F) << 12) | ((b2 & 0x3F) << 6)
                                            | (b3 & 0x3F))))
    return codepoints.astype(np.uint32), np.searchsorted(starts, offsets, side="left").astype(np.int64)
