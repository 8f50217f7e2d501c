"""Plain text and a title from one document's bytes: txt, md, html/htm, docx, pdf, and images (png, jpg, tif) and
PDF pages without a text layer read by OCR (`mofang.data.ocr`)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from mofang.core.errors import DataError
from mofang.data.encoding import decode_text
from mofang.data.limits import Limits, limits, over
from mofang.data.ocr import IMAGE_SUFFIXES, PageText, UnreadableImage, read_image, read_picture
from mofang.data.safety import open_zip

DOCUMENT_FORMATS = {".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md", ".html": "html",
                    ".htm": "html", ".docx": "docx", ".pdf": "pdf", **dict.fromkeys(IMAGE_SUFFIXES, "image")}
TITLE_CHARS = 200
_BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
                     "header", "footer", "table", "ul", "ol", "blockquote", "pre", "hr", "title", "td", "th"})
_HIDDEN = frozenset({"script", "style", "noscript", "template", "head", "title"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")


@dataclass
class Document:
    """A document's text and, where the format says so, its title (None: take the first line); the pages read by
    OCR (page number from 1, what it read) and the pages whose scans could not be read ("page 3: why")."""

    text: str
    title: str | None = None
    ocr: list[tuple[int, PageText]] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def extract(data: bytes, fmt: str, *, source: str, limit: Limits | None = None,
            ocr_pages: int | None = None) -> Document:
    """The text of a document of format `fmt` (a value of DOCUMENT_FORMATS); DataError when unreadable
    (UnreadableImage for an image). `ocr_pages`: how many pages OCR may still read for this source."""
    limit = limit or limits(source)
    budget = limit.ocr_pages if ocr_pages is None else ocr_pages
    if fmt in ("txt", "md"):
        text, _ = decode_text(data, source=source) if data else ("", "")
        text = text.replace("\r\n", "\n")
        return Document(text, _markdown_title(text) if fmt == "md" else None)
    if fmt == "html":
        text, _ = decode_text(data, source=source) if data else ("", "")
        return _html(text)
    if fmt == "docx":
        return _docx(data, source)
    if fmt == "pdf":
        return _pdf(data, source, limit, budget)
    if fmt == "image":
        pages = read_image(data, source=source, limit=limit)
        return Document("\n\n".join(p.text for p in pages if p.text).strip(), None, list(enumerate(pages, 1)))
    raise ValueError(f"unknown document format {fmt!r}")


def first_line(text: str) -> str | None:
    """The first non-empty line, trimmed to TITLE_CHARS."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:TITLE_CHARS]
    return None


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        match = _MD_HEADING.match(line)
        if match:
            return match.group(1)[:TITLE_CHARS]
    return None


