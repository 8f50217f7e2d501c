"""Authenticated encryption of artifacts at rest: chunked AES-256-GCM, bound to a caller-given context.

File format (all integers big-endian)::

    header  = b"MFG1" | version (1 byte, = 1) | base nonce (12 bytes) | chunk size (4 bytes)
    chunk_i = AES-256-GCM(key, nonce = base nonce XOR i, plaintext chunk i, aad = A_i)   (ciphertext + 16-byte tag)
    A_i     = header | i (8 bytes) | final flag (1 byte: 1 on the last chunk, else 0) | context

Every chunk but the last holds exactly `chunk size` plaintext bytes; the last holds the rest (possibly 0),
so there is always one final chunk. Flipping any byte, truncating, appending, reordering or deleting
chunks, using another key, or moving the file to another context (tenant, path) fails authentication.
"""

from __future__ import annotations

import io
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mofang.security.keys import KEY_BYTES, SecurityError

MAGIC = b"MFG1"
VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
HEADER_BYTES = len(MAGIC) + 1 + NONCE_BYTES + 4
CHUNK_SIZE = 1 << 20  # 1 MiB of plaintext per chunk
MAX_CHUNK_SIZE = 64 << 20


class TamperedError(SecurityError):
    """An encrypted artifact that fails authentication: modified, truncated, moved, or not ours."""


def artifact_context(tenant: str, relative: str | PurePosixPath) -> bytes:
    """The context (AAD) binding an artifact to its tenant and its path relative to the tenant's folder."""
    return b"mofang-artifact\x00" + tenant.encode() + b"\x00" + PurePosixPath(relative).as_posix().encode()


def encrypt_bytes(key: bytes, data: bytes, aad: bytes, *, chunk_size: int = CHUNK_SIZE) -> bytes:
    """data encrypted and authenticated for the context aad."""
    out = io.BytesIO()
    _encrypt_stream(key, io.BytesIO(data).read, out.write, aad, chunk_size)
    return out.getvalue()


def decrypt_bytes(key: bytes, blob: bytes, aad: bytes, *, name: str | None = None) -> bytes:
    """The plaintext of blob; TamperedError (naming name, else the context) when it does not authenticate."""
    out = bytearray()
    _decrypt_stream(key, io.BytesIO(blob).read, out.extend, aad, name or f"data for {_describe(aad)!r}")
    return bytes(out)


