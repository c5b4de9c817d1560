"""Asked questions as the Ask service records them, and an editors' lexicon for wage questions:
shared by the analytics tests and the analytics page's browser test."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from knowledge import lexicon
from knowledge.models import (
    AskedQuestion,
    Category,
    LexiconEntry,
    LexiconKind,
    Message,
    Segment,
)
from knowledge.text import segmenter

WAGES = ["老板不给发工资怎么办", "公司拖欠工资怎么办", "单位欠薪不发"]
HARDSHIP = "怎么申请困难职工帮扶"
HOLIDAY_WORK = "国庆节被叫去加班，钱怎么算"


def add_wage_words() -> None:
    """Everyday words for unpaid wages and the formal words they stand for."""
    colloquial = {
        "老板": ["用人单位"],
        "公司": ["用人单位"],
        "单位": ["用人单位"],
        "欠薪": ["拖欠", "劳动报酬"],
        "不给发": ["拖欠"],
        "不发": ["拖欠"],
    }
    LexiconEntry.objects.bulk_create(
        [
            LexiconEntry(kind=LexiconKind.COLLOQUIAL, phrase=p, targets=t)
            for p, t in colloquial.items()
        ]
        + [
            LexiconEntry(kind=LexiconKind.SYNONYM, phrase="劳动报酬", targets=["工资", "薪水"]),
            LexiconEntry(kind=LexiconKind.SYNONYM, phrase="拖欠", targets=["欠发", "拖发"]),
        ]
    )


def ask(
    text: str,
    *,
    at: datetime | None = None,
    category: Category | None = None,
    segment: Segment | None = None,
    abstained: bool = False,
    rating: str = "",
    reason: str = "",
    answer: Message | None = None,
    words: bool = True,
) -> AskedQuestion:
    """A question as the Ask service records it: its words as search segmented them, the
    segment the answer cited first."""
    lexicon.current()
    return AskedQuestion.objects.create(
        text=text,
        keywords=segmenter.words(text) if words else [],
        category=category,
        segment=segment,
        document=segment.document if segment else None,
        abstained=abstained,
        rating=rating,
        reason=reason,
        answer=answer,
        asked_at=at or timezone.now(),
    )
