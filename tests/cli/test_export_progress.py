"""`mofang products export` writes the decrypted archive a chunk at a time under a bar counting the bytes written:
plain whole lines in a pipe, ending at 100%."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from mofang.cli import bundle
from mofang.core.terminal import ProgressBar


def test_the_archive_is_written_in_chunks_with_the_bytes_counted(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bundle, "WRITE_CHUNK", 1000)
    data = os.urandom(4_500)
    stream = io.StringIO()
    with ProgressBar(Console(file=stream), "export loans@1", every_s=0, note="decrypting edge.tar.gz") as bar:
        bundle._write_in_chunks(data, tmp_path / "loans.tar.gz", bar)
    assert (tmp_path / "loans.tar.gz").read_bytes() == data
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "export loans@1 100% 4,500/4,500 bytes written to loans.tar.gz"
    assert [line.split()[2] for line in lines] == ["0%", "22%", "44%", "67%", "89%", "100%"]
    assert "\x1b" not in stream.getvalue() and "\r" not in stream.getvalue()
