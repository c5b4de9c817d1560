"""The editor's work list: unanswered and disliked questions, marked handled or answered by a
new FAQ entry."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from enum import StrEnum

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from knowledge import indexing
from knowledge.errors import KnowledgeErrorCode
from knowledge.models import (
    AskedQuestion,
    Category,
    DocumentStatus,
    FaqEntry,
    FaqStatus,
    Rating,
    Segment,
)
from knowledge.services.analytics.topics import BATCH, WINDOW_DAYS, question_key
from knowledge.services.curation import KnowledgeError, save_faq
from portal import permissions
from portal.models import User
from portal.permissions import Perm


class Pending(StrEnum):
    """The two lists of questions waiting for an editor."""

    UNANSWERED = "unanswered"  # the knowledge base had no answer
    DISLIKED = "disliked"  # answered, and the member said it did not help


def pending(kind: Pending) -> QuerySet[AskedQuestion]:
    """Questions of the list not yet handled. An abstained answer rated down is on the
    unanswered list only."""
    waiting = AskedQuestion.objects.filter(handled_at__isnull=True)
    if kind == Pending.UNANSWERED:
        return waiting.filter(abstained=True)
    return waiting.filter(abstained=False, rating=Rating.DOWN)


def kind_of(asked: AskedQuestion) -> Pending:
    return Pending.UNANSWERED if asked.abstained else Pending.DISLIKED


def check_may_handle(user: User) -> None:
    permissions.require(user, Perm.CURATE_KNOWLEDGE, _("只有知识库编辑可以处理职工的提问。"))


def mark_handled(editor: User, asked: AskedQuestion, *, whole_topic: bool = False) -> int:
    """Take the question off its list (with `whole_topic`, every question of its topic on the
    same list); returns how many were marked. A question already handled stays as it was."""
    check_may_handle(editor)
    targets = pending(kind_of(asked))
    handled = AskedQuestion.objects.filter(pk=asked.pk, handled_at__isnull=False).exists()
    if not handled and not targets.filter(pk=asked.pk).exists():
        raise KnowledgeError(_("这个提问不在待处理的列表里。"), code=KnowledgeErrorCode.NOT_PENDING)
    if whole_topic and asked.topic_id is not None:
        targets = targets.filter(Q(pk=asked.pk) | Q(topic_id=asked.topic_id))
    else:
        targets = targets.filter(pk=asked.pk)
    return targets.update(handled_at=timezone.now())


def faq_from_question(
    editor: User,
    asked: AskedQuestion,
    *,
    question: str,
    answer: str,
    category: Category,
    segment_ids: Sequence[int],
    variants: Iterable[str] = (),
) -> FaqEntry:
    """Publish an FAQ entry made from a member's question; it cites `segment_ids` in order (the
    first one answers it). The question, and every waiting question worded like the entry's
    question or one of its variants, is marked handled by it. The index (and with it every
    process's FAQ matcher) knows the entry when the transaction commits."""
    check_may_handle(editor)
    with transaction.atomic():
        indexing.lock()  # the index first, then content rows: the curation services' order
        # Checked under the lock: a segment cannot be disabled between the check and the save.
        variants = [v.strip() for v in variants if v.strip()]
        by_id = {
            s.pk: s for s in Segment.objects.filter(pk__in=segment_ids).select_related("document")
        }
        segments = [by_id[pk] for pk in dict.fromkeys(segment_ids) if pk in by_id]
        if len(segments) < len(set(segment_ids)):
            raise KnowledgeError(
                _("引用的片段已不存在，请重新选择。"), code=KnowledgeErrorCode.UNKNOWN_SEGMENT
            )
        if not segments:
            raise KnowledgeError(
                _("请至少选择一个依据片段：职工的提问要靠它找到这条解答。"),
                code=KnowledgeErrorCode.NO_SEGMENT,
            )
        first = segments[0]
        if not first.enabled or first.document.status != DocumentStatus.PUBLISHED:
            raise KnowledgeError(
                _("%(label)s 未发布或已停用，职工检索不到它，请先发布或换一条。")
                % {"label": first.label},
                code=KnowledgeErrorCode.SEGMENT_NOT_RETRIEVABLE,
            )
        locked = AskedQuestion.objects.select_for_update().get(pk=asked.pk)
        if locked.faq_id is not None:
            raise KnowledgeError(
                _("已经有编辑据此提问新建了问答。"), code=KnowledgeErrorCode.ALREADY_HANDLED
            )
        faq = save_faq(
            question=question,
            answer=answer,
            category=category,
            variants=variants,
            segments=segments,
            status=FaqStatus.PUBLISHED,
            author=editor,
        )
        # Worded alike means the same letters and characters, punctuation aside: compared here,
        # over the waiting questions of the list (their texts only).
        wordings = {question_key(t) for t in [question, *variants]}
        covered = [
            pk
            for pk, text in pending(kind_of(locked))
            .filter(asked_at__gte=timezone.now() - timedelta(days=WINDOW_DAYS))
            .values_list("id", "text")
            .iterator(chunk_size=BATCH)
            if question_key(text) in wordings
        ]
        now = timezone.now()
        AskedQuestion.objects.filter(Q(pk=locked.pk) | Q(pk__in=covered)).update(
            faq=faq, handled_at=now
        )
    asked.faq, asked.handled_at = faq, now
    return faq
