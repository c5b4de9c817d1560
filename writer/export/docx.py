"""The .docx of an official document, laid out as GB/T 9704-2012 (党政机关公文格式) lays one out.

Page: A4, top margin 37 mm, left 28 mm, a text block of 156 × 225 mm (so right 26 mm, bottom
35 mm), 22 lines of 28 characters. The lines are a line grid (docGrid, pitch 579 twips) and
every paragraph is set at exactly 28.95 pt, so 22 lines fill the 225 mm block in Word and in
LibreOffice alike. The 28 characters come from condensing every character by 0.25 pt
(16 pt − 0.25 pt = 15.75 pt; 28 of them fit in 156 mm): Word's character grid (docGrid
linesAndChars with a negative charSpace) would do the same in Word, but LibreOffice puts each
16 pt character into two 15.8 pt grid cells there and sets 14 characters a line.

Fonts are named as an office PC has them: 方正小标宋简体 (title), 仿宋_GB2312 (body, third and
fourth headings), 黑体 (一、), 楷体_GB2312 (（一）), 宋体 (page numbers). Each run names the font
for East Asian text (w:eastAsia; python-docx's `font.name` sets only the Latin ones), and the
font table gives Word a fallback (w:altName) for a PC without the GB2312 fonts. LibreOffice
finds its substitutes through fontconfig (writer/export/fonts.conf).

Punctuation does not hang in the margin in LibreOffice (w:overflowPunct in the document
defaults): its PDF export drops a hanging 、。， from a justified line.

Markdown is parsed by markdown-it-py; headings, lists and numbered lines become the four levels
一、 （一） 1. （1）, numbered in order when the text has no number of its own.
"""

from __future__ import annotations

import datetime
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.packuri import PackURI
from docx.opc.part import Part
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Mm, Pt
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree  # type: ignore[import-untyped]
from markdown_it import MarkdownIt
from markdown_it.token import Token

from knowledge.text import segmenter
from portal import aigc
from writer.conventions import format_date, level_marker, marker_level, parse_marker
from writer.export.document import ExportSection, OfficialDocument

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
LEVEL_FONTS = {1: "黑体", 2: "楷体_GB2312", 3: BODY_FONT, 4: BODY_FONT}
PAGE_NUMBER_FONT = "宋体"
# What Word shows when a PC lacks the font (w:altName in the font table).
FONT_FALLBACKS = {
    TITLE_FONT: "华文中宋",
    BODY_FONT: "仿宋",
    "楷体_GB2312": "楷体",
    "黑体": "SimHei",
    PAGE_NUMBER_FONT: "SimSun",
}

TITLE_SIZE = Pt(22)  # 2号
BODY_SIZE = Pt(16)  # 3号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
LINE_PITCH = Pt(28.95)  # 225 mm / 22 lines
LINE_PITCH_TWIPS = 579
CONDENSE_TWENTIETHS = -5  # −0.25 pt a character: 28 characters of 3号 in 156 mm
INDENT_CHARS = 2
FOOTER_DISTANCE = Mm(21)
PAGE_NUMBER_GAP = Mm(7)
PAGE_NUMBER_LINE = Mm(7)

CUSTOM_PROPERTIES_URI = PackURI("/docProps/custom.xml")
CUSTOM_PROPERTIES_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
CUSTOM_PROPERTIES_NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
# The format id Office gives every user-defined property.
USER_DEFINED_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_CITATION_MARK = re.compile(r"\[(\d{1,3})\]")
_HEADING_PHRASE_END = "。："
_NO_LINE_START = "，。、；：？！）》”’」』"
TITLE_CHARS_PER_LINE = 156 / 25.4 * 72 / 22  # characters of 2号 on a 156 mm line


def xml_text(text: str) -> str:
    """The text without the control characters XML 1.0 cannot hold (a model's stray \x0b)."""
    return _NOT_XML.sub("", text)


