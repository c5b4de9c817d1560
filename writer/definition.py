"""A template's definition: typed fields, the outline, the style guide; and the placeholder
filler.

Placeholders are `{{field}}` (spaces inside the braces allowed) and nothing else, filled by
`fill()` with one regular-expression pass: never the Django template engine, never
`str.format` on an editor's text. So `{% load %}`, `{0.__class__}` or a value that itself
contains `{{x}}` stay literal text. A `{{…}}` that is not a plain field name, or names no
field, is refused when the template is saved (`parse`).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from writer.errors import FieldErrors, WriterErrorCode

FIELD_TYPES = ("text", "long_text", "date", "number", "choice", "unit")
MAX_DECIMALS = 6  # a number field's `decimals`: 0 (the default) is a whole number
NUMBER_LIMIT = Decimal(10) ** 15  # beyond any sensible figure of a document, bounds or not
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]{0,39})\s*\}\}")
ANY_BRACES = re.compile(r"\{\{(.*?)\}\}", re.S)
DEFAULT_MAX = {"text": 200, "long_text": 5000, "unit": 100}
LONG_TEXT_LIMIT = 20_000
MAX_FIELDS = 30
MAX_SECTIONS = 20
MAX_TEXT = 20_000


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    type: str = "text"
    required: bool = True
    max_length: int | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    help: str = ""
    # A number field's decimal places: 0 (the default) takes whole numbers only (a year, days,
    # people); a sum of money says 2.
    decimals: int = 0

    @property
    def limit(self) -> int:
        return self.max_length or DEFAULT_MAX.get(self.type, 200)

    @property
    def step(self) -> str:
        """The HTML number input's step: "1" for a whole number, "0.01" for two places."""
        return "1" if self.decimals <= 0 else f"0.{'0' * (self.decimals - 1)}1"

    @property
    def min_text(self) -> str:
        return "" if self.min is None else _num(self.min)

    @property
    def max_text(self) -> str:
        return "" if self.max is None else _num(self.max)


@dataclass(frozen=True)
class Section:
    heading: str
    instruction: str = ""
    fixed_text: str = ""
    categories: tuple[str, ...] = ()
    length: int = 300


@dataclass(frozen=True)
class Definition:
    fields: tuple[Field, ...]
    sections: tuple[Section, ...]
    doc_title: str  # the document's title, with placeholders
    issuer: str = ""  # the issuing body (signature line), with placeholders
    recipient: str = ""  # 主送机关, with placeholders
    date_field: str = ""  # the field giving the 成文日期 (else the day of drafting)
    style_guide: str = ""
    forbidden: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """As stored: plain lists and objects (tuples would compare unequal to a reload)."""
        return dict(json.loads(json.dumps(asdict(self), ensure_ascii=False)))

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


def _text(raw: Any, key: str, errors: dict[str, list[str]], *, limit: int, required: bool) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        errors.setdefault(key, []).append(_("应为文字。"))
        return ""
    value = raw.strip()
    if required and not value:
        errors.setdefault(key, []).append(_("不能为空。"))
    if len(value) > limit:
        errors.setdefault(key, []).append(
            _("太长了（%(n)d 字），最多 %(max)d 字。") % {"n": len(value), "max": limit}
        )
    return value


def _check_placeholders(text: str, key: str, names: set[str], errors: dict[str, list[str]]) -> None:
    for match in ANY_BRACES.finditer(text):
        inner = match.group(1).strip()
        if not NAME.fullmatch(inner):
            errors.setdefault(key, []).append(
                _(
                    "占位符 %(p)s 的写法不对：只能写 {{字段名}}，"
                    "字段名由小写字母、数字和下划线组成。"
                )
                % {"p": match.group(0)[:60]}
            )
        elif inner not in names:
            errors.setdefault(key, []).append(
                _("占位符 %(p)s 没有对应的字段。") % {"p": match.group(0)}
            )


