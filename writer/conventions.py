"""规范检查: a text against the conventions of official documents, without a model.

The conventions are those of GB/T 9704-2012 (党政机关公文格式), 《党政机关公文处理工作条例》 and
GB/T 15835-2011 (出版物上数字用法) and GB/T 15834-2011 (标点符号用法) that a draft gets wrong
most often. Each `Finding` names its place (line and column from 1, offsets into the text) and
`fix`, the text to put in place of `text[start:end]` (an empty span at the end when something is
missing), so a page can show it and apply it. Rule codes are stable:

heading-marker-format   一. / (一) / 1、 / (1) instead of 一、 （一） 1. （1） (7.3.3)
heading-order           a number out of sequence at its level: （二） before （一）, 一、 then 三、
heading-level-skipped   a level below its parent's child level: 1. directly under 一、. The
                        standard numbers the levels 一、（一）1.（1）"依次" (in order); many
                        offices write 1. under 一、 in short texts, but the standard's wording
                        does not allow it, so it is flagged (the text still exports as written)
date-format             2026-12-4, 2026/12/04, 2026.12.4, 2026年05月04日 → 2026年12月4日
date-chinese-numerals   二〇二六年十二月四日: 成文日期 is written in Arabic numerals (7.3.5.1),
                        and GB/T 15835 prefers them for dates in text too
halfwidth-punctuation   , ; : ? ! ( ) . " beside Chinese text → ，；：？！（）。“” (GB/T 15834)
repeated-punctuation    ！！ 。。 ，， and ... / 。。。 for the ellipsis ……
fullwidth-digit         ２０２６ → 2026 (GB/T 15835: Arabic numerals are half-width)
article-number          第3条 → 第三条: articles, paragraphs and chapters of a law are cited as
                        the law numbers them, in Chinese numerals
date-missing            no 成文日期 at the end (a whole document only)
signature-missing       no 发文机关署名 above the 成文日期 (a whole document only)
colloquialism           colloquial words (咱们, 啥, 搞定 …) with their formal counterparts
forbidden-phrase        a phrase the template's style guide forbids
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.utils import timezone

# --- numbering and dates, shared with the exporter -----------------------------------------

_DIGITS = "零一二三四五六七八九"
_CN = "[一二三四五六七八九十百零〇]+"
LEVEL_MARKERS = (
    (1, re.compile(rf"^({_CN})、")),
    (2, re.compile(rf"^（({_CN})）")),
    (3, re.compile(r"^([0-9]{1,3})[.．](?![0-9])")),
    (4, re.compile(r"^（([0-9]{1,3})）")),
)


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 21 → 二十一, 105 → 一百零五, 110 → 一百一十 (below 1000)."""
    if n < 10:
        return _DIGITS[n]
    if n < 100:
        tens, units = divmod(n, 10)
        return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[units] if units else "")
    hundreds, rest = divmod(n, 100)
    head = _DIGITS[hundreds] + "百"
    if not rest:
        return head
    if rest < 10:
        return head + "零" + _DIGITS[rest]
    tens, units = divmod(rest, 10)
    return head + _DIGITS[tens] + "十" + (_DIGITS[units] if units else "")


