"""Editor forms: they parse and validate input; the services do the work."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from knowledge.ingest import EXTENSIONS, MAX_SEGMENT_CHARS
from knowledge.models import (
    AuthorityLevel,
    Category,
    DocumentKind,
    DocumentStatus,
    FaqStatus,
    LexiconKind,
)
from knowledge.retrieval import MAX_QUESTION_CHARS


def split_words(value: str) -> list[str]:
    return [w for w in re.split(r"[\s,，、;；]+", value) if w]


class DocumentForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200, required=False)
    category = forms.ModelChoiceField(label=_("分类"), queryset=Category.objects.all())
    kind = forms.ChoiceField(label=_("类型"), choices=DocumentKind.choices)
    authority = forms.ChoiceField(
        label=_("效力层级"),
        choices=[("", _("自动识别")), *AuthorityLevel.choices],
        required=False,
        help_text=_("答案相近时，法律优先于下位法规，专门规定优先于一般规定，新规定优先于旧规定"),
    )
    promulgated_on = forms.DateField(
        label=_("公布（修订）日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("留空时从正文开头的通过、公布或修正日期识别"),
    )
    source = forms.CharField(label=_("来源"), max_length=300, required=False)
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("多个标签用逗号分隔"))
    effective_from = forms.DateField(
        label=_("生效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    expires_on = forms.DateField(
        label=_("失效日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    file = forms.FileField(
        label=_("上传文件"),
        required=False,
        help_text=_("支持 .txt .md .docx .pdf .html，不超过 20 MB"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(EXTENSIONS)}),
    )
    body = forms.CharField(
        label=_("或直接粘贴正文"), required=False, widget=forms.Textarea(attrs={"rows": 10})
    )
    status = forms.ChoiceField(
        label=_("保存为"),
        choices=[
            (DocumentStatus.DRAFT, DocumentStatus.DRAFT.label),
            (DocumentStatus.REVIEW, DocumentStatus.REVIEW.label),
            (DocumentStatus.PUBLISHED, DocumentStatus.PUBLISHED.label),
        ],
        initial=DocumentStatus.DRAFT,
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["status"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("file") and not (data.get("body") or "").strip():
            raise forms.ValidationError(_("请上传文件或粘贴正文。"))
        start, end = data.get("effective_from"), data.get("expires_on")
        if start and end and end <= start:
            self.add_error("expires_on", _("失效日期必须晚于生效日期。"))
        return data


class SegmentForm(forms.Form):
    text = forms.CharField(
        label=_("内容"), max_length=MAX_SEGMENT_CHARS, widget=forms.Textarea(attrs={"rows": 8})
    )
    enabled = forms.BooleanField(label=_("启用（可被检索）"), required=False)


class FaqForm(forms.Form):
    question = forms.CharField(label=_("问题"), max_length=300)
    variants = forms.CharField(
        label=_("相似问法"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("每行一个"),
    )
    answer = forms.CharField(label=_("解答"), widget=forms.Textarea(attrs={"rows": 5}))
    category = forms.ModelChoiceField(label=_("分类"), queryset=Category.objects.all())
    cites = forms.CharField(
        label=_("依据条款"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "每行一条，第一条是直接回答问题的条款，例如：《劳动法》第四十四条；"
            "没有条目号的片段写 片段#编号"
        ),
    )
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("多个标签用逗号分隔"))
    status = forms.ChoiceField(
        label=_("状态"), choices=FaqStatus.choices, initial=FaqStatus.PUBLISHED
    )


class LexiconForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=LexiconKind.choices)
    phrase = forms.CharField(label=_("词语"), max_length=60)
    targets = forms.CharField(
        label=_("对应词"), required=False, help_text=_("同义词或正式用语，多个用空格分隔")
    )


class RetrievalTestForm(forms.Form):
    question = forms.CharField(
        label=_("问题"),
        max_length=MAX_QUESTION_CHARS,
        widget=forms.TextInput(attrs={"placeholder": _("例如：公司不给交社保怎么办？")}),
    )


class AnalyticsFilterForm(forms.Form):
    """The dashboard's filters; anything unreadable falls back to the defaults."""

    weeks = forms.TypedChoiceField(
        label=_("时间"),
        choices=[(4, _("近4周")), (12, _("近12周")), (26, _("近26周"))],
        coerce=int,
        initial=12,
        required=False,
        widget=forms.Select(attrs={"aria-label": _("时间")}),
    )
    category = forms.TypedChoiceField(
        label=_("分类"),
        coerce=int,
        required=False,
        widget=forms.Select(attrs={"aria-label": _("分类")}),
    )
    show = forms.ChoiceField(
        label=_("待处理"),
        choices=[("unanswered", _("未覆盖的问题")), ("disliked", _("差评回答"))],
        initial="unanswered",
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from knowledge.services.analytics import NO_CATEGORY

        super().__init__(*args, **kwargs)
        choices: list[tuple[object, object]] = [("", _("全部分类"))]
        choices += list(Category.objects.values_list("id", "name"))
        choices.append((NO_CATEGORY, _("未分类")))
        self.fields["category"].choices = choices  # type: ignore[attr-defined]

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> AnalyticsFilterForm:
        """The form bound to the query's valid values and the defaults for the rest, so that
        the page shows what it is filtered by."""
        probe = cls(query)
        probe.is_valid()
        values = {name: probe.value(name) for name in probe.fields}
        return cls({name: "" if v is None else v for name, v in values.items()})

    def value(self, name: str) -> Any:
        """The field's value when it is valid, else its default (the form is always bound)."""
        self.is_valid()
        value = self.cleaned_data.get(name)
        return self.fields[name].initial if value in (None, "") else value


class FaqFromQuestionForm(FaqForm):
    """The FAQ form opened from a member's question: the entry is published at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["status"]
        del self.fields["tags"]
        self.fields["cites"].required = True