def _number(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise ValueError
    return float(raw)


def _parse_field(raw: Any, key: str, errors: dict[str, list[str]]) -> Field | None:
    if not isinstance(raw, Mapping):
        errors.setdefault(key, []).append(_("字段定义应为对象。"))
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        errors.setdefault(f"{key}.name", []).append(
            _("字段名只能由小写字母开头，含小写字母、数字和下划线（最多40个）。")
        )
        return None
    label = _text(raw.get("label"), f"{key}.label", errors, limit=40, required=True)
    kind = raw.get("type", "text")
    if kind not in FIELD_TYPES:
        errors.setdefault(f"{key}.type", []).append(
            _("字段类型只能是：%(t)s。") % {"t": "、".join(FIELD_TYPES)}
        )
        return None
    choices = raw.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices):
        errors.setdefault(f"{key}.choices", []).append(_("选项应为文字列表。"))
        choices = []
    if kind == "choice" and not choices:
        errors.setdefault(f"{key}.choices", []).append(_("选择题字段至少要有一个选项。"))
    try:
        low, high = _number(raw.get("min")), _number(raw.get("max"))
    except ValueError:
        errors.setdefault(key, []).append(_("最小值和最大值应为数字。"))
        low = high = None
    if low is not None and high is not None and low > high:
        errors.setdefault(key, []).append(_("最小值不能大于最大值。"))
    decimals = raw.get("decimals", 0)
    if (
        not isinstance(decimals, int)
        or isinstance(decimals, bool)
        or not 0 <= decimals <= MAX_DECIMALS
    ):
        errors.setdefault(f"{key}.decimals", []).append(
            _("小数位数应为 0 到 %(n)d 之间的整数（0 表示只能填整数）。") % {"n": MAX_DECIMALS}
        )
        decimals = 0
    elif decimals and kind != "number":
        errors.setdefault(f"{key}.decimals", []).append(_("只有数字字段可以设置小数位数。"))
        decimals = 0
    max_length = raw.get("max_length")
    if max_length is not None and (
        not isinstance(max_length, int)
        or isinstance(max_length, bool)
        or not 1 <= max_length <= LONG_TEXT_LIMIT
    ):
        errors.setdefault(f"{key}.max_length", []).append(
            _("长度上限应为 1 到 %(n)d 之间的整数。") % {"n": LONG_TEXT_LIMIT}
        )
        max_length = None
    return Field(
        name=name,
        label=label,
        type=kind,
        required=bool(raw.get("required", True)),
        max_length=max_length,
        min=low,
        max=high,
        choices=tuple(choices),
        help=_text(raw.get("help"), f"{key}.help", errors, limit=200, required=False),
        decimals=decimals,
    )


def _parse_section(
    raw: Any,
    key: str,
    names: set[str],
    categories: set[str] | None,
    errors: dict[str, list[str]],
) -> Section | None:
    if not isinstance(raw, Mapping):
        errors.setdefault(key, []).append(_("段落定义应为对象。"))
        return None
    heading = _text(raw.get("heading"), f"{key}.heading", errors, limit=120, required=True)
    instruction = _text(
        raw.get("instruction"), f"{key}.instruction", errors, limit=2000, required=False
    )
    fixed = _text(raw.get("fixed_text"), f"{key}.fixed_text", errors, limit=MAX_TEXT, required=True)
    for part, text in (("heading", heading), ("instruction", instruction), ("fixed_text", fixed)):
        _check_placeholders(text, f"{key}.{part}", names, errors)
    cats = raw.get("categories") or []
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        errors.setdefault(f"{key}.categories", []).append(_("知识分类应为分类标识的列表。"))
        cats = []
    unknown = [c for c in cats if categories is not None and c not in categories]
    if unknown:
        errors.setdefault(f"{key}.categories", []).append(
            _("没有这些知识分类：%(c)s。") % {"c": "、".join(unknown)}
        )
    length = raw.get("length", 300)
    if not isinstance(length, int) or isinstance(length, bool) or not 50 <= length <= 5000:
        errors.setdefault(f"{key}.length", []).append(_("篇幅应为 50 到 5000 之间的整数（字）。"))
        length = 300
    return Section(heading, instruction, fixed, tuple(cats), length)


