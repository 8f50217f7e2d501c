"""Document sources: folders and archives of txt/md/html/docx/pdf become text records; unsafe archives refused."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.doctext import extract
from tests.data.helpers import source

HTML = """<html><head><title>页面标题</title><style>p {color: red}</style><script>var x = "<p>no</p>";</script>
</head><body><h1>Caf&eacute; &amp; 茶</h1><p>第一段&nbsp;文字 &lt;b&gt;</p><div>second<br>line</div></body></html>"""


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("季度报告", level=1)
    document.add_paragraph("收入增长了 12%。")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["城市", "金额"], ["北京", "3.5"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _pdf_bytes(text: str) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 20 150 Td ({text}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _folder(root: Path) -> Path:
    (root / "pos").mkdir(parents=True)
    (root / "neg").mkdir()
    (root / "pos" / "a.txt").write_bytes("\n\n  好评第一行\n第二行\n".encode("gbk"))
    (root / "pos" / "b.md").write_text("intro\n## 标题 ##\nbody\n", encoding="utf-8")
    (root / "neg" / "c.html").write_text(HTML, encoding="utf-8")
    (root / "neg" / "d.docx").write_bytes(_docx_bytes())
    (root / "neg" / "e.pdf").write_bytes(_pdf_bytes("Hello PDF world"))
    (root / "neg" / "f.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (root / "neg" / "empty.txt").write_bytes(b"")
    return root


def test_folder_of_documents(tmp_path: Path) -> None:
    frame = read_source(source(_folder(tmp_path / "docs")))
    assert frame["path"].tolist() == ["neg/c.html", "neg/d.docx", "neg/e.pdf", "neg/empty.txt", "pos/a.txt",
                                      "pos/b.md"]
    assert frame["label"].tolist() == ["neg"] * 4 + ["pos"] * 2
    assert frame["format"].tolist() == ["html", "docx", "pdf", "txt", "txt", "md"]
    rows = frame.set_index("path")
    assert rows.loc["pos/a.txt", "title"] == "好评第一行" and rows.loc["pos/a.txt", "text"] == "好评第一行\n第二行"
    assert rows.loc["pos/b.md", "title"] == "标题"
    assert rows.loc["neg/c.html", "title"] == "Café & 茶"
    assert rows.loc["neg/c.html", "text"] == "Café & 茶\n第一段 文字 <b>\nsecond\nline"
    assert rows.loc["neg/d.docx", "title"] == "季度报告"
    assert rows.loc["neg/d.docx", "text"] == "季度报告\n收入增长了 12%。\n城市\t金额\n北京\t3.5"
    assert "Hello PDF world" in rows.loc["neg/e.pdf", "text"]
    assert rows.loc["neg/empty.txt", "title"] == "empty" and rows.loc["neg/empty.txt", "text"] is None
    info = frame.attrs["source"]
    assert info["format"] == "documents" and info["skipped"] == []  # an image is read by OCR; this one is broken
    assert [u["document"] for u in info["ocr"]["unreadable"]] == ["neg/f.png"]
    assert info["warnings"] == ["neg/f.png: not an image (no image format recognises its bytes); skipped"]


def test_flat_folder_has_no_label(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("x", encoding="utf-8")
    (tmp_path / "two.txt").write_text("y", encoding="utf-8")
    frame = read_source(source(tmp_path))
    assert list(frame.columns) == ["path", "title", "text", "format"]


@pytest.mark.parametrize("suffix", ["zip", "tar.gz", "tgz"])
def test_archive_equals_folder(tmp_path: Path, suffix: str) -> None:
    folder = _folder(tmp_path / "docs")
    archive = tmp_path / f"docs.{suffix}"
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if suffix == "zip":
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, "corpus/" + p.relative_to(folder).as_posix())
            z.writestr("__MACOSX/corpus/._a.txt", b"\x00\x05")
    else:
        with tarfile.open(archive, "w:gz") as t:
            t.add(folder, arcname="corpus")
    frame = read_source(source(archive))
    expected = read_source(source(folder))
    assert frame["path"].tolist() == ["corpus/" + p for p in expected["path"]]
    assert frame.drop(columns="path").equals(expected.drop(columns="path"))
    assert set(tmp_path.iterdir()) == {archive, folder}  # nothing extracted next to the archive


def _tar_with(path: Path, name: str, data: bytes) -> Path:
    with tarfile.open(path, "w:gz") as t:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_unsafe_member_names_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match="unsafe member name"):
        read_source(source(_tar_with(tmp_path / "bad.tar.gz", name, b"x")))
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(name, b"x")
    with pytest.raises(DataError, match="unsafe member name"):
        read_source(source(archive))


def test_archive_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mofang.data import safety

    monkeypatch.setattr(safety, "MAX_TOTAL_BYTES", 1000)
    with pytest.raises(DataError, match="more than 1,000 bytes uncompressed"):
        read_source(source(_tar_with(tmp_path / "big.tar.gz", "big.txt", b"a" * 2000)))
    monkeypatch.setattr(safety, "MAX_MEMBERS", 3)
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(4):
            z.writestr(f"{i}.txt", b"x")
    with pytest.raises(DataError, match="more than 3 members"):
        read_source(source(archive))


def test_zip_bomb_archive_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z, z.open("zeros.txt", "w") as member:
        for _ in range(10):
            member.write(bytes(1 << 20))
    with pytest.raises(DataError, match="possible zip bomb"):
        read_source(source(archive))


def test_broken_documents_name_the_member(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    with pytest.raises(DataError, match=r"\[broken.pdf\]: not a readable PDF"):
        read_source(source(tmp_path))
    (tmp_path / "broken.pdf").unlink()
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(DataError, match=r"\[broken.docx\]: not a readable docx"):
        read_source(source(tmp_path))


def test_no_documents_and_not_a_tar(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"\x89PNG")
    with pytest.raises(DataError, match="no documents"):
        read_source(source(tmp_path))
    fake = tmp_path / "fake.tar.gz"
    fake.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataError, match="not a readable tar archive"):
        read_source(source(fake))


def test_html_without_heading_uses_title() -> None:
    document = extract(b"<title>T &amp; C</title><p>x</p>", "html", source="x.html")
    assert document.title == "T & C" and document.text == "x"