def encrypt_file(key: bytes, src: Path, dst: Path, aad: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
    """Encrypt src into dst chunk by chunk (memory stays at one chunk); dst appears only when complete."""
    with open(src, "rb") as fin, _atomic_output(dst) as fout:
        _encrypt_stream(key, fin.read, fout.write, aad, chunk_size)


def decrypt_file(key: bytes, src: Path, dst: Path, aad: bytes) -> None:
    """Decrypt src into dst chunk by chunk; on any tampering dst is not created (nor left half-written)."""
    with open(src, "rb") as fin, _atomic_output(dst) as fout:
        _decrypt_stream(key, fin.read, fout.write, aad, str(src))


def read_decrypted(key: bytes, path: Path, aad: bytes) -> bytes:
    """The plaintext of the encrypted file at path."""
    out = bytearray()
    with open(path, "rb") as fin:
        _decrypt_stream(key, fin.read, out.extend, aad, str(path))
    return bytes(out)


def write_encrypted(key: bytes, path: Path, data: bytes, aad: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
    """Write data encrypted to path, atomically (a temporary file then a rename)."""
    with _atomic_output(path) as fout:
        _encrypt_stream(key, io.BytesIO(data).read, fout.write, aad, chunk_size)


class StreamEncryptor:
    """Encrypts a stream that arrives piece by piece (an upload) into the format above, holding at most one
    chunk of plaintext: `update` returns the ciphertext complete so far, `finish` the final chunk."""

    def __init__(self, key: bytes, aad: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")
        self._aead, self._aad, self._size = _aead(key), aad, chunk_size
        self._base = secrets.token_bytes(NONCE_BYTES)
        self._header = MAGIC + bytes([VERSION]) + self._base + chunk_size.to_bytes(4, "big")
        self._pending, self._index, self._started = bytearray(), 0, False

    def update(self, data: bytes) -> bytes:
        """Take more plaintext; return the chunks now complete (a full chunk is held back until more comes,
        since only the last one is sealed as final)."""
        self._pending.extend(data)
        out = bytearray(self._start())
        while len(self._pending) > self._size:
            out += self._seal(bytes(self._pending[:self._size]), final=False)
            del self._pending[:self._size]
        return bytes(out)

    def finish(self) -> bytes:
        """The rest of the ciphertext: the final chunk (empty plaintext for an empty stream)."""
        out = self._start() + self._seal(bytes(self._pending), final=True)
        self._pending.clear()
        return out

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._header

    def _seal(self, chunk: bytes, *, final: bool) -> bytes:
        sealed = self._aead.encrypt(_nonce(self._base, self._index), chunk,
                                    _chunk_aad(self._header, self._index, final, self._aad))
        self._index += 1
        return sealed


def plaintext_size(path: Path) -> int:
    """The plaintext length of an encrypted file, from its size and header alone (no key, no decryption)."""
    size = Path(path).stat().st_size
    with open(path, "rb") as fh:
        header = fh.read(HEADER_BYTES)
    chunk_size = int.from_bytes(header[-4:], "big") if len(header) == HEADER_BYTES else 0
    if header[:len(MAGIC)] != MAGIC or not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise _tampered(str(path), "no Mofang encryption header")
    body = size - HEADER_BYTES
    chunks = max(1, -(-body // (chunk_size + TAG_BYTES)))
    return max(0, body - chunks * TAG_BYTES)


def is_encrypted(path: Path) -> bool:
    """Whether the file starts like a Mofang encrypted file (a format check, not an authentication)."""
    with open(path, "rb") as fh:
        return fh.read(len(MAGIC)) == MAGIC


# -- internals -----------------------------------------------------------------------------------
def _encrypt_stream(key: bytes, read: Callable[[int], bytes], write: Callable[[bytes], object], aad: bytes,
                    chunk_size: int) -> None:
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK_SIZE}, got {chunk_size}")
    aead = _aead(key)
    base = secrets.token_bytes(NONCE_BYTES)
    header = MAGIC + bytes([VERSION]) + base + chunk_size.to_bytes(4, "big")
    write(header)
    chunk = _read_full(read, chunk_size)
    index = 0
    while True:
        following = _read_full(read, chunk_size) if len(chunk) == chunk_size else b""
        final = not following
        write(aead.encrypt(_nonce(base, index), chunk, _chunk_aad(header, index, final, aad)))
        if final:
            return
        chunk, index = following, index + 1


def _decrypt_stream(key: bytes, read: Callable[[int], bytes], write: Callable[[bytes], object], aad: bytes,
                    name: str) -> None:
    aead = _aead(key)
    header = _read_full(read, HEADER_BYTES)
    if len(header) < HEADER_BYTES or header[:len(MAGIC)] != MAGIC:
        raise _tampered(name, "no Mofang encryption header")
    if header[len(MAGIC)] != VERSION:
        raise _tampered(name, f"unknown format version {header[len(MAGIC)]}")
    base = header[len(MAGIC) + 1:len(MAGIC) + 1 + NONCE_BYTES]
    chunk_size = int.from_bytes(header[-4:], "big")
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise _tampered(name, f"impossible chunk size {chunk_size}")
    stored = chunk_size + TAG_BYTES
    chunk = _read_full(read, stored)
    index = 0
    while True:
        following = _read_full(read, stored) if len(chunk) == stored else b""
        final = not following
        try:
            plain = aead.decrypt(_nonce(base, index), chunk, _chunk_aad(header, index, final, aad))
        except InvalidTag:
            raise _tampered(name, f"chunk {index} fails authentication; a wrong key or a file moved from "
                                  f"another context than {_describe(aad)!r} fails the same way") from None
        write(plain)
        if final:
            return
        chunk, index = following, index + 1


def _aead(key: bytes) -> AESGCM:
    if len(key) != KEY_BYTES:
        raise SecurityError(f"an encryption key must be {KEY_BYTES} bytes, got {len(key)}")
    return AESGCM(key)


def _nonce(base: bytes, index: int) -> bytes:
    if index >= 1 << 64:
        raise SecurityError("too many chunks for one encrypted file")
    return (int.from_bytes(base, "big") ^ index).to_bytes(NONCE_BYTES, "big")


def _chunk_aad(header: bytes, index: int, final: bool, aad: bytes) -> bytes:
    return header + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00") + aad


def _read_full(read: Callable[[int], bytes], size: int) -> bytes:
    """Up to size bytes, fewer only at the end of the stream (raw reads may return short)."""
    parts: list[bytes] = []
    missing = size
    while missing > 0:
        part = read(missing)
        if not part:
            break
        parts.append(part)
        missing -= len(part)
    return b"".join(parts)


def _tampered(name: str, detail: str) -> TamperedError:
    return TamperedError(f"{name} was modified or is not a Mofang encrypted file ({detail})")


def _describe(aad: bytes) -> str:
    return aad.replace(b"\x00", b"/").decode("utf-8", "replace")


@contextmanager
def _atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A temporary file beside path that replaces path only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