def text_width(text: str) -> float:
    """Width in characters: an ASCII digit or letter is a little over half a character, and
    Word and LibreOffice both add about a fifth of one between Chinese and Latin text
    (measured on the PDF: 2026年12月4日 is 7.85 characters of 3号)."""
    width = 0.0
    for index, ch in enumerate(text):
        ascii_ = ord(ch) < 0x80
        width += 0.55 if ascii_ else 1.0
        if index and ascii_ != (ord(text[index - 1]) < 0x80) and not ch.isspace():
            width += 0.2
    return width


# --- runs and paragraphs -------------------------------------------------------------------


def set_fonts(rpr: BaseOxmlElement, font: str) -> None:
    """Name `font` for Latin, East Asian and complex text in a run's or style's properties."""
    fonts = rpr.get_or_add_rFonts()
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), font)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


# What may follow an element in w:rPr and w:pPr (ECMA-376 order, which Word enforces).
_AFTER_RPR_SPACING = (
    *("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect"),
    *("w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang"),
    *("w:eastAsianLayout", "w:specVanish", "w:oMath"),
)
_AFTER_RPR_SZ_CS = _AFTER_RPR_SPACING[5:]
_AFTER_RPR_LANG = _AFTER_RPR_SPACING[16:]
_AFTER_PPR_SNAP = (
    *("w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap"),
    *("w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl"),
    *("w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange"),
)
_AFTER_PPR_OVERFLOW_PUNCT = (
    *("w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd"),
    *("w:snapToGrid", *_AFTER_PPR_SNAP),
)


def child(parent: BaseOxmlElement, tag: str, successors: tuple[str, ...]) -> BaseOxmlElement:
    """`parent`'s `tag` child, added in its schema position when missing."""
    found: BaseOxmlElement | None = parent.find(qn(tag))
    if found is None:
        found = OxmlElement(tag)
        parent.insert_element_before(found, *successors)
    return found


def _condense(rpr: BaseOxmlElement) -> None:
    child(rpr, "w:spacing", _AFTER_RPR_SPACING).set(qn("w:val"), str(CONDENSE_TWENTIETHS))


def add_run(
    paragraph: Paragraph,
    text: str,
    *,
    font: str,
    size: Pt,
    bold: bool = False,
    superscript: bool = False,
) -> Run:
    run = paragraph.add_run(xml_text(text))
    rpr = run._r.get_or_add_rPr()
    set_fonts(rpr, font)
    run.font.size = size
    run.font.bold = bold
    if superscript:
        run.font.superscript = True
    if size == BODY_SIZE:
        _condense(rpr)
    return run


def _format(
    paragraph: Paragraph,
    *,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY,
    first_line_chars: int = 0,
    left_chars: float = 0,
    right_chars: float = 0,
    outline_level: int | None = None,
    keep_with_next: bool = False,
) -> None:
    """Alignment and indents in characters of 3号, written both as lengths (LibreOffice) and as
    characters (w:firstLineChars and friends, which Word prefers)."""
    fmt = paragraph.paragraph_format
    fmt.alignment = align
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.keep_with_next = keep_with_next
    if first_line_chars:
        fmt.first_line_indent = Pt(16 * first_line_chars)
    if left_chars:
        fmt.left_indent = Pt(16 * left_chars)
    if right_chars:
        fmt.right_indent = Pt(16 * right_chars)
    ppr = paragraph._p.get_or_add_pPr()
    ind = ppr.find(qn("w:ind"))
    if ind is not None:
        for attribute, chars in (
            ("w:firstLineChars", first_line_chars),
            ("w:leftChars", left_chars),
            ("w:rightChars", right_chars),
        ):
            if chars:
                ind.set(qn(attribute), str(round(chars * 100)))
    if outline_level is not None:
        ppr.get_or_add_outlineLvl().set(qn("w:val"), str(outline_level))


# --- Markdown → paragraphs -----------------------------------------------------------------


@dataclass
class Span:
    text: str
    bold: bool = False
    superscript: bool = False


@dataclass
class Line:
    """One paragraph of the body: its spans and the level its number gives it (0: body)."""

    spans: list[Span] = field(default_factory=list)
    level: int = 0
    heading: bool = False  # a heading line of its own: kept on the page of what follows


@dataclass
class Grid:
    """A Markdown table: rows of cell texts."""

    rows: list[list[str]] = field(default_factory=list)


