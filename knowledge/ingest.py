"""From an uploaded file to clean text, and from text to segments (laws by article)."""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePath

import nh3
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from knowledge.errors import KnowledgeErrorCode
from knowledge.uploads import limit_bytes
from portal.errors import PortalError

MAX_UNPACKED_BYTES = 60 * 1024 * 1024  # a .docx is a zip: refuse what unpacks bigger than this
MAX_SEGMENT_CHARS = 800
MAX_PDF_PAGES = 500
TARGET_SEGMENT_CHARS = 500
EXTENSIONS = (".txt", ".md", ".docx", ".pdf", ".html", ".htm")

_NUM = "一二三四五六七八九十百千零〇两"
ARTICLE = re.compile(rf"^\s*(第[{_NUM}\d]+条)(?:之[{_NUM}]+)?[\s　]*")
CHAPTER = re.compile(rf"^\s*#*\s*(第[{_NUM}\d]+[编章节])\s*(.*)$")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
SENTENCE_END = re.compile(r"(?<=[。！？；!?;])")
PARAGRAPH_END = tuple("。！？；…”』」)）】!?;:：")


class IngestError(PortalError):
    code = KnowledgeErrorCode.BAD_DOCUMENT


@dataclass
class Extracted:
    text: str
    title: str = ""


@dataclass
class SegmentDraft:
    heading: str
    context: str
    text: str


def content_hash(text: str) -> str:
    return hashlib.sha256(re.sub(r"\s+", "", text).encode("utf-8")).hexdigest()


def extract(filename: str, data: bytes) -> Extracted:
    """The plain text of an uploaded file, or an IngestError saying what is wrong with it."""
    ext = PurePath(filename).suffix.lower()
    if ext not in EXTENSIONS:
        raise IngestError(
            _("不支持的文件类型“%(ext)s”，请上传 .txt .md .docx .pdf 或 .html 文件。")
            % {"ext": ext or filename},
            code=KnowledgeErrorCode.UNSUPPORTED_TYPE,
        )
    if len(data) > limit_bytes():
        raise too_large()
    if not data.strip():
        raise IngestError(_("文件是空的。"), code=KnowledgeErrorCode.EMPTY)
    if ext in (".txt", ".md"):
        result = Extracted(decode(data))
    elif ext == ".docx":
        result = _docx(data)
    elif ext == ".pdf":
        result = _pdf(data)
    else:
        result = _html(decode(data))
    if not result.text.strip():
        raise IngestError(_("文件里没有可以识别的文字。"), code=KnowledgeErrorCode.NO_TEXT)
    if _made_up(result.title, filename):
        result.title = ""
    result.title = result.title.strip() or title_line(result.text)
    return result


# A title line: short, no sentence inside it, not an article. (A document opens with its title,
# 关于…的通知 or …实施办法, before anything else; a letter or a story opens with a sentence.)
_TITLE_LINE = re.compile(r"[^。；;！!？?：:]{2,60}")
_ARTICLE_LINE = re.compile(r"第[一二三四五六七八九十百千零〇\d]+[条章节]")


def title_line(text: str) -> str:
    """The document's own title when its first line is one (a Word document's first heading or
    Title-styled paragraph, a text file's first line), else ''."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = first.lstrip("#").strip()
    if _TITLE_LINE.fullmatch(first) and not _ARTICLE_LINE.match(first):
        return first
    return ""


def _made_up(title: str, filename: str) -> bool:
    """A title a tool wrote, not the author: the file's own name (Microsoft Word - 办法.docx)."""
    plain = title.strip()
    return bool(plain) and (
        plain == PurePath(filename).stem
        or plain.startswith("Microsoft Word - ")
        or PurePath(plain).suffix.lower() in (".doc", ".docx", ".pdf", ".wps", ".txt")
    )


def from_upload(upload: UploadedFile) -> Extracted:
    """An uploaded file's text, refused by its declared size before it is read. The title
    falls back to the file's name without its extension."""
    if upload.size and upload.size > limit_bytes():
        raise too_large()
    name = upload.name or ""
    extracted = extract(name, upload.read())
    return Extracted(extracted.text, extracted.title or name.rsplit(".", 1)[0])