def parse_chinese_number(text: str) -> int | None:
    """一 → 1, 十一 → 11, 二十 → 20, 一百零五 → 105; None for anything else."""
    values = {ch: i for i, ch in enumerate(_DIGITS)} | {"〇": 0}
    total, current = 0, 0
    for ch in text:
        if ch in values:
            current = values[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def level_marker(level: int, n: int) -> str:
    """The number of the n-th heading at a level: 一、 （一） 1. （1）, then ① … below them."""
    if level == 1:
        return f"{chinese_number(n)}、"
    if level == 2:
        return f"（{chinese_number(n)}）"
    if level == 3:
        return f"{n}."
    if level == 4:
        return f"（{n}）"
    return chr(0x2460 + n - 1) if 1 <= n <= 20 else f"{n})"


def parse_marker(text: str) -> tuple[int, int] | None:
    """The level and the number of the heading number a line starts with: （二）… → (2, 2)."""
    for level, pattern in LEVEL_MARKERS:
        found = pattern.match(text)
        if found:
            number = _number_of(level, found.group(1))
            return None if number is None else (level, number)
    return None


def marker_level(text: str) -> int | None:
    """The level of the number a line starts with, if it starts with one."""
    parsed = parse_marker(text)
    return parsed[0] if parsed else None


def format_date(date: datetime.date) -> str:
    """成文日期 in Arabic numerals, no leading zeros: 2026年12月4日 (GB/T 9704-2012 7.3.5.1)."""
    return f"{date.year}年{date.month}月{date.day}日"


# --- findings ------------------------------------------------------------------------------


@dataclass
class Finding:
    line: int  # from 1
    column: int  # from 1, in characters
    start: int  # offsets into the text: text[start:end] is the span found
    end: int
    rule: str
    message: str
    fix: str  # what to put in place of text[start:end]


_HAN = r"\u3400-\u9fff\uf900-\ufaff"
_CJK = f"[{_HAN}，。、；：？！（）《》“”‘’【】…—]"
_HALF_TO_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_HALF_PUNCT = re.compile(
    rf"(?<={_CJK})[,;:?!()]|[,;:?!()](?={_CJK})|(?<=[{_HAN}])\.(?=\s|$|{_CJK})"
)
_HALF_QUOTES = re.compile(rf'"([^"\n]*[{_HAN}][^"\n]*)"')
_REPEATED = re.compile(r"([！？。，、；：])\1+|\.{3,}|。{3,}")
_FULLWIDTH_DIGITS = re.compile(r"[０-９]+")
_ARTICLE = re.compile(r"第([0-9]+)(条|款|章|节|项)")
_DATE_NUMERIC = re.compile(r"(?<![0-9])(\d{4})\s*([-/.])\s*(\d{1,2})\s*\2\s*(\d{1,2})(?![0-9])")
_DATE_ZERO = re.compile(r"(?<![0-9])(\d{4})年(0?\d{1,2})月(0?\d{1,2})日")
_DATE_CHINESE = re.compile(
    r"[〇零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月(?:[一二三四五六七八九十]{1,3}日)?"
)
_DATE_LINE = re.compile(
    r"^\s*(?:\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}([-/.])\d{1,2}\1\d{1,2}|"
    r"[〇零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,3}月[一二三四五六七八九十]{1,3}日)\s*$"
)
_NOTE_LINE = re.compile(r"^\s*[（(].*[）)]\s*$")
_SENTENCE_END = "。；;，,：:！？!?"
_LINE_PREFIX = re.compile(r"^[ \t\u3000]*(?:#{1,6}[ \t]+|[-*+][ \t]+)?")
# Numbers as drafts get them wrong: the wrong form's pattern, its level, the number's kind.
_SPACES = r"[ \t\u3000]*"
_BAD_MARKERS = (
    (re.compile(rf"^({_CN})[.．，,](?![0-9]){_SPACES}"), 1),
    (re.compile(rf"^(?:[(（]({_CN})[)）][、.．]|\(({_CN})[)）]|（({_CN})\)){_SPACES}"), 2),
    (re.compile(rf"^([0-9]{{1,3}})[、，,](?![0-9]){_SPACES}"), 3),
    (
        re.compile(
            rf"^(?:[(（]([0-9]{{1,3}})[)）][、.．]|\(([0-9]{{1,3}})[)）]|（([0-9]{{1,3}})\)){_SPACES}"
        ),
        4,
    ),
)

# Colloquial words that have no place in a 公文, with their formal counterparts.
COLLOQUIALISMS: dict[str, str] = {
    "咱们": "我们",
    "咱": "我们",
    "啥": "什么",
    "咋": "怎么",
    "俺": "我",
    "大伙儿": "大家",
    "大家伙": "大家",
    "搞定": "完成",
    "靠谱": "可靠",
    "给力": "有力",
    "忽悠": "误导",
    "挺好": "较好",
    "蛮好": "较好",
    "超级": "十分",
    "没啥": "没有",
    "反正": "总之",
    "差不多": "基本",
    "一大堆": "大量",
    "好多": "许多",
}


def check(text: str, *, forbidden: Sequence[str] = (), document: bool = True) -> list[Finding]:
    """Every finding in `text`, in the order they occur. `forbidden` are the style guide's
    phrases; `document=False` checks a passage (a selection, one section): no 成文日期 or
    signature is expected at its end, and its first number at a level may be any."""
    found = [
        *_headings(text, document),
        *_dates(text),
        *_punctuation(text),
        *_numbers(text),
        *_words(text, forbidden),
    ]
    if document:
        found.extend(_signature_block(text))
    markers = [f for f in found if f.rule == "heading-marker-format"]
    found = [  # a wrong heading number's fix already replaces its half-width marks
        f
        for f in found
        if f.rule != "halfwidth-punctuation"
        or not any(m.start <= f.start and f.end <= m.end for m in markers)
    ]
    return sorted(found, key=lambda f: (f.start, f.end, f.rule))


def _finding(text: str, start: int, end: int, rule: str, message: str, fix: str) -> Finding:
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Finding(line, column, start, end, rule, message, fix)


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """Each line with its offset, after any Markdown heading or bullet prefix."""
    offset = 0
    for raw in text.split("\n"):
        prefix = _LINE_PREFIX.match(raw)
        skip = prefix.end() if prefix else 0
        yield offset + skip, raw[skip:]
        offset += len(raw) + 1


def _number_of(level: int, digits: str) -> int | None:
    return int(digits) if level in (3, 4) else parse_chinese_number(digits)


def _headings(text: str, document: bool) -> Iterator[Finding]:
    counters = {1: 0, 2: 0, 3: 0, 4: 0}
    last_level = 0
    for offset, line in _lines(text):
        if line.startswith("附"):  # 附件：1.… / 附：参考依据 numbers a list of its own
            counters = dict.fromkeys(counters, 0)
            last_level = 0
            continue
        level = None
        number = None
        for pattern, bad_level in _BAD_MARKERS:
            bad = pattern.match(line)
            if bad:
                level = bad_level
                digits = next(group for group in bad.groups() if group)
                number = _number_of(level, digits)
                if number is not None:
                    yield _finding(
                        text,
                        offset,
                        offset + bad.end(),
                        "heading-marker-format",
                        f"层次序数“{bad.group(0).strip()}”写法不规范，"
                        "应依次用“一、”“（一）”“1.”“（1）”（GB/T 9704-2012 7.3.3）。",
                        level_marker(level, number),
                    )
                break
        if level is None and (parsed := parse_marker(line)):
            level, number = parsed
        if level is None or number is None:
            continue
        marker_end = offset + len(level_marker(level, number))
        if last_level and level > last_level + 1:
            parent = last_level + 1
            yield _finding(
                text,
                offset,
                marker_end,
                "heading-level-skipped",
                f"“{level_marker(level, number)}”跳过了上一层次“{level_marker(parent, 1)}”："
                "层次序数应依次使用（GB/T 9704-2012 7.3.3）。",
                level_marker(parent, counters[parent] + 1),
            )
        expected = counters[level] + 1
        known = document or last_level or counters[level]
        if number != expected and known:
            yield _finding(
                text,
                offset,
                marker_end,
                "heading-order",
                f"层次序数顺序有误：此处应为“{level_marker(level, expected)}”，"
                f"而不是“{level_marker(level, number)}”。",
                level_marker(level, expected),
            )
            number = expected
        counters[level] = number
        for deeper in range(level + 1, 5):
            counters[deeper] = 0
        last_level = level


def _dates(text: str) -> Iterator[Finding]:
    for match in _DATE_NUMERIC.finditer(text):
        year, _sep, month, day = match.groups()
        if 1 <= int(month) <= 12 and 1 <= int(day) <= 31:
            fixed = f"{int(year)}年{int(month)}月{int(day)}日"
            yield _finding(
                text,
                match.start(),
                match.end(),
                "date-format",
                f"日期“{match.group(0)}”应写作“{fixed}”（年月日齐全，不加虚位 0）。",
                fixed,
            )
    for match in _DATE_ZERO.finditer(text):
        year, month, day = match.groups()
        if month.startswith("0") or day.startswith("0"):
            fixed = f"{year}年{int(month)}月{int(day)}日"
            yield _finding(
                text,
                match.start(),
                match.end(),
                "date-format",
                f"日期“{match.group(0)}”的月、日不编虚位，应写作“{fixed}”。",
                fixed,
            )
    for match in _DATE_CHINESE.finditer(text):
        fixed = _arabic_date(match.group(0))
        yield _finding(
            text,
            match.start(),
            match.end(),
            "date-chinese-numerals",
            f"日期“{match.group(0)}”应使用阿拉伯数字：成文日期须写作“{fixed}”"
            "（GB/T 9704-2012 7.3.5.1）。",
            fixed,
        )


def _arabic_date(chinese: str) -> str:
    year_part, rest = chinese.split("年", 1)
    year = "".join(str(_DIGITS.index(ch)) if ch in _DIGITS else "0" for ch in year_part)
    month_part, _, day_part = rest.partition("月")
    month = parse_chinese_number(month_part)
    out = f"{year}年{month}月"
    if day_part:
        out += f"{parse_chinese_number(day_part.rstrip('日'))}日"
    return out


def _punctuation(text: str) -> Iterator[Finding]:
    for match in _HALF_PUNCT.finditer(text):
        mark = match.group(0)
        fixed = _HALF_TO_FULL.get(mark, "。")
        yield _finding(
            text,
            match.start(),
            match.end(),
            "halfwidth-punctuation",
            f"中文文本中应使用全角标点“{fixed}”，而不是半角“{mark}”。",
            fixed,
        )
    for match in _HALF_QUOTES.finditer(text):
        yield _finding(
            text,
            match.start(),
            match.end(),
            "halfwidth-punctuation",
            "中文文本中的引号应使用全角“”。",
            f"“{match.group(1)}”",
        )
    for match in _REPEATED.finditer(text):
        mark = match.group(0)
        fixed = "……" if mark[0] in ".。" and len(mark) >= 3 else mark[0]
        yield _finding(
            text,
            match.start(),
            match.end(),
            "repeated-punctuation",
            f"标点“{mark}”不规范：公文不叠用标点，省略号写作“……”。",
            fixed,
        )


def _numbers(text: str) -> Iterator[Finding]:
    for match in _FULLWIDTH_DIGITS.finditer(text):
        fixed = "".join(chr(ord(ch) - 0xFF10 + 0x30) for ch in match.group(0))
        yield _finding(
            text,
            match.start(),
            match.end(),
            "fullwidth-digit",
            f"阿拉伯数字应使用半角：“{match.group(0)}”写作“{fixed}”（GB/T 15835-2011）。",
            fixed,
        )
    for match in _ARTICLE.finditer(text):
        number, unit = match.groups()
        fixed = f"第{chinese_number(int(number))}{unit}"
        yield _finding(
            text,
            match.start(),
            match.end(),
            "article-number",
            f"引用法规条款应与原文一致，使用汉字数字：“{match.group(0)}”写作“{fixed}”。",
            fixed,
        )


def _words(text: str, forbidden: Sequence[str]) -> Iterator[Finding]:
    for word, formal in COLLOQUIALISMS.items():
        for match in re.finditer(re.escape(word), text):
            if word == "咱" and text.startswith("咱们", match.start()):
                continue
            yield _finding(
                text,
                match.start(),
                match.end(),
                "colloquialism",
                f"“{word}”是口语，公文宜用“{formal}”。",
                formal,
            )
    for phrase in dict.fromkeys(p.strip() for p in forbidden):
        if not phrase:
            continue
        for match in re.finditer(re.escape(phrase), text):
            yield _finding(
                text,
                match.start(),
                match.end(),
                "forbidden-phrase",
                f"“{phrase}”是本模板写作要求中禁止的用语，请删去或改写。",
                "",
            )


def _signature_block(text: str) -> Iterator[Finding]:
    """The 成文日期 on the last line (after it only 附注 in parentheses or an 附 list) and the
    发文机关署名 on the line above it (GB/T 9704-2012 7.3.5)."""
    lines = list(_raw_lines(text))
    while lines and (not lines[-1][1].strip() or _NOTE_LINE.match(lines[-1][1])):
        lines.pop()
    attached = [i for i, (_, line) in enumerate(lines) if line.lstrip().startswith("附")]
    dated = [i for i, (_, line) in enumerate(lines) if _DATE_LINE.match(line)]
    if attached and (not dated or attached[-1] > dated[-1]):
        lines = lines[: attached[-1]]
        while lines and (not lines[-1][1].strip() or _NOTE_LINE.match(lines[-1][1])):
            lines.pop()
    today = format_date(timezone.localdate())
    if not lines or not _DATE_LINE.match(lines[-1][1]):
        end = len(text.rstrip())
        yield _finding(
            text,
            end,
            end,
            "date-missing",
            "文末缺少成文日期：应在发文机关署名下一行写明，如“"
            + today
            + "”（GB/T 9704-2012 7.3.5）。",
            f"\n\n××工会\n{today}",
        )
        return
    date_offset = lines[-1][0]
    above = lines[-2][1].strip() if len(lines) > 1 else ""
    if not above or above[-1] in _SENTENCE_END or len(above) > 30 or marker_level(above):
        yield _finding(
            text,
            date_offset,
            date_offset,
            "signature-missing",
            "成文日期上一行应为发文机关署名（GB/T 9704-2012 7.3.5）。",
            "××工会\n",
        )


def _raw_lines(text: str) -> Iterator[tuple[int, str]]:
    offset = 0
    for raw in text.split("\n"):
        yield offset, raw
        offset += len(raw) + 1
