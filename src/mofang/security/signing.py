"""The factory's Ed25519 signing key: signs audit checkpoints and destruction certificates."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mofang.core.errors import MofangError

KEY_FILE = "factory_ed25519.pem"
KEY_ENV = "MOFANG_FACTORY_KEY"


class SigningKeyError(MofangError):
    """The factory key is missing, damaged or readable by others."""


class FactoryKey:
    """The factory's private signing key; only its public half ever leaves this object."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.key_id = public_key_id(private_key.public_key())

    @classmethod
    def generate(cls) -> FactoryKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: str | bytes, *, source: str = "PEM") -> FactoryKey:
        """Load an unencrypted PKCS#8 Ed25519 private key."""
        data = pem.encode() if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise SigningKeyError(f"{source}: not a readable unencrypted private key ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{source}: the factory key must be Ed25519, not {type(key).__name__}")
        return cls(key)

    def private_pem(self) -> bytes:
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())

    def public_pem(self) -> str:
        return self._private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def __repr__(self) -> str:
        return f"FactoryKey(key_id={self.key_id!r})"


def public_key_id(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of the SHA-256 of the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(public_pem: str | bytes) -> Ed25519PublicKey | None:
    """The Ed25519 public key in a PEM, or None when the text is not one."""
    data = public_pem.encode() if isinstance(public_pem, str) else public_pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def verify_signature(public_pem: str | bytes, data: bytes, signature: bytes) -> bool:
    """True when `signature` is the Ed25519 signature of `data` by that public key (False for a bad key too)."""
    key = load_public_key(public_pem)
    if key is None:
        return False
    try:
        key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def load_factory_key(home: Path) -> FactoryKey:
    """The factory key from $MOFANG_FACTORY_KEY (PEM text) or <home>/factory_ed25519.pem.

    The file is created on first use (mode 0600, <home> set to 0700); an existing file that the group or
    others can read or write is refused, since anyone who can read it can forge certificates.
    """
    env = os.environ.get(KEY_ENV)
    if env:
        return FactoryKey.from_pem(env, source=f"${KEY_ENV}")
    home.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    path = home / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(f"{path} is accessible to group or others (mode {mode:o}); "
                              f"run: chmod 600 {path}")
    return FactoryKey.from_pem(path.read_bytes(), source=str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place (atomic; the first writer wins)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(FactoryKey.generate().private_pem())
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process created it first: use theirs
    finally:
        tmp.unlink(missing_ok=True)
