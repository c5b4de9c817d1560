"""The exported .docx read back with python-docx: GB/T 9704-2012 layout, fonts, labels."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Length, Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree  # type: ignore[import-untyped]

from portal import aigc
from writer.export import ExportSection, OfficialDocument
from writer.export.docx import build_docx, text_width, title_lines

PLAN = OfficialDocument(
    title="某某市总工会2026年职工劳动技能竞赛活动方案",
    issuer="某某市总工会",
    date=datetime.date(2026, 12, 4),
    sections=(
        ExportSection(
            "活动目的",
            "为深入贯彻落实劳动法律法规，弘扬劳模精神、劳动精神、工匠精神，激发广大职工"
            "学技术、练本领的热情[1]，市总工会决定举办2026年职工劳动技能竞赛。",
            ("《中华人民共和国劳动法》第六十八条",),
        ),
        ExportSection(
            "二、组织机构",
            "## 主办单位\n某某市总工会。\n\n## 承办单位\n各区总工会、市各产业工会。",
        ),
        ExportSection(
            "竞赛安排",
            "### 竞赛项目\n- 电工\n- **焊工**\n- 数控车工\n\n### 时间安排\n"
            "1. 2026年3月31日前，各单位完成初赛[1]\n2. 2026年5月，举行全市决赛\n\n"
            "| 阶段 | 时间 |\n|---|---|\n| 初赛 | 3月 |\n| 决赛 | 5月 |",
            ("《中华人民共和国工会法》第三十一条",),
        ),
        ExportSection(
            "工作要求",
            "（一）加强组织领导。各单位要高度重视，精心组织。\n"
            "（二）确保安全。竞赛期间要落实安全措施，确保活动安全有序。",
        ),
    ),
)

NOTICE = OfficialDocument(
    title="关于开展2026年全市职工春季健步走活动的通知",
    issuer="某某市总工会",
    date=datetime.date(2026, 12, 4),
    recipient="各区总工会，市各产业工会",
    sections=(
        ExportSection(
            "活动时间和地点",
            "2026年4月18日上午9时，市民公园南门集合。",
        ),
        ExportSection(
            "参加对象",
            "全市在职职工，以工会小组为单位报名，每组不超过20人。",
        ),
        ExportSection(
            "有关要求",
            "请各单位于2026年4月10日前将报名表报送市总工会宣教部。参加人员应着运动服装，"
            "量力而行，注意安全[1]。",
            ("《工会法》第三十一条",),
        ),
    ),
)

LABEL_ID = "draft-42"


def _mm(length: Length | None) -> float:
    assert length is not None
    return float(length.mm)


def _read(doc: OfficialDocument) -> DocxDocument:
    return Document(io.BytesIO(build_docx(doc)))


def _east_asian(paragraph: Paragraph) -> set[str]:
    return {_east_asian_of(run) for run in paragraph.runs if run.text.strip()}


def _starting(document: DocxDocument, prefix: str) -> Paragraph:
    return next(p for p in document.paragraphs if p.text.startswith(prefix))


def _custom_properties(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        if "docProps/custom.xml" not in package.namelist():
            return {}
        root = etree.fromstring(package.read("docProps/custom.xml"))
        types = package.read("[Content_Types].xml").decode()
        rels = package.read("_rels/.rels").decode()
    assert "application/vnd.openxmlformats-officedocument.custom-properties+xml" in types
    assert "relationships/custom-properties" in rels
    return {prop.get("name"): "".join(prop.itertext()) for prop in root}


def test_page_is_a4_with_the_standards_margins_and_line_grid() -> None:
    document = _read(PLAN)
    section = document.sections[0]
    width, height = _mm(section.page_width), _mm(section.page_height)
    top, bottom = _mm(section.top_margin), _mm(section.bottom_margin)
    left, right = _mm(section.left_margin), _mm(section.right_margin)
    assert (width, height) == pytest.approx((210, 297), abs=0.1)
    assert (top, left, right, bottom) == pytest.approx((37, 28, 26, 35), abs=0.1)
    # The text block: 156 × 225 mm.
    assert (width - left - right, height - top - bottom) == pytest.approx((156, 225), abs=0.1)
    # Chinese, not the Japanese of python-docx's template, for line breaking and theme fonts.
    assert document.settings.element.xpath("./w:themeFontLang/@w:eastAsia") == ["zh-CN"]
    assert document.styles.element.xpath("./w:docDefaults//w:lang/@w:eastAsia") == ["zh-CN"]
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:linePitch")) == "579"  # 225 mm / 22 lines, in twips


def test_title_is_2hao_xiaobiaosong_centred() -> None:
    document = _read(PLAN)
    title = document.paragraphs[0]
    assert title.text.replace("\n", "") == PLAN.title
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert {run.font.size for run in title.runs if run.text} == {Pt(22)}
    assert _east_asian(title) == {"方正小标宋简体"}


def test_a_long_title_breaks_between_words_into_balanced_lines() -> None:
    lines = title_lines(NOTICE.title)
    assert "".join(lines) == NOTICE.title
    assert len(lines) == 2
    widths = [text_width(line) for line in lines]
    assert max(widths) <= 20 and abs(widths[0] - widths[1]) <= 2
    assert title_lines("关于开展春游活动的通知") == ["关于开展春游活动的通知"]


def test_headings_take_the_fonts_of_their_levels() -> None:
    document = _read(PLAN)
    assert _east_asian(_starting(document, "一、活动目的")) == {"黑体"}
    # Numbered by position when the heading has no number; kept when it has.
    assert [
        p.text for p in document.paragraphs if p.text[:2] in ("一、", "二、", "三、", "四、")
    ] == [
        "一、活动目的",
        "二、组织机构",
        "三、竞赛安排",
        "四、工作要求",
    ]
    # Markdown sub-headings become （一）… in 楷体.
    assert _east_asian(_starting(document, "（一）主办单位")) == {"楷体_GB2312"}
    assert _east_asian(_starting(document, "（二）承办单位")) == {"楷体_GB2312"}
    # A numbered line keeps its heading phrase in 楷体 and the rest in 仿宋.
    line = _starting(document, "（一）加强组织领导。")
    assert [(run.text, _east_asian_of(run)) for run in line.runs] == [
        ("（一）加强组织领导。", "楷体_GB2312"),
        ("各单位要高度重视，精心组织。", "仿宋_GB2312"),
    ]
    # A list under （一） is the third level, 1. in 仿宋.
    assert _east_asian(_starting(document, "1.电工")) == {"仿宋_GB2312"}
    assert _starting(document, "3.数控车工")


def _east_asian_of(run: Run) -> str:
    return str(run._r.xpath("./w:rPr/w:rFonts/@w:eastAsia")[0])


def test_body_is_3hao_fangsong_indented_two_characters() -> None:
    document = _read(PLAN)
    body = _starting(document, "为深入贯彻落实")
    assert {run.font.size for run in body.runs} == {Pt(16)}
    assert _east_asian(body) == {"仿宋_GB2312"}
    assert body.paragraph_format.first_line_indent == Pt(32)
    assert body.paragraph_format.line_spacing == Pt(28.95)
    assert body.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
    # Word's own measure of the indent: two characters.
    assert body._p.xpath("./w:pPr/w:ind/@w:firstLineChars") == ["200"]


def test_markdown_is_parsed_not_copied() -> None:
    document = _read(PLAN)
    text = "\n".join(p.text for p in document.paragraphs)
    assert "**" not in text and "##" not in text and "|---" not in text
    welder = _starting(document, "2.焊工")
    assert [run.text for run in welder.runs if run.bold] == ["焊工"]
    table = document.tables[0]
    assert [[cell.text for cell in row.cells] for row in table.rows] == [
        ["阶段", "时间"],
        ["初赛", "3月"],
        ["决赛", "5月"],
    ]


def test_citations_are_numbered_across_the_document_and_listed_at_the_end() -> None:
    document = _read(PLAN)
    texts = [p.text for p in document.paragraphs]
    start = texts.index("附：参考依据")
    assert texts[start + 1 : start + 3] == [
        "1.《中华人民共和国劳动法》第六十八条",
        "2.《中华人民共和国工会法》第三十一条",
    ]
    # The heading is never left alone at the foot of a page: it keeps with its first source.
    assert document.paragraphs[start].paragraph_format.keep_with_next
    # Section three's own [1] is the document's second source.
    line = _starting(document, "1.2026年3月31日前")
    marks = [run for run in line.runs if run.text == "[2]"]
    assert marks and marks[0].font.superscript


def test_signature_and_date_in_arabic_numerals_at_the_end_right_aligned() -> None:
    document = _read(NOTICE)
    texts = [p.text for p in document.paragraphs]
    date = texts.index("2026年12月4日")
    assert texts[date - 1] == "某某市总工会"
    assert texts[date - 2] == ""  # 正文下空一行
    for index in (date - 1, date):
        assert document.paragraphs[index].alignment == WD_ALIGN_PARAGRAPH.RIGHT
    signature, dated = document.paragraphs[date - 1], document.paragraphs[date]
    # The date's first character two characters right of the signature's (no seal, 7.3.5.2).
    signature_start = signature.paragraph_format.right_indent.pt / 16 + text_width("某某市总工会")
    date_start = dated.paragraph_format.right_indent.pt / 16 + text_width("2026年12月4日")
    assert signature_start - date_start == pytest.approx(2)
    assert dated.paragraph_format.right_indent.pt >= 32


def test_recipient_line_follows_the_title() -> None:
    document = _read(NOTICE)
    texts = [p.text for p in document.paragraphs]
    assert texts[1] == ""
    assert texts[2] == "各区总工会，市各产业工会："
    assert document.paragraphs[2].paragraph_format.first_line_indent in (None, 0)


def test_page_numbers_in_odd_and_even_footers() -> None:
    document = _read(PLAN)
    assert document.settings.odd_and_even_pages_header_footer
    section = document.sections[0]
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == align
        instructions = [i.text.strip() for i in paragraph._p.iter(qn("w:instrText"))]
        assert instructions == ["PAGE"]
        assert paragraph.text == "— 1 —"
        assert {run.font.size for run in paragraph.runs} == {Pt(14)}
        assert _east_asian(paragraph) == {"宋体"}


def test_fonts_table_gives_word_fallbacks() -> None:
    data = build_docx(PLAN)
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        table = etree.fromstring(package.read("word/fontTable.xml"))
    alt = {
        font.get(qn("w:name")): font.find(qn("w:altName")).get(qn("w:val"))
        for font in table
        if font.find(qn("w:altName")) is not None
    }
    assert alt["仿宋_GB2312"] == "仿宋" and alt["楷体_GB2312"] == "楷体"
    assert "方正小标宋简体" in alt


def test_a_labelled_document_carries_the_visible_and_the_implicit_label() -> None:
    label = aigc.implicit_label(LABEL_ID)
    labelled = OfficialDocument(**{**PLAN.__dict__, "ai_label": label})
    data = build_docx(labelled)
    document = Document(io.BytesIO(data))
    texts = [p.text for p in document.paragraphs]
    date = texts.index("2026年12月4日")
    assert texts[date + 1] == f"（{aigc.VISIBLE_TEXT}）"  # the 附注 line under the date
    properties = _custom_properties(data)
    assert properties == {"AIGC": aigc.to_json(label)}
    read = aigc.read_json(properties["AIGC"])
    assert read is not None and read["ProduceID"] == LABEL_ID and aigc.is_ours(read)


def test_a_document_without_a_model_carries_no_label() -> None:
    data = build_docx(PLAN)
    document = Document(io.BytesIO(data))
    assert not any(aigc.VISIBLE_TEXT in p.text for p in document.paragraphs)
    assert _custom_properties(data) == {}
    assert "python-docx" not in (
        document.core_properties.author + document.core_properties.comments
    )
    assert document.core_properties.title == PLAN.title


def test_a_section_with_no_text_and_a_date_in_any_year() -> None:
    doc = OfficialDocument(
        title="短",
        issuer="",
        date=datetime.date(2027, 1, 9),
        sections=(ExportSection("说明", ""),),
    )
    texts = [p.text for p in _read(doc).paragraphs]
    assert "一、说明" in texts and texts[-1] == "2027年1月9日"


def test_control_characters_a_model_may_write_are_left_out() -> None:
    doc = OfficialDocument(
        title="控制\x0b字符",
        issuer="某某\x00市总工会",
        date=NOTICE.date,
        sections=(ExportSection("说明\x01", "第一段\x1f文字。", ("《工会法》\x08",)),),
    )
    texts = [p.text for p in _read(doc).paragraphs]
    assert texts[0] == "控制字符"
    assert {"一、说明", "第一段文字。", "某某市总工会", "1.《工会法》"} <= set(texts)


def test_lists_take_the_levels_below_the_last_heading() -> None:
    doc = OfficialDocument(
        title="清单",
        issuer="某某市总工会",
        date=NOTICE.date,
        sections=(
            ExportSection("准备", "1. 报名\n2. 集合\n   - 带水\n   - 带帽\n\n（五）其他事项"),
            ExportSection("分工", "3. 第三项\n4. 第四项"),
        ),
    )
    document = _read(doc)
    texts = [p.text for p in document.paragraphs]
    start = texts.index("一、准备")
    assert texts[start : start + 6] == [
        "一、准备",
        "（一）报名",
        "（二）集合",
        "1.带水",
        "2.带帽",
        "（五）其他事项",  # a number of its own is kept
    ]
    assert _east_asian(_starting(document, "（二）集合")) == {"楷体_GB2312"}
    start = texts.index("二、分工")
    assert texts[start + 1 : start + 3] == ["（三）第三项", "（四）第四项"]
