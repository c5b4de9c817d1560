"""规范检查: each rule on a text with a known fault, its place and its fix; a clean text: none."""

from __future__ import annotations

import pytest

from writer.conventions import Finding, check, chinese_number, parse_chinese_number

SIGNED = "\n\n某某市总工会\n2026年12月4日"

CLEAN = """关于开展职工春季健步走活动的通知

各区总工会：
一、活动目的
为丰富职工文化生活，增强职工体质，经研究，决定开展全市职工健步走活动。
二、活动安排
（一）活动时间
2026年5月1日上午9:00，全程约5公里，预计用时1.5小时。
（二）活动地点
1.集合地点：市民公园南门。
（1）各单位自行前往。
（2）注意交通安全。
2.依据《中华人民共和国劳动法》第四十四条的规定，活动不占用休息日。
三、工作要求
请各单位于2026年4月20日前报送名单。

某某市总工会
2026年12月4日
（本文部分内容由人工智能生成）"""


def _one(text: str, rule: str, **kwargs: object) -> Finding:
    found = [f for f in check(text, **kwargs) if f.rule == rule]  # type: ignore[arg-type]
    assert len(found) == 1, found
    return found[0]


def _applied(text: str, findings: list[Finding]) -> str:
    """The text with every fix applied, last first so the offsets hold."""
    for finding in sorted(findings, key=lambda f: f.start, reverse=True):
        text = text[: finding.start] + finding.fix + text[finding.end :]
    return text


def test_a_clean_document_has_no_findings() -> None:
    assert check(CLEAN) == []


def test_each_finding_names_its_line_column_and_span() -> None:
    text = "一、目的\n丰富职工生活,增强体质。" + SIGNED
    finding = _one(text, "halfwidth-punctuation")
    assert (finding.line, finding.column) == (2, 7)
    assert text[finding.start : finding.end] == ","
    assert finding.fix == "，"
    assert "全角" in finding.message


@pytest.mark.parametrize(
    ("text", "span", "fix"),
    [
        ("一.活动目的", "一.", "一、"),
        ("三， 注意事项", "三， ", "三、"),
        ("一、目的\n(一)时间", "(一)", "（一）"),
        ("一、目的\n（一）、时间", "（一）、", "（一）"),
        ("一、目的\n（一）时间\n1、报名", "1、", "1."),
        ("一、目的\n（一）时间\n1.报名\n(1)各单位", "(1)", "（1）"),
    ],
)
def test_heading_numbers_written_the_wrong_way(text: str, span: str, fix: str) -> None:
    finding = _one(text + SIGNED, "heading-marker-format")
    assert text[finding.start : finding.end] == span
    assert finding.fix == fix


def test_headings_out_of_order() -> None:
    text = "一、安排\n（二）时间\n（一）地点" + SIGNED
    found = [f for f in check(text) if f.rule == "heading-order"]
    assert [(text[f.start : f.end], f.fix) for f in found] == [
        ("（二）", "（一）"),
        ("（一）", "（二）"),
    ]
    assert check(_applied(text, found)) == []
    text = "一、目的\n三、要求" + SIGNED
    assert _one(text, "heading-order").fix == "二、"


def test_a_level_may_not_be_skipped() -> None:
    text = "一、安排\n1.报名时间" + SIGNED
    finding = _one(text, "heading-level-skipped")
    assert text[finding.start : finding.end] == "1."
    assert finding.fix == "（一）"
    assert "（一）" in finding.message


def test_a_passage_may_start_at_any_number() -> None:
    passage = "（三）确保安全。\n1.落实预案。\n2.配备医护人员。"
    assert check(passage, document=False) == []
    # A whole document starting at （三） is out of order.
    assert [f.rule for f in check(passage + SIGNED)] == ["heading-order"]


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        ("2026-12-4", "2026年12月4日"),
        ("2026/12/04", "2026年12月4日"),
        ("2026.5.1", "2026年5月1日"),
        ("2026年05月01日", "2026年5月1日"),
    ],
)
def test_dates_in_other_forms(written: str, fix: str) -> None:
    text = f"活动定于{written}举行。" + SIGNED
    finding = _one(text, "date-format")
    assert text[finding.start : finding.end] == written
    assert finding.fix == fix


