"""The PDF made by a real LibreOffice from the exported .docx: labels, fonts, layout, failures."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import threading
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from portal import aigc
from tests.writer.test_export_docx import NOTICE, PLAN
from writer.export import ExportSection, OfficialDocument
from writer.export.docx import build_docx
from writer.export.pdf import PdfFailed, PdfUnavailable, docx_to_pdf

pytestmark = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice and poppler-utils are installed by make setup",
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


def _labelled(doc: OfficialDocument, produce_id: str = "draft-7") -> OfficialDocument:
    return OfficialDocument(**{**doc.__dict__, "ai_label": aigc.implicit_label(produce_id)})


def _pdf(doc: OfficialDocument) -> bytes:
    return docx_to_pdf(build_docx(doc), ai_label=doc.ai_label)


def _pages(pdf: bytes) -> list[str]:
    """The text of each page as pdftotext lays it out (poppler, not pypdf: it keeps lines)."""
    result = subprocess.run(
        ["pdftotext", "-layout", "-", "-"],  # noqa: S607
        input=pdf,
        capture_output=True,
        check=True,
    )
    return result.stdout.decode().split("\f")[:-1]


def _page_number(page: str) -> str:
    """The footer line of a page, without the spaces pdftotext may or may not see."""
    return [line for line in page.splitlines() if line.strip()][-1]


def _fonts(reader: PdfReader) -> dict[str, bool]:
    """Each font of each page: its name and whether its glyphs are embedded."""
    fonts: dict[str, bool] = {}
    for page in reader.pages:
        resources = page["/Resources"].get_object()
        assert isinstance(resources, DictionaryObject)
        for ref in resources.get("/Font", DictionaryObject()).get_object().values():
            font = ref.get_object()
            descriptor = font.get("/FontDescriptor")
            if descriptor is None and "/DescendantFonts" in font:
                descriptor = font["/DescendantFonts"][0].get_object().get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor is not None else {}
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[str(font["/BaseFont"])] = embedded
    return fonts


def test_the_pdf_carries_the_implicit_label_in_its_info() -> None:
    doc = _labelled(NOTICE)
    reader = PdfReader(io.BytesIO(_pdf(doc)))
    assert doc.ai_label is not None
    assert reader.metadata is not None
    assert str(reader.metadata["/AIGC"]) == aigc.to_json(doc.ai_label)
    read = aigc.read_json(str(reader.metadata["/AIGC"]))
    assert read is not None and read["ProduceID"] == "draft-7" and aigc.is_ours(read)
    # LibreOffice's own Info is kept beside it.
    assert str(reader.metadata.title) == NOTICE.title
    assert aigc.VISIBLE_TEXT in "".join(_pages(_pdf(doc))).replace(" ", "")


def test_a_pdf_without_a_model_has_no_label() -> None:
    pdf = _pdf(NOTICE)
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is None or "/AIGC" not in reader.metadata
    assert aigc.VISIBLE_TEXT not in "".join(_pages(pdf)).replace(" ", "")


def test_cjk_glyphs_are_embedded_from_the_fontconfig_substitutes() -> None:
    fonts = _fonts(PdfReader(io.BytesIO(_pdf(PLAN))))
    assert fonts and all(fonts.values()), fonts
    names = " ".join(fonts)
    # 方正小标宋简体 → Noto Serif CJK Bold, 仿宋 → Noto Serif CJK, 黑体 → Noto Sans CJK,
    # 楷体 → AR PL UKai (writer/export/fonts.conf).
    assert "NotoSerifCJK" in names and "Bold" in names
    assert "NotoSansCJK" in names
    assert "UKai" in names


def test_pages_hold_22_lines_of_28_characters() -> None:
    sentence = "职工是工会工作的主体力量"  # 12 characters, no digits or Latin letters
    doc = OfficialDocument(
        title="版面测试",
        issuer="某某市总工会",
        date=NOTICE.date,
        sections=(
            ExportSection("长段落", sentence * 12),
            ExportSection("逐行", "\n".join(f"第{n}行文字" for n in "一二三四五六七八九十" * 6)),
        ),
    )
    first, second, *_rest = _pages(_pdf(doc))
    paragraph = [line.strip() for line in first.splitlines() if sentence[:4] in line]
    # The first line is indented two characters; the full ones after it hold 28 characters.
    assert len(paragraph[0].replace(" ", "")) == 26
    assert {len(line.replace(" ", "")) for line in paragraph[1:-1]} == {28}
    lines = [line for line in second.splitlines() if line.strip()]
    assert _page_number(second).replace(" ", "") == "—2—"
    assert len(lines[:-1]) == 22


def test_punctuation_at_the_end_of_a_line_is_in_the_pdf() -> None:
    """A 、 or 。 that falls after the 28th character of a line is in the PDF: LibreOffice hung
    it in the margin of the justified line and never drew it (劳动模范、先进工作者 came out as
    劳动模范 / 先进工作者). And no line starts with a closing mark."""
    text = (
        "对在劳动竞赛中表现突出的职工，优先安排劳动模范、先进工作者、一线职工参加疗休养。"
        "各单位要高度重视、认真组织、确保安全，严格遵守纪律、注意安全、服从安排。"
        "疗休养经费从工会经费中列支，人均标准不得超过规定。请各单位报送名单、联系人、"
        "联系电话等材料。活动结束后要总结经验、查找不足、改进工作，形成书面材料。"
    )
    # The same text pushed along a character at a time puts a mark at the end of some line
    # whatever the fonts' widths.
    paragraphs = ["根据市总工会的统一部署"[:shift] + text for shift in range(8)]
    doc = OfficialDocument(
        title="标点测试",
        issuer="某某市总工会",
        date=NOTICE.date,
        sections=(ExportSection("标点", "\n".join(paragraphs)),),
    )
    pages = _pages(_pdf(doc))
    lines = [
        line.strip()
        for page in pages
        for line in page.splitlines()
        if line.strip() and line != _page_number(page)
    ]
    assert not [line for line in lines if line[0] in "，。、；：？！）》”’」』"], lines
    body = re.sub(r"\s+", "", "".join(lines))
    source = "".join(paragraphs)
    for mark in "、。，":
        assert body.count(mark) >= source.count(mark), mark
    for paragraph in paragraphs:
        assert paragraph in body


def _words(pdf: bytes) -> list[list[tuple[float, float, str]]]:
    """Each page's words as (x, y, text) of their boxes' top left corner (pdftotext -bbox)."""
    result = subprocess.run(
        ["pdftotext", "-bbox", "-", "-"],  # noqa: S607
        input=pdf,
        capture_output=True,
        check=True,
    )
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)"[^>]*>([^<]*)</word>')
    return [
        [(float(x), float(y), text) for x, y, text in word.findall(page)]
        for page in result.stdout.decode().split("<page ")[1:]
    ]


def test_the_date_starts_two_characters_right_of_the_signature() -> None:
    words = _words(_pdf(NOTICE))[0]
    x, y = next((x, y) for x, y, text in words if text == NOTICE.issuer)
    date_y = min(other for _x, other, _t in words if other > y + 1)
    date = sorted((x, text) for x, other, text in words if other == date_y)
    assert "".join(text for _x, text in date) == "2026年12月4日"
    # 2 characters of 3号 condensed by 0.25 pt.
    assert date[0][0] - x == pytest.approx(2 * 15.75, abs=3)


def test_page_numbers_alternate_right_and_left() -> None:
    doc = OfficialDocument(
        title="页码测试",
        issuer="某某市总工会",
        date=NOTICE.date,
        sections=(ExportSection("内容", "\n".join("一行" for _ in range(50))),),
    )
    pages = _words(_pdf(doc))
    width = 595.3  # A4
    for number, page in enumerate(pages[:2], start=1):
        dashes = [x for x, _y, text in page if text == "—"]
        assert len(dashes) == 2, page[-5:]
        left, right = dashes
        if number % 2:  # odd: at the right, one character (14 pt) from the text block's edge
            assert right == pytest.approx(width - 26 / 25.4 * 72 - 14 - 14, abs=3)
        else:  # even: at the left, one character in
            assert left == pytest.approx(28 / 25.4 * 72 + 14, abs=3)


def test_libreoffice_reads_the_aigc_custom_property() -> None:
    doc = _labelled(PLAN)
    assert doc.ai_label is not None
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "plan.docx"
        source.write_bytes(build_docx(doc))
        subprocess.run(  # noqa: S603
            [  # noqa: S607
                "soffice",
                f"-env:UserInstallation={(Path(tmp) / 'profile').as_uri()}",
                "--headless",
                "--convert-to",
                "odt",
                "--outdir",
                tmp,
                str(source),
            ],
            capture_output=True,
            check=True,
            timeout=120,
        )
        with zipfile.ZipFile(Path(tmp) / "plan.odt") as odt:
            meta = odt.read("meta.xml").decode()
    found = re.search(r'<meta:user-defined meta:name="AIGC"[^>]*>([^<]*)<', meta)
    assert found is not None
    value = found.group(1).replace("&quot;", '"')
    assert value == aigc.to_json(doc.ai_label)


def test_pdf_export_says_so_when_libreoffice_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PdfUnavailable) as raised:
        docx_to_pdf(build_docx(NOTICE), ai_label=None)
    assert "LibreOffice" in raised.value.message and "PDF" in raised.value.message


def test_a_conversion_that_runs_out_of_time_fails_and_leaves_no_process() -> None:
    with pytest.raises(PdfFailed) as raised:
        docx_to_pdf(build_docx(PLAN), ai_label=None, timeout=0.05)
    assert "超时" in raised.value.message
    running = subprocess.run(["ps", "-eo", "args"], capture_output=True, check=True)  # noqa: S607
    assert "writer-pdf-" not in running.stdout.decode()


def test_a_file_libreoffice_cannot_read_fails_clearly() -> None:
    broken = build_docx(PLAN)[:2000]  # a .docx cut short: its zip directory is gone
    with pytest.raises(PdfFailed) as raised:
        docx_to_pdf(broken, ai_label=None)
    assert "PDF 转换失败" in raised.value.message


def test_concurrent_conversions_each_use_their_own_profile() -> None:
    results: dict[int, bytes] = {}

    def convert(n: int) -> None:
        results[n] = _pdf(_labelled(NOTICE, f"draft-{n}"))

    threads = [threading.Thread(target=convert, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert sorted(results) == [0, 1, 2]
    for n, pdf in results.items():
        metadata = PdfReader(io.BytesIO(pdf)).metadata
        assert metadata is not None
        assert aigc.read_json(str(metadata["/AIGC"]))["ProduceID"] == f"draft-{n}"  # type: ignore[index]


@pytest.mark.parametrize(("name", "doc"), [("plan", PLAN), ("notice", NOTICE)])
def test_first_pages_render(name: str, doc: OfficialDocument) -> None:
    """The first page as PNG (var/screenshots/writer-export-<name>.png) for a person to look at;
    here: it renders, and it shows the title and the page number."""
    pdf = _pdf(_labelled(doc))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"writer-export-{name}"
    subprocess.run(  # noqa: S603
        ["pdftoppm", "-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile", "-", str(target)],  # noqa: S607
        input=pdf,
        check=True,
    )
    assert target.with_suffix(".png").stat().st_size > 10_000
    first = _pages(pdf)[0]
    assert _page_number(first).replace(" ", "") == "—1—"
    assert doc.title[:6] in first.replace(" ", "")
