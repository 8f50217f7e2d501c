"""Tests for mofang.security.crypto: round trips and detection of every kind of tampering."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from mofang.security.crypto import (
    HEADER_BYTES,
    TAG_BYTES,
    TamperedError,
    artifact_context,
    decrypt_bytes,
    decrypt_file,
    encrypt_bytes,
    encrypt_file,
    is_encrypted,
    read_decrypted,
    write_encrypted,
)
from mofang.security.keys import SecurityError

KEY = bytes(range(32))
CTX = artifact_context("acme", "orders/o1/data/train.parquet")
CHUNK = 64


def _chunks(blob: bytes, chunk: int = CHUNK) -> tuple[bytes, list[bytes]]:
    """Split an encrypted blob into its header and its stored chunks."""
    body, stored = blob[HEADER_BYTES:], chunk + TAG_BYTES
    return blob[:HEADER_BYTES], [body[i:i + stored] for i in range(0, len(body), stored)]


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7])
def test_bytes_round_trip(size: int) -> None:
    data = secrets.token_bytes(size)
    blob = encrypt_bytes(KEY, data, CTX, chunk_size=CHUNK)
    assert decrypt_bytes(KEY, blob, CTX) == data
    chunks = max(1, -(-size // CHUNK))
    assert len(blob) == HEADER_BYTES + size + chunks * TAG_BYTES
    assert len(data) < 16 or data not in blob  # short strings may occur in random ciphertext by chance


def test_same_plaintext_encrypts_differently() -> None:
    assert encrypt_bytes(KEY, b"hello", CTX) != encrypt_bytes(KEY, b"hello", CTX)


def test_every_single_byte_flip_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    write_encrypted(KEY, path, b'{"accuracy": 0.93, "rows": 1204}', CTX)
    original = path.read_bytes()
    assert read_decrypted(KEY, path, CTX) == b'{"accuracy": 0.93, "rows": 1204}'
    for position in range(len(original)):
        for mask in (0x01, 0x80, 0xFF):
            damaged = bytearray(original)
            damaged[position] ^= mask
            path.write_bytes(damaged)
            with pytest.raises(TamperedError, match="was modified or is not a Mofang encrypted file") as info:
                read_decrypted(KEY, path, CTX)
            assert str(path) in str(info.value)


def test_every_single_byte_flip_of_a_multi_chunk_blob_is_detected() -> None:
    blob = encrypt_bytes(KEY, secrets.token_bytes(2 * CHUNK + 5), CTX, chunk_size=CHUNK)
    for position in range(len(blob)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x04
        with pytest.raises(TamperedError):
            decrypt_bytes(KEY, bytes(damaged), CTX)


def test_truncation_anywhere_is_detected() -> None:
    blob = encrypt_bytes(KEY, secrets.token_bytes(4 * CHUNK), CTX, chunk_size=CHUNK)
    stored = CHUNK + TAG_BYTES
    cuts = {0, 3, HEADER_BYTES, HEADER_BYTES + 1, len(blob) - 1}
    cuts |= {HEADER_BYTES + k * stored for k in range(1, 4)}  # exactly at chunk boundaries
    for cut in sorted(cuts):
        with pytest.raises(TamperedError):
            decrypt_bytes(KEY, blob[:cut], CTX)


def test_chunk_reordering_deletion_and_appending_are_detected() -> None:
    data = secrets.token_bytes(4 * CHUNK + 10)
    header, chunks = _chunks(encrypt_bytes(KEY, data, CTX, chunk_size=CHUNK))
    assert len(chunks) == 5
    assert decrypt_bytes(KEY, header + b"".join(chunks), CTX) == data  # the split itself is right
    variants = {
        "swap first two": [chunks[1], chunks[0], *chunks[2:]],
        "swap last two": [*chunks[:3], chunks[4], chunks[3]],
        "delete middle": chunks[:2] + chunks[3:],
        "delete last": chunks[:4],
        "duplicate one": chunks[:2] + chunks[1:],
        "append a chunk": chunks + [chunks[0]],
    }
    for label, variant in variants.items():
        with pytest.raises(TamperedError):
            decrypt_bytes(KEY, header + b"".join(variant), CTX)
            pytest.fail(f"{label} was not detected")


def test_chunks_from_another_file_are_detected() -> None:
    data = secrets.token_bytes(2 * CHUNK)
    header_a, chunks_a = _chunks(encrypt_bytes(KEY, data, CTX, chunk_size=CHUNK))
    _, chunks_b = _chunks(encrypt_bytes(KEY, data, CTX, chunk_size=CHUNK))
    with pytest.raises(TamperedError):
        decrypt_bytes(KEY, header_a + chunks_a[0] + chunks_b[1], CTX)


def test_another_context_or_key_is_detected() -> None:
    blob = encrypt_bytes(KEY, b"customer rows", CTX)
    others = [artifact_context("acme", "orders/o1/data/test.parquet"),
              artifact_context("globex", "orders/o1/data/train.parquet"), b""]
    for other in others:
        with pytest.raises(TamperedError, match="fails authentication"):
            decrypt_bytes(KEY, blob, other)
    with pytest.raises(TamperedError):
        decrypt_bytes(bytes(32), blob, CTX)


def test_moved_file_fails_to_decrypt(tmp_path: Path) -> None:
    src = tmp_path / "acme" / "model.bin"
    write_encrypted(KEY, src, b"weights", artifact_context("acme", "model.bin"))
    moved = tmp_path / "globex" / "model.bin"
    moved.parent.mkdir()
    os.replace(src, moved)
    with pytest.raises(TamperedError, match="globex"):
        read_decrypted(KEY, moved, artifact_context("globex", "model.bin"))


def test_plain_file_is_refused_and_not_reported_encrypted(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes(b"id,text\n1,hello\n")
    assert not is_encrypted(plain)
    with pytest.raises(TamperedError, match="no Mofang encryption header"):
        read_decrypted(KEY, plain, CTX)
    secret = tmp_path / "secret.csv"
    write_encrypted(KEY, secret, plain.read_bytes(), CTX)
    assert is_encrypted(secret)


def test_file_round_trip_streams_and_leaves_no_temporaries(tmp_path: Path) -> None:
    src = tmp_path / "data.parquet"
    src.write_bytes(secrets.token_bytes(10 * CHUNK + 3))
    enc = tmp_path / "enc" / "data.parquet.mfg"
    encrypt_file(KEY, src, enc, CTX, chunk_size=CHUNK)
    assert is_encrypted(enc)
    out = tmp_path / "out" / "data.parquet"
    decrypt_file(KEY, enc, out, CTX)
    assert out.read_bytes() == src.read_bytes()
    assert read_decrypted(KEY, enc, CTX) == src.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*.tmp")) == []


def test_encrypt_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_bytes(b"<html>report</html>")
    encrypt_file(KEY, path, path, CTX)
    assert is_encrypted(path)
    assert read_decrypted(KEY, path, CTX) == b"<html>report</html>"


def test_failed_decrypt_file_leaves_no_output(tmp_path: Path) -> None:
    enc = tmp_path / "data.mfg"
    write_encrypted(KEY, enc, secrets.token_bytes(5 * CHUNK), CTX, chunk_size=CHUNK)
    damaged = bytearray(enc.read_bytes())
    damaged[-3] ^= 0x10  # only the last chunk is bad: the first chunks decrypt before the failure
    enc.write_bytes(damaged)
    out = tmp_path / "out.bin"
    with pytest.raises(TamperedError, match="chunk 4"):
        decrypt_file(KEY, enc, out, CTX)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.mfg"]


def test_write_encrypted_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    write_encrypted(KEY, path, b"v1", CTX)
    write_encrypted(KEY, path, b"v2", CTX)
    assert read_decrypted(KEY, path, CTX) == b"v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]


def test_bad_key_length_and_chunk_size_are_refused() -> None:
    with pytest.raises(SecurityError, match="32 bytes"):
        encrypt_bytes(b"short", b"x", CTX)
    with pytest.raises(ValueError, match="chunk_size"):
        encrypt_bytes(KEY, b"x", CTX, chunk_size=0)