def _inline_lines(token: Token) -> Iterator[list[Span]]:
    """The spans of an inline token, split into lines at every line break: in Chinese text a
    new line is a new paragraph, never a space."""
    spans: list[Span] = []
    bold = False
    for child in token.children or ():
        if child.type in ("softbreak", "hardbreak"):
            yield spans
            spans = []
        elif child.type == "strong_open":
            bold = True
        elif child.type == "strong_close":
            bold = False
        elif child.type in ("text", "code_inline", "html_inline", "image"):
            spans.append(Span(child.content, bold))  # an image by its alt text
    yield spans


def _merge(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in spans:
        if merged and (merged[-1].bold, merged[-1].superscript) == (span.bold, span.superscript):
            merged[-1] = Span(merged[-1].text + span.text, span.bold, span.superscript)
        elif span.text:
            merged.append(span)
    return merged


class SectionWriter:
    """Turns one section's Markdown into numbered lines under its first-level heading."""

    def __init__(self) -> None:
        self.lines: list[Line | Grid] = []
        self.level = 1  # the level of the last heading: lists and sub-headings go below it
        self.counters = {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}
        self.heading_levels: dict[str, int] = {}

    def _next(self, level: int, number: int | None = None) -> str:
        """Count a heading at `level` (its own `number`, or the next one); deeper levels start
        again under it. Returns the number as written at that level."""
        self.counters[level] = number if number is not None else self.counters[level] + 1
        for deeper in range(level + 1, 6):
            self.counters[deeper] = 0
        return level_marker(level, self.counters[level])

    def _number(self, spans: list[Span], level: int) -> Line:
        """A line at `level`: keeps the number it has, or gets the next one."""
        own = parse_marker("".join(span.text for span in spans).lstrip())
        if own is None:
            spans = [Span(self._next(level)), *spans]
        else:
            level = own[0]
            self._next(*own)
        return Line(spans, min(level, 4))

    def _paragraph(self, spans: list[Span]) -> None:
        spans = _merge(spans)
        text = "".join(span.text for span in spans).strip()
        if not text:
            return
        level = marker_level(text)
        if level is not None:
            line = self._number(spans, level)
            self.level = line.level
            self.lines.append(line)
        else:
            self.lines.append(Line(spans))

    def feed(self, tokens: list[Token]) -> list[Line | Grid]:
        list_depth = 0
        ordered_starts: list[int] = []
        grid: Grid | None = None
        for index, token in enumerate(tokens):
            if grid is not None:
                if token.type == "table_close":
                    self.lines.append(grid)
                    grid = None
                elif token.type == "tr_open":
                    grid.rows.append([])
                elif token.type == "inline" and grid.rows:
                    grid.rows[-1].append(token.content)
            elif token.type == "table_open":
                grid = Grid()
            elif token.type == "heading_open":
                level = self._heading_level(token.tag)
                inline = tokens[index + 1]
                spans = _merge([s for line in _inline_lines(inline) for s in line])
                if "".join(s.text for s in spans).strip():
                    line = self._number(spans, level)
                    line.heading = True
                    self.level = line.level
                    self.lines.append(line)
            elif token.type in ("bullet_list_open", "ordered_list_open"):
                list_depth += 1
                start = token.attrGet("start")
                ordered_starts.append(int(start) if isinstance(start, int | str) else 1)
            elif token.type in ("bullet_list_close", "ordered_list_close"):
                list_depth -= 1
                ordered_starts.pop()
            elif token.type == "inline" and tokens[index - 1].type == "paragraph_open":
                in_item = list_depth and index >= 2 and tokens[index - 2].type == "list_item_open"
                lines = list(_inline_lines(token))
                if in_item:
                    level = min(self.level + list_depth, 5)
                    if not self.counters[level] and ordered_starts[-1] > 1:
                        self.counters[level] = ordered_starts[-1] - 1  # a list from 3. on
                    self.lines.append(self._number(_merge(lines[0]), level))
                    lines = lines[1:]
                for spans in lines:
                    self._paragraph(spans)
            elif token.type in ("fence", "code_block"):
                for text in token.content.splitlines():
                    self._paragraph([Span(text)])
        return self.lines

    def _heading_level(self, tag: str) -> int:
        """Markdown heading levels, in the order a section uses them, become （一）, 1., （1）."""
        if tag not in self.heading_levels:
            self.heading_levels[tag] = min(2 + len(self.heading_levels), 4)
        return self.heading_levels[tag]


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _with_citations(line: Line, mapping: dict[int, int]) -> Line:
    """[n] of a section's own list becomes the document-wide number, set as a superscript."""
    spans: list[Span] = []
    for span in line.spans:
        position = 0
        for match in _CITATION_MARK.finditer(span.text):
            number = mapping.get(int(match.group(1)))
            if number is None:
                continue
            spans.append(Span(span.text[position : match.start()], span.bold))
            spans.append(Span(f"[{number}]", span.bold, superscript=True))
            position = match.end()
        spans.append(Span(span.text[position:], span.bold, span.superscript))
    return Line(_merge(spans), line.level, line.heading)


# --- the document --------------------------------------------------------------------------


class OfficialDocx:
    """One document being written; `build_docx` is its only user."""

    def __init__(self, doc: OfficialDocument) -> None:
        self.doc = doc
        self.docx: DocxDocument = Document()
        self.citations: list[str] = []

    def build(self) -> bytes:
        self._page()
        self._styles()
        self._fonts_table()
        self._properties()
        self._title()
        if self.doc.recipient.strip():
            recipient = self.doc.recipient.strip().rstrip(":：") + "："
            self._line([Span(recipient)], align=WD_ALIGN_PARAGRAPH.LEFT, indent=0)
        for index, section in enumerate(self.doc.sections, start=1):
            self._section(index, section)
        self._signature()
        if self.doc.ai_label is not None:
            # 附注 position (GB/T 9704-2012 7.3.6: 居左空二字加圆括号，成文日期下一行): the
            # place a reader looks for remarks on the document as a whole.
            self._line([Span(f"（{aigc.VISIBLE_TEXT}）")], align=WD_ALIGN_PARAGRAPH.LEFT)
        self._citations()
        self._footers()
        out = io.BytesIO()
        self.docx.save(out)
        return out.getvalue()

    # page, styles, fonts, properties

    def _page(self) -> None:
        section = self.docx.sections[0]
        section.page_width, section.page_height = Mm(210), Mm(297)
        section.top_margin, section.bottom_margin = Mm(37), Mm(35)
        section.left_margin, section.right_margin = Mm(28), Mm(26)
        section.header_distance = Mm(15)
        # The page number's line ends 21 mm above the page's edge and starts 7 mm below the
        # text block (GB/T 9704-2012 7.5: 一字线上距版心下边缘7 mm).
        section.footer_distance = FOOTER_DISTANCE
        sect_pr = section._sectPr
        grid = sect_pr.find(qn("w:docGrid"))
        if grid is None:
            grid = OxmlElement("w:docGrid")
            sect_pr.append(grid)
        grid.attrib.clear()
        grid.set(qn("w:type"), "lines")
        grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
        self.docx.settings.odd_and_even_pages_header_footer = True
        # python-docx's template is set for Japanese: Word's line-breaking rules and theme
        # fonts follow this language.
        for lang in self.docx.settings.element.iter(qn("w:themeFontLang")):
            lang.set(qn("w:eastAsia"), "zh-CN")

    def _styles(self) -> None:
        styles = self.docx.styles.element
        defaults = styles.find(qn("w:docDefaults"))
        rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
        set_fonts(rpr, BODY_FONT)
        half_points = str(int(BODY_SIZE.pt * 2))
        rpr.get_or_add_sz().set(qn("w:val"), half_points)
        child(rpr, "w:szCs", _AFTER_RPR_SZ_CS).set(qn("w:val"), half_points)
        lang = child(rpr, "w:lang", _AFTER_RPR_LANG)
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        # No hanging punctuation in LibreOffice. LibreOffice hangs a 、。，that falls after a
        # full line's last character in the right margin, and on a justified line (the line's
        # slack spread over its characters) LibreOffice 7.4 never draws it: the mark was in the
        # .docx and missing from the PDF ("劳动模范、先进工作者" came out as "劳动模范 先进工作者").
        # Without hanging, its kinsoku rules carry the character before the mark to the next
        # line with it, so no line starts with a closing mark either. LibreOffice reads
        # w:overflowPunct inverted (its DOCX import: hanging = val == 0; its export writes it the
        # ECMA way round), so val="1" turns its hanging off; for Word and WPS val="1" is their
        # default (允许标点溢出边界), so what they show does not change. Should LibreOffice
        # read it the ECMA way one day, test_punctuation_at_the_end_of_a_line_is_in_the_pdf
        # (tests/writer/test_export_pdf.py) fails.
        ppr = child(child(defaults, "w:pPrDefault", ()), "w:pPr", ())  # after w:rPrDefault
        child(ppr, "w:overflowPunct", _AFTER_PPR_OVERFLOW_PUNCT).set(qn("w:val"), "1")
        normal = self.docx.styles["Normal"]
        set_fonts(normal.element.get_or_add_rPr(), BODY_FONT)
        normal.font.size = BODY_SIZE
        fmt = normal.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = LINE_PITCH
        fmt.space_before = fmt.space_after = Pt(0)

    def _fonts_table(self) -> None:
        """Declare each font with its GB2312 charset and the font Word falls back to."""
        table_part = self.docx.part.rels.part_with_reltype(RT.FONT_TABLE)
        table = etree.fromstring(table_part.blob)
        for name, fallback in FONT_FALLBACKS.items():
            font = etree.SubElement(table, qn("w:font"))
            font.set(qn("w:name"), name)
            alt = etree.SubElement(font, qn("w:altName"))
            alt.set(qn("w:val"), fallback)
            charset = etree.SubElement(font, qn("w:charset"))
            charset.set(qn("w:val"), "86")
            family = etree.SubElement(font, qn("w:family"))
            family.set(qn("w:val"), "modern" if name == "黑体" else "roman")
        table_part._blob = etree.tostring(table, xml_declaration=True, standalone=True)

    def _properties(self) -> None:
        package = self.docx.part.package
        for rel_id, rel in list(package.rels.items()):
            if rel.reltype == RT.THUMBNAIL:  # python-docx's template shows its own sample page
                package.rels.pop(rel_id)
        core = self.docx.core_properties
        core.title = xml_text(self.doc.title)
        core.author = core.last_modified_by = xml_text(self.doc.issuer)
        core.comments = core.subject = core.keywords = core.category = ""
        core.language = "zh-CN"
        core.revision = 1
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        core.created = core.modified = now
        if self.doc.ai_label is not None:
            blob = custom_properties_xml({"AIGC": aigc.to_json(self.doc.ai_label)})
            part = Part(CUSTOM_PROPERTIES_URI, CUSTOM_PROPERTIES_TYPE, blob, package)
            package.relate_to(part, RT.CUSTOM_PROPERTIES)

    # the text

    def _line(
        self,
        spans: list[Span],
        *,
        level: int = 0,
        heading: bool = False,
        align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY,
        indent: int = INDENT_CHARS,
        right_chars: float = 0,
    ) -> Paragraph:
        paragraph = self.docx.add_paragraph()
        _format(
            paragraph,
            align=align,
            first_line_chars=indent,
            right_chars=right_chars,
            outline_level=level - 1 if level else None,
            keep_with_next=heading,
        )
        font = LEVEL_FONTS.get(level, BODY_FONT)
        heading_end = _heading_phrase_end(spans) if level else 0
        written = 0
        for span in spans:
            # The number and its heading phrase take the level's font; the text after the
            # phrase on the same line is body text (（一）活动时间。2026年5月1日……).
            split = max(0, min(len(span.text), heading_end - written))
            head, tail = span.text[:split], span.text[split:]
            for text, span_font in ((head, font), (tail, BODY_FONT)):
                if text:
                    add_run(
                        paragraph,
                        text,
                        font=span_font,
                        size=BODY_SIZE,
                        bold=span.bold,
                        superscript=span.superscript,
                    )
            written += len(span.text)
        return paragraph

    def _blank(self) -> None:
        self._line([], align=WD_ALIGN_PARAGRAPH.LEFT, indent=0)

    def _title(self) -> None:
        paragraph = self.docx.add_paragraph()
        _format(paragraph, align=WD_ALIGN_PARAGRAPH.CENTER, outline_level=None)
        # Off the line grid: LibreOffice would give each 2号 line two grid lines.
        child(paragraph._p.get_or_add_pPr(), "w:snapToGrid", _AFTER_PPR_SNAP).set(qn("w:val"), "0")
        for number, line in enumerate(title_lines(self.doc.title)):
            if number:
                add_run(paragraph, "", font=TITLE_FONT, size=TITLE_SIZE).add_break()
            add_run(paragraph, line, font=TITLE_FONT, size=TITLE_SIZE)
        self._blank()  # 标题下空一行 (7.3.2)

    def _section(self, index: int, section: ExportSection) -> None:
        heading = section.heading.strip()
        if marker_level(heading) != 1:
            heading = level_marker(1, index) + heading
        self._line([Span(heading)], level=1, heading=True)
        mapping: dict[int, int] = {}
        for number, citation in enumerate(section.citations, start=1):
            source = citation.strip()
            if source not in self.citations:
                self.citations.append(source)
            mapping[number] = self.citations.index(source) + 1
        for item in SectionWriter().feed(_markdown().parse(section.markdown)):
            if isinstance(item, Grid):
                self._table(item)
            else:
                line = _with_citations(item, mapping)
                self._line(line.spans, level=line.level, heading=line.heading)

    def _table(self, grid: Grid) -> None:
        rows = [row for row in grid.rows if row]
        if not rows:
            return
        width = max(len(row) for row in rows)
        table: Table = self.docx.add_table(rows=len(rows), cols=width)
        table.style = "Table Grid"
        for number, (row, cells) in enumerate(zip(table.rows, rows, strict=True), start=1):
            for cell, text in zip(row.cells, cells, strict=False):
                paragraph = cell.paragraphs[0]
                # A short table stays on one page: each row keeps with the next.
                _format(
                    paragraph, align=WD_ALIGN_PARAGRAPH.CENTER, keep_with_next=number < len(rows)
                )
                add_run(paragraph, text, font=BODY_FONT, size=BODY_SIZE)

    def _signature(self) -> None:
        """发文机关署名 and 成文日期 for a document without a seal (GB/T 9704-2012 7.3.5.2): the
        signature right-aligned two characters in; the date on the next line, its first
        character two to the right of the signature's; a date longer than that is set two
        characters in and the signature moves left to keep the offset."""
        issuer = self.doc.issuer.strip()
        date = format_date(self.doc.date)
        issuer_right = max(INDENT_CHARS, 2 * INDENT_CHARS + text_width(date) - text_width(issuer))
        date_right = issuer_right + text_width(issuer) - INDENT_CHARS - text_width(date)
        self._blank()  # 正文下空一行
        lines = [(issuer, issuer_right)] if issuer else []
        for text, right in [*lines, (date, date_right)]:
            self._line([Span(text)], align=WD_ALIGN_PARAGRAPH.RIGHT, indent=0, right_chars=right)

    def _citations(self) -> None:
        if not self.citations:
            return
        self._blank()
        # The heading goes to the next page with its first source, never alone at a page's foot.
        self._line([Span("附：参考依据")], align=WD_ALIGN_PARAGRAPH.LEFT, heading=True)
        for number, source in enumerate(self.citations, start=1):
            self._line([Span(f"{number}.{source}")], align=WD_ALIGN_PARAGRAPH.LEFT)

    def _footers(self) -> None:
        """ "— 1 —" in 4号宋体: odd pages right, even pages left, one character from the edge."""
        section = self.docx.sections[0]
        for footer, align in (
            (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
            (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
        ):
            footer.is_linked_to_previous = False
            paragraph = footer.paragraphs[0]
            fmt = paragraph.paragraph_format
            fmt.alignment = align
            # Word stacks a footer up from footer_distance, LibreOffice sets it at the top of
            # the space below the text block: 7 mm above the line puts the number 7 mm below
            # the block in both (35 mm margin = 21 mm distance + 7 mm + a 7 mm line).
            fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            fmt.line_spacing = PAGE_NUMBER_LINE
            fmt.space_before = PAGE_NUMBER_GAP
            fmt.space_after = Pt(0)
            edge = PAGE_NUMBER_SIZE
            if align == WD_ALIGN_PARAGRAPH.RIGHT:
                fmt.right_indent = edge
            else:
                fmt.left_indent = edge
            add_run(paragraph, "— ", font=PAGE_NUMBER_FONT, size=PAGE_NUMBER_SIZE)
            _page_field(paragraph)
            add_run(paragraph, " —", font=PAGE_NUMBER_FONT, size=PAGE_NUMBER_SIZE)


def title_lines(title: str) -> list[str]:
    """The title in as few lines as fit the text block, broken between words near equal
    lengths (GB/T 9704-2012 7.3.2: 回行时要做到词意完整，排列对称)."""
    title = " ".join(xml_text(title).split())
    width = text_width(title)
    count = math.ceil(width / TITLE_CHARS_PER_LINE)
    if count <= 1:
        return [title]
    edges = _word_edges(title)
    lines: list[str] = []
    start = 0
    for done in range(1, count):
        target = width * done / count
        best = min(
            (edge for edge in edges if edge > start),
            key=lambda edge: abs(text_width(title[:edge]) - target),
            default=len(title),
        )
        lines.append(title[start:best])
        start = best
    lines.append(title[start:])
    return [line for line in lines if line]


def _word_edges(text: str) -> list[int]:
    """Positions between words (jieba, with the union lexicon), never before a closing mark."""
    lowered = text.lower()
    edges: set[int] = set()
    position = 0
    for word in segmenter.words(text):
        found = lowered.find(word, position)
        if found >= 0:
            edges.update((found, found + len(word)))
            position = found + len(word)
    return sorted(
        edge for edge in edges if 0 < edge < len(text) and text[edge] not in _NO_LINE_START
    )


def _heading_phrase_end(spans: list[Span]) -> int:
    """Where a numbered line's heading ends: after its first 。 or ：, else the whole line."""
    text = "".join(span.text for span in spans)
    positions = [text.find(mark) for mark in _HEADING_PHRASE_END if mark in text]
    return min(positions) + 1 if positions else len(text)


def _page_field(paragraph: Paragraph) -> None:
    """A PAGE field (begin, instruction, separate, the number shown until it updates, end)."""

    def field_run(kind: str | None = None, instruction: str | None = None, text: str = "") -> None:
        run = paragraph.add_run()
        rpr = run._r.get_or_add_rPr()
        set_fonts(rpr, PAGE_NUMBER_FONT)
        run.font.size = PAGE_NUMBER_SIZE
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif instruction:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = instruction
            run._r.append(instr)
        else:
            run.text = text

    field_run("begin")
    field_run(instruction=" PAGE ")
    field_run("separate")
    field_run(text="1")
    field_run("end")


def custom_properties_xml(properties: dict[str, str]) -> bytes:
    """docProps/custom.xml holding text properties (the part python-docx has no API for)."""
    root = etree.Element(qn_custom("Properties"), nsmap={None: CUSTOM_PROPERTIES_NS, "vt": VT_NS})
    for pid, (name, value) in enumerate(properties.items(), start=2):  # pids start at 2
        prop = etree.SubElement(root, qn_custom("property"))
        prop.set("fmtid", USER_DEFINED_FMTID)
        prop.set("pid", str(pid))
        prop.set("name", name)
        text = etree.SubElement(prop, f"{{{VT_NS}}}lpwstr")
        text.text = value
    blob: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    return blob


def qn_custom(tag: str) -> str:
    return f"{{{CUSTOM_PROPERTIES_NS}}}{tag}"


def build_docx(doc: OfficialDocument) -> bytes:
    """The document as .docx bytes."""
    return OfficialDocx(doc).build()