def parse(raw: Any, *, categories: set[str] | None = None) -> Definition:
    """A definition from its JSON form, or FieldErrors naming every fault (`fields[2].name`,
    `sections[0].fixed_text` …). `categories`: the knowledge category slugs that exist."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, Mapping):
        raise FieldErrors(
            _("模板定义应为对象。"),
            {"definition": [_("模板定义应为对象。")]},
            code=WriterErrorCode.BAD_TEMPLATE,
        )
    raw_fields = raw.get("fields") or []
    if not isinstance(raw_fields, list) or len(raw_fields) > MAX_FIELDS:
        errors["fields"] = [_("字段应为列表，最多 %(n)d 个。") % {"n": MAX_FIELDS}]
        raw_fields = []
    fields = [f for i, r in enumerate(raw_fields) if (f := _parse_field(r, f"fields[{i}]", errors))]
    names = [f.name for f in fields]
    if len(set(names)) != len(names):
        errors.setdefault("fields", []).append(_("字段名不能重复。"))
    known = set(names)
    raw_sections = raw.get("sections") or []
    if not isinstance(raw_sections, list) or not 1 <= len(raw_sections) <= MAX_SECTIONS:
        errors["sections"] = [_("至少要有一个段落，最多 %(n)d 个。") % {"n": MAX_SECTIONS}]
        raw_sections = []
    sections = [
        s
        for i, r in enumerate(raw_sections)
        if (s := _parse_section(r, f"sections[{i}]", known, categories, errors))
    ]
    doc_title = _text(raw.get("doc_title"), "doc_title", errors, limit=200, required=True)
    issuer = _text(raw.get("issuer"), "issuer", errors, limit=200, required=False)
    recipient = _text(raw.get("recipient"), "recipient", errors, limit=200, required=False)
    for key, text in (("doc_title", doc_title), ("issuer", issuer), ("recipient", recipient)):
        _check_placeholders(text, key, known, errors)
    date_field = raw.get("date_field") or ""
    if date_field and not any(f.name == date_field and f.type == "date" for f in fields):
        errors["date_field"] = [_("成文日期字段应为一个日期类型的字段名。")]
    style = _text(raw.get("style_guide"), "style_guide", errors, limit=3000, required=False)
    forbidden = raw.get("forbidden") or []
    if not isinstance(forbidden, list) or not all(isinstance(w, str) and w for w in forbidden):
        errors["forbidden"] = [_("禁用说法应为文字列表。")]
        forbidden = []
    if errors:
        code = WriterErrorCode.BAD_TEMPLATE
        if any("没有对应的字段" in m for ms in errors.values() for m in ms):
            code = WriterErrorCode.UNKNOWN_PLACEHOLDER
        elif any("写法不对" in m for ms in errors.values() for m in ms):
            code = WriterErrorCode.BAD_PLACEHOLDER
        raise FieldErrors(_("模板有错误，请修改后再保存。"), errors, code=code)
    return Definition(
        fields=tuple(fields),
        sections=tuple(sections),
        doc_title=doc_title,
        issuer=issuer,
        recipient=recipient,
        date_field=str(date_field),
        style_guide=style,
        forbidden=tuple(w.strip() for w in forbidden if w.strip()),
    )


def load(data: Mapping[str, Any]) -> Definition:
    """A stored definition (already validated when it was saved)."""
    return Definition(
        fields=tuple(
            Field(**{**f, "choices": tuple(f.get("choices", ()))}) for f in data["fields"]
        ),
        sections=tuple(
            Section(**{**s, "categories": tuple(s.get("categories", ()))}) for s in data["sections"]
        ),
        doc_title=data["doc_title"],
        issuer=data.get("issuer", ""),
        recipient=data.get("recipient", ""),
        date_field=data.get("date_field", ""),
        style_guide=data.get("style_guide", ""),
        forbidden=tuple(data.get("forbidden", ())),
    )


def fill(text: str, values: Mapping[str, str]) -> str:
    """`{{field}}` replaced by its value, in one pass (a value is never read as a template);
    every other character, braces included, stays as it is. A document's title is filled by
    `fill_title()`."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# What a value may not end with inside a title: a title carries no closing punctuation.