def too_large() -> IngestError:
    return IngestError(
        _("文件太大，单个文件不能超过 %(max)d MB。") % {"max": limit_bytes() // 1024 // 1024},
        code=KnowledgeErrorCode.TOO_LARGE,
    )


def decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IngestError(
        _("无法识别文件的文字编码，请另存为 UTF-8 后再上传。"), code=KnowledgeErrorCode.BAD_ENCODING
    )


def _docx(data: bytes) -> Extracted:
    import docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise IngestError(
                    _("这个 Word 文件解压后过大，已拒绝处理。"), code=KnowledgeErrorCode.ZIP_BOMB
                )
        document = docx.Document(io.BytesIO(data))
    except IngestError:
        raise
    except Exception as exc:  # python-docx raises several unrelated types for broken files
        raise IngestError(
            _("无法打开这个 Word 文件，文件可能已损坏。"), code=KnowledgeErrorCode.CORRUPT
        ) from exc
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        level = re.match(r"Heading (\d)", style)
        lines.append(f"{'#' * int(level.group(1))} {text}" if level else text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    title = document.core_properties.title or ""
    return Extracted("\n\n".join(lines), title)


def _pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise IngestError(
                _("PDF 文件已加密，请先去除密码保护再上传。"), code=KnowledgeErrorCode.ENCRYPTED
            )
        if len(reader.pages) > MAX_PDF_PAGES:
            raise IngestError(
                _("PDF 文件超过 %(max)d 页，请拆分后再上传。") % {"max": MAX_PDF_PAGES},
                code=KnowledgeErrorCode.TOO_MANY_PAGES,
            )
        pages = [page.extract_text() or "" for page in reader.pages]
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise IngestError(
            _("无法读取这个 PDF 文件，文件可能已损坏。"), code=KnowledgeErrorCode.CORRUPT
        ) from exc
    title = ""
    if reader.metadata and reader.metadata.title:
        title = str(reader.metadata.title)
    return Extracted(join_broken_lines("\n\n".join(pages)), title)


def _html(source: str) -> Extracted:
    title_match = re.search(r"<title[^>]*>(.*?)</title>", source, re.I | re.S)
    # Block elements become line breaks before every tag (and script content) is dropped.
    source = re.sub(r"(?i)<(br|/p|/div|/li|/tr|/h[1-6])\b[^>]*>", "\n", source)
    source = re.sub(r"(?i)<h([1-6])\b[^>]*>", lambda m: "\n" + "#" * int(m.group(1)) + " ", source)
    text = nh3.clean(source, tags=set(), clean_content_tags={"script", "style", "title", "head"})
    # Stored as plain text (templates escape it again): entities become the characters they name.
    title = nh3.clean(title_match.group(1), tags=set()).strip() if title_match else ""
    return Extracted(html.unescape(text), html.unescape(title))


def join_broken_lines(text: str) -> str:
    """Text extracted from print breaks lines (and sometimes paragraphs) mid-sentence: join
    lines until one ends a sentence, drop the spaces print leaves between Chinese characters,
    and keep headings and articles on their own lines."""
    out: list[str] = []
    for raw in re.split(r"\n", text):
        line = _CJK_SPACE.sub("", raw.strip())
        if not line:
            if out and out[-1] != "" and out[-1].endswith(PARAGRAPH_END):
                out.append("")
            continue
        starts_block = line.startswith("#") or ARTICLE.match(line) or CHAPTER.match(line)
        if (
            out
            and out[-1]
            and not starts_block
            and not out[-1].startswith("#")
            and not out[-1].endswith(PARAGRAPH_END)
        ):
            out[-1] = out[-1] + line
        else:
            out.append(line)
    return "\n".join(out)


def is_law(text: str) -> bool:
    return sum(1 for line in text.splitlines() if ARTICLE.match(line)) >= 3


def split(text: str, title: str) -> list[SegmentDraft]:
    """Laws by article (第X条) with the law title and chapter as context; other texts by
    headings and paragraphs. No segment is longer than MAX_SEGMENT_CHARS."""
    if "<!-- INFO END -->" in text:
        text = text.split("<!-- INFO END -->", 1)[1]
    drafts = _split_law(text, title) if is_law(text) else _split_prose(text, title)
    out: list[SegmentDraft] = []
    for draft in drafts:
        for piece in _cap(draft.text):
            out.append(SegmentDraft(draft.heading, draft.context, piece))
    return out


def _split_law(text: str, title: str) -> list[SegmentDraft]:
    chapter = ""
    drafts: list[SegmentDraft] = []
    current: SegmentDraft | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        heading = HEADING.match(line)
        chapter_match = CHAPTER.match(line)
        if chapter_match or (heading and not ARTICLE.match(heading.group(2))):
            label = heading.group(2) if heading else line
            if label.strip() != title:
                chapter = label.strip()
            current = None
            continue
        article = ARTICLE.match(line)
        if article:
            context = " · ".join(p for p in (title, chapter) if p)
            current = SegmentDraft(article.group(0).strip(), context, line)
            drafts.append(current)
        elif current is not None:
            current.text += "\n" + line
        else:  # a preamble before the first article
            drafts.append(SegmentDraft("", title, line))
    return drafts


def _split_prose(text: str, title: str) -> list[SegmentDraft]:
    text = join_broken_lines(text)
    drafts: list[SegmentDraft] = []
    heading = ""
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            drafts.append(SegmentDraft(heading, title, "\n".join(buffer)))
            buffer.clear()

    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        match = HEADING.match(line)
        if match:
            flush()
            heading = match.group(2)[:100]
            if heading == title:
                heading = ""
            continue
        if buffer and sum(len(b) for b in buffer) + len(line) > TARGET_SEGMENT_CHARS:
            flush()
        buffer.append(line)
    flush()
    return drafts


def _cap(text: str) -> list[str]:
    if len(text) <= MAX_SEGMENT_CHARS:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text):
        while len(sentence) > MAX_SEGMENT_CHARS:  # one endless sentence: cut it hard
            pieces.append((current + sentence)[:MAX_SEGMENT_CHARS])
            sentence = (current + sentence)[MAX_SEGMENT_CHARS:]
            current = ""
        if len(current) + len(sentence) > MAX_SEGMENT_CHARS:
            pieces.append(current)
            current = ""
        current += sentence
    if current.strip():
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


_CJK = "\u3400-\u9fff，。、；：？！（）《》“”"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}])[ \t\u3000]+(?=[{_CJK}])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_body(text: str) -> str:
    """Stored text: no control characters, unified line ends, at most one blank line in a
    row."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
