"""OCR as a data source: rendered Chinese and English pages read back with measured character accuracy, scanned
PDFs and images in a document folder, unreadable images listed and skipped, OCR confidence in the data card."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.limits import Limits
from mofang.data.ocr import UnreadableImage, join_gap, read_image, reading_order
from tests.data.helpers import source
from tests.data.ocr_pages import FONT_MISSING, FONT_PATH, character_accuracy, png_bytes, render_page, sample_lines

ACCURACY_FLOOR = 0.97  # bench/ocr.py measures 0.994 on 20 such pages (whitespace removed)


@pytest.fixture(autouse=True)
def cjk_font() -> None:
    if not FONT_PATH.exists():
        pytest.fail(FONT_MISSING)


def _box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_reading_order_groups_lines_and_joins_chinese_without_spaces() -> None:
    items = [(_box(300, 52, 500, 80), "签字盖章", 0.9), (_box(40, 100, 200, 128), "Total:", 0.9),
             (_box(40, 50, 280, 78), "本合同自双方", 0.9), (_box(220, 101, 400, 129), "8,500 CNY", 0.9),
             (_box(40, 150, 300, 178), "第 三 行", 0.9)]
    assert reading_order(items) == ["本合同自双方签字盖章", "Total: 8,500 CNY", "第三行"]
    assert join_gap("金额", "元") == "" and join_gap("金额", "CNY") == " " and join_gap("a", "b") == " "


def test_rendered_pages_are_read_with_measured_character_accuracy() -> None:
    rng = random.Random(7)
    references, readings = [], []
    for i in range(6):
        lines = sample_lines(rng, 6)
        references.append("\n".join(lines))
        pages = read_image(png_bytes(render_page(lines, size=(24, 28)[i % 2])), source=f"p{i}.png",
                           limit=Limits())
        assert len(pages) == 1 and pages[0].lines == 6, pages
        assert pages[0].confidence is not None and pages[0].confidence > 0.9
        readings.append(pages[0].text)
    accuracy = character_accuracy(references, readings)
    assert accuracy >= ACCURACY_FLOOR, (accuracy, readings)
    chinese = [line for text in readings for line in text.splitlines() if "合同" in line or "公司" in line]
    assert all(" " not in line for line in chinese if line.isascii() is False and "HT-" not in line)


def test_a_scanned_pdf_and_a_tiff_are_read_through_the_document_folder(tmp_path: Path) -> None:
    rng = random.Random(3)
    first, second = sample_lines(rng, 4), sample_lines(rng, 4)
    folder = tmp_path / "docs"
    (folder / "scans").mkdir(parents=True)
    page1, page2 = render_page(first).convert("RGB"), render_page(second).convert("RGB")
    page1.save(folder / "scans" / "contract.pdf", save_all=True, append_images=[page2])  # image-only PDF
    render_page(second).save(folder / "scans" / "fax.tif", save_all=True, append_images=[render_page(first)])
    (folder / "scans" / "memo.txt").write_text("备忘录：下周一开会。", encoding="utf-8")
    frame = read_source(source(folder))
    rows = {r["path"]: r for r in frame.to_dict("records")}
    pdf, tif = rows["scans/contract.pdf"], rows["scans/fax.tif"]
    assert pdf["format"] == "pdf" and tif["format"] == "image" and rows["scans/memo.txt"]["format"] == "txt"
    for text, lines in ((pdf["text"], first + second), (tif["text"], second + first)):
        assert character_accuracy(["\n".join(lines)], [text]) >= ACCURACY_FLOOR, text
    info = frame.attrs["source"]
    ocr = info["ocr"]
    assert ocr["engine"].startswith("rapidocr-onnxruntime") and ocr["pages_read"] == 4 and ocr["documents"] == 2
    assert [(p["document"], p["page"]) for p in ocr["pages"]] == [
        ("scans/contract.pdf", 1), ("scans/contract.pdf", 2), ("scans/fax.tif", 1), ("scans/fax.tif", 2)]
    assert all(p["lines"] == 4 and p["confidence"] > 0.9 for p in ocr["pages"])
    assert ocr["low_confidence"] == [] and ocr["unreadable"] == [] and not info["warnings"]


def test_a_pdf_page_with_a_text_layer_keeps_it(tmp_path: Path) -> None:
    from tests.data.test_documents import _pdf_bytes

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "typed.pdf").write_bytes(_pdf_bytes("Quarterly report"))
    frame = read_source(source(folder))
    assert frame["text"].tolist() == ["Quarterly report"] and "ocr" not in frame.attrs["source"]


def test_unreadable_images_are_listed_by_name_and_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    jpeg = png_bytes(render_page(["发票金额以实际验收数量为准。"]), "JPEG")
    (folder / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])  # a JPEG cut off mid-file
    (folder / "empty.png").write_bytes(b"")
    (folder / "words.jpg").write_text("这不是图片 not an image", encoding="utf-8")
    text = render_page(["Payment is due within thirty days."])  # black text on a transparent page: read over white
    alpha = Image.new("RGBA", text.size, (0, 0, 0, 255))
    alpha.putalpha(text.point(lambda v: 255 - v))
    alpha.save(folder / "alpha.png")
    Image.new("L", (500, 500), 255).save(folder / "huge.png")
    monkeypatch.setenv("MOFANG_DATA_MAX_IMAGE_PIXELS", "200000")  # huge.png has 250,000 pixels
    (folder / "ok.txt").write_text("正常的文本文件", encoding="utf-8")
    frame = read_source(source(folder))
    assert sorted(frame["path"]) == ["alpha.png", "ok.txt"]
    assert "Payment" in frame.set_index("path").loc["alpha.png", "text"]
    info = frame.attrs["source"]
    reasons = {u["document"]: u["reason"] for u in info["ocr"]["unreadable"]}
    assert set(reasons) == {"cut.jpg", "empty.png", "words.jpg", "huge.png"}
    assert reasons["cut.jpg"].startswith("a broken image (OSError")
    assert reasons["empty.png"] == "the file is empty (0 bytes)"
    assert reasons["words.jpg"].startswith("not an image")
    assert reasons["huge.png"] == ("the image has 250,000 pixels; the limit is 200,000 "
                                   "(MOFANG_DATA_MAX_IMAGE_PIXELS raises it)")
    assert any(w.startswith("words.jpg: not an image") and w.endswith("skipped") for w in info["warnings"])


def test_a_folder_of_only_broken_images_names_them(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG")
    with pytest.raises(DataError, match=r"no documents .* found; 1 unreadable \(a\.png\), 0 other files"):
        read_source(source(folder))
    with pytest.raises(UnreadableImage, match="x.png: a broken image"):
        read_image(png_bytes(render_page(["半张图"]))[:200], source="x.png", limit=Limits())


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares width × height grey pixels but holds almost no data (a decompression bomb's header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_ten_thousand_pixel_square_image_is_skipped_before_decoding(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "poster.png").write_bytes(_png_header(10_000, 10_000))
    (folder / "ok.txt").write_text("正常的文本文件", encoding="utf-8")
    frame = read_source(source(folder))
    assert frame["path"].tolist() == ["ok.txt"]
    assert frame.attrs["source"]["ocr"]["unreadable"] == [{"document": "poster.png", "reason": (
        "the image has 100,000,000 pixels; the limit is 50,000,000 (MOFANG_DATA_MAX_IMAGE_PIXELS raises it)")}]


def test_the_page_limit_refuses_the_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    page = render_page(["本协议一式两份。"]).convert("RGB")
    page.save(folder / "scan.pdf", save_all=True, append_images=[page, page])
    monkeypatch.setenv("MOFANG_DATA_MAX_OCR_PAGES", "2")
    with pytest.raises(DataError, match=r"scan\.pdf\]: more pages to read by OCR; the limit is 2 "
                                        r"\(MOFANG_DATA_MAX_OCR_PAGES raises it\)"):
        read_source(source(folder))


JOB = """
name: scans-clean
tenant: acme
data:
  - path: scans