TITLE_TRAILING = " \t\r\n\u3000。．.，,；;：:、！!？?"
# The least a repeated stretch must hold to count as words said twice: one character alike on
# both sides of the seam is usually two words (电工 + 工会, 目的 + 的通知).
MIN_REPEAT = 2


def fill_title(pattern: str, values: Mapping[str, str]) -> str:
    """A title from its pattern, like `fill()`, written as a title reads: a value that already
    says the words the pattern puts around it does not get them twice. 关于{{subject}}的通知
    with 关于开展安全生产月活动 (or 开展安全生产月活动的通知, …活动通知) gives
    关于开展安全生产月活动的通知; {{unit}}关于{{matter}}的请示 with 虎门镇总工会关于…的请示
    names the unit once; {{meeting}}纪要 with 第三次会议纪要 says 纪要 once (GB/T 9704:
    发文机关 关于 事由 的 文种).

    A value's start is compared with what the title holds before it, its end with the
    pattern's words after it (up to the next placeholder); a repeat of two characters or more
    is said once, and the value is never cut to nothing. Closing punctuation of a value is
    left out. Like `fill()`, one pass: a value is never read as a pattern."""
    out: list[str] = []
    last = 0
    matches = list(PLACEHOLDER.finditer(pattern))
    for i, match in enumerate(matches):
        out.append(pattern[last : match.start()])
        last = match.end()
        value = values.get(match.group(1))
        if value is None:
            out.append(match.group(0))
            continue
        end = matches[i + 1].start() if i + 1 < len(matches) else len(pattern)
        value = value.strip().rstrip(TITLE_TRAILING)
        value = _without_lead("".join(out), value)
        out.append(_without_tail(value, pattern[match.end() : end]))
    out.append(pattern[last:])
    return "".join(out)


def _without_lead(before: str, value: str) -> str:
    """`value` less its start when the text before it already ends so (关于 + 关于开展…):
    the longest such stretch."""
    for n in range(min(len(before), len(value) - 1), MIN_REPEAT - 1, -1):
        if before.endswith(value[:n]):
            return value[n:].lstrip()
    return value


def _without_tail(value: str, after: str) -> str:
    """`value` less its end when the words after it start so (…活动的通知 + 的通知): the
    longest such stretch. After 的 the rest counts too: …活动通知 + 的通知 reads …活动的通知."""
    for rest in (after, after[1:] if after.startswith("的") else ""):
        for n in range(min(len(rest), len(value) - 1), MIN_REPEAT - 1, -1):
            if value.endswith(rest[:n]):
                return value[:-n].rstrip()
    return value


def chinese_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass
class Filled:
    """A submitted form: the values as text for the placeholders, the typed ones for the API."""

    text: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    date: datetime.date | None = None