def test_a_date_in_chinese_numerals() -> None:
    text = "一、总结\n工作已完成。\n\n某某市总工会\n二〇二六年十二月四日"
    finding = _one(text, "date-chinese-numerals")
    assert text[finding.start : finding.end] == "二〇二六年十二月四日"
    assert finding.fix == "2026年12月4日"
    assert "阿拉伯数字" in finding.message
    # The signature block is there: only the numerals are wrong.
    assert [f.rule for f in check(text)] == ["date-chinese-numerals"]


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        ("职工;干部", "；"),
        ("是否参加?请回复", "？"),
        ("注意：安全!", "！"),
        ("工会(联合会)", "（"),
        ("活动结束.", "。"),
    ],
)
def test_half_width_punctuation_in_chinese_text(written: str, fix: str) -> None:
    finding = next(f for f in check(written + SIGNED) if f.rule == "halfwidth-punctuation")
    assert finding.fix == fix


def test_half_width_marks_between_digits_are_left_alone() -> None:
    assert check("上午9:00集合，全程3.5公里，比分为3,000。" + SIGNED) == []


def test_half_width_quotes_around_chinese() -> None:
    text = '请回复"收到"。' + SIGNED
    finding = _one(text, "halfwidth-punctuation")
    assert finding.fix == "“收到”"


def test_repeated_punctuation() -> None:
    fixes = [f.fix for f in check("大家好！！请准时参加。。。" + SIGNED)]
    assert fixes == ["！", "……"]


def test_full_width_digits_and_article_numbers() -> None:
    text = "依据《劳动法》第44条，２０２６年起执行。" + SIGNED
    assert {(f.rule, f.fix) for f in check(text)} == {
        ("article-number", "第四十四条"),
        ("fullwidth-digit", "2026"),
    }


@pytest.mark.time_machine("2026-06-18T12:00:00+08:00")
def test_a_document_without_date_or_signature() -> None:
    text = "一、目的\n丰富职工生活。"
    finding = _one(text, "date-missing")
    assert finding.start == finding.end == len(text)
    assert finding.fix.endswith("2026年6月18日")
    unsigned = "一、目的\n丰富职工生活。\n2026年12月4日"
    finding = _one(unsigned, "signature-missing")
    assert unsigned[finding.start :].startswith("2026年12月4日")
    # Neither is expected of a passage.
    assert check(text, document=False) == []


def test_remarks_and_an_attachment_list_may_follow_the_date() -> None:
    text = CLEAN + "\n\n附：参考依据\n1.《工会法》第三十一条"
    assert check(text) == []


def test_colloquial_and_forbidden_words() -> None:
    text = "咱们要把活动搞定，务必人人参加。" + SIGNED
    found = check(text, forbidden=("务必", ""))
    assert [(f.rule, text[f.start : f.end], f.fix) for f in found] == [
        ("colloquialism", "咱们", "我们"),
        ("colloquialism", "搞定", "完成"),
        ("forbidden-phrase", "务必", ""),
    ]


def test_applying_every_fix_leaves_a_clean_text() -> None:
    text = (
        "关于春游的通知\n一、目的\n咱们丰富职工生活,增强体质.\n二、安排\n"
        "活动定于2026-5-1举行，依据第3条执行。\n\n某某市总工会\n2026/12/04"
    )
    found = check(text)
    assert {f.rule for f in found} == {
        "colloquialism",
        "halfwidth-punctuation",
        "date-format",
        "article-number",
    }
    assert check(_applied(text, found)) == []


@pytest.mark.parametrize(
    ("n", "chinese"),
    [
        (1, "一"),
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (44, "四十四"),
        (105, "一百零五"),
        (110, "一百一十"),
    ],
)
def test_chinese_numbers(n: int, chinese: str) -> None:
    assert chinese_number(n) == chinese
    assert parse_chinese_number(chinese) == n