target: label
steps:
  - op: normalize.text
output: out/scans
"""


def test_ocr_confidence_and_low_pages_appear_in_the_data_card(tmp_path: Path, home: Path) -> None:
    scans = tmp_path / "scans"
    for label, lines in (("合同", ["本合同自双方签字盖章之日起生效。", "Please sign and return one copy."]),
                         ("发票", ["发票金额以实际验收数量为准。", "Total amount: 8,500 CNY."])):
        (scans / label).mkdir(parents=True)
        render_page(lines).save(scans / label / "page.png")
    Image.new("L", (600, 400), 255).save(scans / "发票" / "blank.png")  # no text: a page to check
    (scans / "合同" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 broken")
    job = tmp_path / "job.yaml"
    job.write_text(JOB, encoding="utf-8")
    result = CliRunner().invoke(app_cli(), ["data", "run", str(job)])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out" / "scans"
    card = json.loads((out / "data_card.json").read_text(encoding="utf-8"))
    [ocr] = card["ocr"]
    assert ocr["source"].endswith("scans") and ocr["pages_read"] == 3 and ocr["threshold"] == 0.8
    assert {(p["document"], p["lines"]) for p in ocr["pages"]} == {("发票/blank.png", 0), ("发票/page.png", 2),
                                                                   ("合同/page.png", 2)}
    assert [(p["document"], p["confidence"]) for p in ocr["low_confidence"]] == [("发票/blank.png", None)]
    assert [u["document"] for u in ocr["unreadable"]] == ["合同/broken.jpg"]
    assert any("broken.jpg" in w["warning"] for w in card["source_warnings"])
    assert any("发票/blank.png p.1 (no text)" in w["warning"] for w in card["source_warnings"])
    html = (out / "data_card.html").read_text(encoding="utf-8")
    assert "OCR · 文字识别" in html and "3 pages of 3 documents read by OCR" in html
    assert "发票/blank.png" in html and "合同/broken.jpg" in html and "Confidence per page" in html


def app_cli() -> object:
    from mofang.cli import app

    return app