def clean_values(definition: Definition, raw: Any, *, unit_name: str = "") -> Filled:
    """Validate a drafter's form against the fields: FieldErrors per field, or the values.

    A required field sent empty is refused with its label, whatever its type. A `unit` field
    left out of the submission altogether (an API client that does not name it) takes
    `unit_name`, the drafter's union unit: the form shows that value filled in, so a drafter
    who clears it has said it is empty, and is asked to fill it in."""
    if not isinstance(raw, Mapping):
        raise FieldErrors(_("表单内容应为对象。"), {"fields": [_("表单内容应为对象。")]})
    errors: dict[str, list[str]] = {}
    filled = Filled()
    unknown = sorted(set(raw) - {f.name for f in definition.fields})
    if unknown:
        errors["fields"] = [_("模板没有这些字段：%(f)s。") % {"f": "、".join(map(str, unknown))}]
    for f in definition.fields:
        value = raw.get(f.name)
        if f.type == "unit" and f.name not in raw:
            value = unit_name
        if value is None or (isinstance(value, str) and not value.strip()):
            if f.required:
                errors.setdefault(f.name, []).append(_("请填写“%(l)s”。") % {"l": f.label})
            filled.text[f.name] = ""
            continue
        if f.type == "number":
            try:
                number = _clean_number(f, value)
            except ValueError as exc:
                errors.setdefault(f.name, []).append(str(exc))
                continue
            filled.text[f.name] = _plain(number)
            whole = number == number.to_integral_value()
            filled.raw[f.name] = int(number) if whole else float(number)
            continue
        if not isinstance(value, str):
            errors.setdefault(f.name, []).append(_("“%(l)s”应为文字。") % {"l": f.label})
            continue
        value = value.strip()
        if f.type == "date":
            try:
                day = datetime.date.fromisoformat(value)
            except ValueError:
                errors.setdefault(f.name, []).append(
                    _("“%(l)s”应为日期，例如 2026-12-04。") % {"l": f.label}
                )
                continue
            filled.text[f.name] = chinese_date(day)
            filled.raw[f.name] = day.isoformat()
            if f.name == definition.date_field:
                filled.date = day
            continue
        if f.type == "choice" and value not in f.choices:
            errors.setdefault(f.name, []).append(
                _("“%(l)s”只能选：%(c)s。") % {"l": f.label, "c": "、".join(f.choices)}
            )
            continue
        if len(value) > f.limit:
            errors.setdefault(f.name, []).append(
                _("“%(l)s”太长了（%(n)d 字），最多 %(max)d 字。")
                % {"l": f.label, "n": len(value), "max": f.limit}
            )
            continue
        filled.text[f.name] = value
        filled.raw[f.name] = value
    if errors:
        raise FieldErrors(_("表单有错误，请修改后再提交。"), errors)
    return filled


def _clean_number(f: Field, value: Any) -> Decimal:
    """A number field's value, or ValueError with the message for the drafter: a number, with
    no more decimal places than the field allows (none unless it says so), within its bounds."""
    try:
        number = Decimal(str(value).strip()) if isinstance(value, (str, int, float)) else None
    except InvalidOperation:
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite():
        raise ValueError(_("“%(l)s”应为数字。") % {"l": f.label})
    if abs(number) >= NUMBER_LIMIT:
        raise ValueError(_("“%(l)s”的数值太大了。") % {"l": f.label})
    places = max(f.decimals, 0)
    if number != number.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise ValueError(_("“%(l)s”应为整数，请不要填小数。") % {"l": f.label})
        raise ValueError(_("“%(l)s”最多保留 %(n)d 位小数。") % {"l": f.label, "n": places})
    low = None if f.min is None else Decimal(str(f.min))
    high = None if f.max is None else Decimal(str(f.max))
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            message = _("“%(l)s”应在 %(a)s 到 %(b)s 之间。")
        elif low is not None:
            message = _("“%(l)s”不能小于 %(a)s。")
        else:
            message = _("“%(l)s”不能大于 %(b)s。")
        raise ValueError(message % {"l": f.label, "a": _num(f.min), "b": _num(f.max)})
    return number


def _plain(number: Decimal) -> str:
    """A number as a document writes it: no exponent, no trailing zeros (2026, 2.5, 200.05)."""
    if number == number.to_integral_value():
        return str(int(number))
    return format(number, "f").rstrip("0").rstrip(".")


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