class _HtmlText(HTMLParser):
    """Visible text of an HTML page (entities decoded), with its <title> and first heading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.title: list[str] | None = None
        self.heading: list[str] | None = None
        self.in_title = self.in_heading = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        if tag == "title" and self.title is None:
            self.in_title, self.title = True, []
        if tag in _HEADINGS and self.heading is None:
            self.in_heading, self.heading = True, []
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self.hidden:
            self.hidden -= 1
        if tag == "title":
            self.in_title = False
        if tag in _HEADINGS:
            self.in_heading = False
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title and self.title is not None:
            self.title.append(data)
        if self.hidden:
            return
        if self.in_heading and self.heading is not None:
            self.heading.append(data)
        self.parts.append(data)


def _html(markup: str) -> Document:
    parser = _HtmlText()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    text = "\n".join(line for line in lines if line)
    title = next((" ".join("".join(p).split()) for p in (parser.heading, parser.title) if p and "".join(p).strip()),
                 None)
    return Document(text, title[:TITLE_CHARS] if title else None)


def _docx(data: bytes, source: str) -> Document:
    import docx
    from docx.table import Table

    open_zip(data, source, "docx file").close()  # refuse a zip bomb before python-docx inflates it
    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        title = None
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_lines(block))
                continue
            text = block.text.strip()
            if text:
                lines.append(text)
                style = (block.style.name if block.style is not None else "") or ""
                if title is None and (style.startswith("Heading") or style == "Title"):
                    title = text[:TITLE_CHARS]
    except DataError:
        raise
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors for broken files
        raise DataError(f"not a readable docx file ({type(exc).__name__}: {exc})", source=source) from None
    return Document("\n".join(lines), title)


def _table_lines(table: object) -> list[str]:
    """One line per table row, cells separated by tabs; a merged cell counted once."""
    lines = []
    for row in table.rows:  # type: ignore[attr-defined]
        cells, seen = [], set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append("\t".join(cells))
    return lines


def _pdf(data: bytes, source: str, limit: Limits, budget: int) -> Document:
    """Each page's text layer; a page without one is read by OCR from its embedded images."""
    from pypdf import PdfReader

    document = Document("")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DataError("the PDF is encrypted; save an unprotected copy", source=source)
        texts = []
        for number, page in enumerate(reader.pages, 1):
            text = (page.extract_text() or "").strip()
            if not text and _has_images(page):
                if len(document.ocr) >= budget:
                    raise DataError(over(limit, "ocr_pages", "more pages to read by OCR"), source=source)
                text = _ocr_page(page, number, source, limit, document)
            texts.append(text)
        title = reader.metadata.title if reader.metadata is not None else None
    except DataError:
        raise
    except Exception as exc:  # pypdf raises PdfReadError and many others for broken files
        raise DataError(f"not a readable PDF file ({type(exc).__name__}: {exc})", source=source) from None
    document.text = "\n".join(texts).strip()
    document.title = title.strip()[:TITLE_CHARS] if title and title.strip() else None
    return document


def _has_images(page: object) -> bool:
    try:
        return len(page.images) > 0  # type: ignore[attr-defined]
    except Exception:  # an unreadable resource dictionary: no images to read
        return False


def _ocr_page(page: object, number: int, source: str, limit: Limits, document: Document) -> str:
    """The text OCR reads from a page's embedded images (in the order the page lists them), recorded in
    `document`: the page's confidence is the mean line score over its images; images it cannot read are listed."""
    texts, lines, weighted, problems = [], 0, 0.0, []
    names = page.images.keys()  # type: ignore[attr-defined]
    for index, name in enumerate(names, 1):
        where = f"{source} page {number} image {index}"
        try:
            declared = _declared_pixels(page, name)
            if declared is not None and declared > limit.image_pixels:
                raise UnreadableImage(over(limit, "image_pixels", f"the image has {declared:,} pixels"), source=where)
            picture = page.images[index - 1]  # type: ignore[attr-defined]
            if picture.image is None:
                raise UnreadableImage("an image pypdf cannot decode", source=where)
            key = hashlib.sha256(picture.data).hexdigest()
            read = read_picture(picture.image, key=key, source=where, limit=limit)
        except UnreadableImage as exc:
            problems.append(f"image {index}: {exc.reason}")
            continue
        except Exception as exc:  # pypdf's filters raise many kinds for broken or unsupported image streams
            problems.append(f"image {index}: {type(exc).__name__}: {exc}")
            continue
        if read.text:
            texts.append(read.text)
        lines += read.lines
        weighted += (read.confidence or 0.0) * read.lines
    if problems:
        document.unreadable.append(f"page {number}: " + "; ".join(problems))
    if len(problems) < len(names):  # at least one image was read: the page counts as OCR'd
        document.ocr.append((number, PageText("\n".join(texts), lines,
                                              round(weighted / lines, 4) if lines else None)))
    return "\n".join(texts)


def _declared_pixels(page: object, name: object) -> int | None:
    """Width × height an image XObject declares, before pypdf decodes it (None: an inline or nested image)."""
    if not isinstance(name, str) or name.startswith("~"):
        return None
    try:
        xobjects = page["/Resources"]["/XObject"]  # type: ignore[index]
        image = xobjects[name].get_object()
        return int(image["/Width"]) * int(image["/Height"])
    except Exception:
        return None
