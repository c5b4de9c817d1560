"""From uploaded files to clean text and segments; every bad file gets a clear refusal."""

from __future__ import annotations

import io
import zipfile

import docx
import pytest
from pypdf import PdfWriter

from knowledge import ingest
from tests.knowledge.conftest import MINI_LAW


def test_a_law_is_split_by_article_with_its_title_and_chapter_as_context() -> None:
    segments = ingest.split(MINI_LAW, "中华人民共和国测试劳动法")
    assert [s.heading for s in segments] == ["第一条", "第二条", "第三条", "第四条", "第五条"]
    assert segments[2].context == "中华人民共和国测试劳动法 · 第二章 工作时间"
    assert segments[2].text.startswith("第三条 法定休假日")


def test_no_segment_is_longer_than_800_characters() -> None:
    long_article = "第一条 " + "用人单位应当依法支付劳动者工资。" * 120
    text = f"{long_article}\n第二条 短条文。\n第三条 短条文。"
    segments = ingest.split(text, "长法")
    assert max(len(s.text) for s in segments) <= ingest.MAX_SEGMENT_CHARS
    assert [s.heading for s in segments].count("第一条") > 1
    assert "".join(s.text for s in segments if s.heading == "第一条") == long_article


def test_print_extracted_news_is_joined_back_into_sentences() -> None:
    text = "东莞市总工会将特别招募100位\n职工会员参与内测。\n\n招募对象为已实名注册人会的\n\n会员。"
    body = ingest.clean_body(ingest.join_broken_lines(text))
    segments = ingest.split(body, "新闻")
    joined = "".join(s.text for s in segments)
    assert "特别招募100位职工会员参与内测。" in joined
    assert "已实名注册人会的会员。" in joined


def test_stray_spaces_between_chinese_characters_are_removed() -> None:
    assert ingest.join_broken_lines("习近平 总书记 视察\u3000广东。") == "习近平总书记视察广东。"


def test_gb18030_text_files_are_read() -> None:
    assert (
        ingest.extract("通知.txt", "工会会员大会通知".encode("gb18030")).text == "工会会员大会通知"
    )


def test_a_docx_keeps_its_headings_and_paragraphs() -> None:
    document = docx.Document()
    document.add_heading("困难职工帮扶办法", level=1)
    document.add_paragraph("申请人应当是工会会员。")
    buffer = io.BytesIO()
    document.save(buffer)
    text = ingest.extract("办法.docx", buffer.getvalue()).text
    assert "# 困难职工帮扶办法" in text
    assert "申请人应当是工会会员。" in text


def test_a_file_without_a_title_of_its_own_is_titled_by_its_first_line() -> None:
    document = docx.Document()
    document.add_heading("东莞市职工互助保障计划实施办法", level=0)  # the Title style
    document.add_paragraph("第一条 为了保障职工的合法权益，制定本办法。")
    buffer = io.BytesIO()
    document.save(buffer)
    assert ingest.extract("huzhu.docx", buffer.getvalue()).title == "东莞市职工互助保障计划实施办法"

    notice = "关于开展安全生产月活动的通知\n\n各基层工会：\n现将有关事项通知如下。".encode()
    assert ingest.extract("jiqi.txt", notice).title == "关于开展安全生产月活动的通知"


def test_a_tools_title_or_a_sentence_is_not_taken_for_the_documents_title() -> None:
    assert not ingest._made_up("困难职工帮扶办法", "huzhu.pdf")
    assert ingest._made_up("Microsoft Word - huzhu.docx", "huzhu.pdf")
    assert ingest._made_up("huzhu", "huzhu.pdf")
    # A letter opens with a sentence, a law text with its first article: no title line.
    assert ingest.title_line("各位会员：\n今年的体检安排如下。") == ""
    assert ingest.title_line("第一条 为了保护劳动者的合法权益，制定本法。") == ""


def test_html_is_reduced_to_text_without_scripts() -> None:
    page = (
        "<html><head><title>入会指南</title><script>alert('x')</script></head>"
        "<body><h1>如何入会</h1><p onclick='steal()'>填写入会申请书。</p>"
        "<script>document.cookie</script></body></html>"
    )
    extracted = ingest.extract("guide.html", page.encode())
    assert extracted.title == "入会指南"
    assert "填写入会申请书。" in extracted.text
    assert "alert" not in extracted.text and "cookie" not in extracted.text
    assert "<" not in extracted.text


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"0" * (ingest.MAX_UNPACKED_BYTES + 1))
    return buffer.getvalue()


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("law.exe", b"MZ...", "unsupported_type"),
        ("empty.txt", b"   \n ", "empty"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "corrupt"),
        ("broken.docx", b"PK\x03\x04 not a zip at all", "corrupt"),
        ("huge.txt", b"a" * (20 * 1024 * 1024 + 1), "too_large"),
        ("blank.pdf", None, "no_text"),
    ],
)
def test_bad_files_are_refused_with_a_reason(name: str, data: bytes | None, code: str) -> None:
    if data is None:
        writer = PdfWriter()
        writer.add_blank_page(width=200, height=200)
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    with pytest.raises(ingest.IngestError) as caught:
        ingest.extract(name, data)
    assert caught.value.code == code
    assert caught.value.message


def test_a_docx_that_unpacks_to_a_bomb_is_refused() -> None:
    with pytest.raises(ingest.IngestError) as caught:
        ingest.extract("bomb.docx", _zip_bomb())
    assert caught.value.code == "zip_bomb"


def test_an_encrypted_pdf_is_refused() -> None:
    with pytest.raises(ingest.IngestError) as caught:
        ingest.extract("secret.pdf", _encrypted_pdf())
    assert caught.value.code == "encrypted"
