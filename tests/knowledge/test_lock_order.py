"""Index writers lock in one order (the index first, then content rows): a delete and a save of
the same FAQ entry at the same moment never deadlock, and a document deleted while an FAQ entry
citing it is saved takes the new citation with it, on PostgreSQL with real transactions."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import connection
from django.db.models import Model
from django.db.models.signals import post_delete, post_save
from django.test import Client
from django.test.utils import CaptureQueriesContext

from knowledge.models import Category, Document, DocumentStatus, FaqCitation, FaqEntry, Segment
from knowledge.services import curation
from portal.errors import PortalError
from portal.models import User
from tests.knowledge.conftest import make_document
from tests.knowledge.test_index_integrity import assert_index_is_consistent, faq_on_third
from tests.waiting import wait_for

DEADLINE = 30.0
DOCUMENTS = "/admin/knowledge/document/"


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    pid: int | None = None
    started: threading.Event = field(default_factory=threading.Event)


def _run(work: Callable[[], Any], outcome: Outcome) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            outcome.pid = cursor.fetchone()[0]
        outcome.started.set()
        outcome.value = work()
    except BaseException as exc:  # asserted by the test
        outcome.error = exc
    finally:
        outcome.started.set()
        connection.close()


def _waits_for_a_lock(pid: int | None) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted)", [pid]
        )
        return bool(cursor.fetchone()[0])


def overlap(
    first: Callable[[], Any],
    second: Callable[[], Any],
    *,
    holds_locks: Any,
    sender: type[Model] = FaqEntry,
) -> tuple[Outcome, Outcome]:
    """Run `first` in a thread until the signal `holds_locks` (sent for `sender`) fires in it:
    its transaction then holds its first locks and stays open. `second` starts in another
    thread; once PostgreSQL shows it waiting for a lock, `first` goes on. Returns both
    outcomes."""
    has_locks = threading.Event()
    go_on = threading.Event()
    mark = threading.local()

    def marked() -> Any:
        mark.first = True
        return first()

    def hold(**kwargs: Any) -> None:
        if getattr(mark, "first", False) and not has_locks.is_set():
            has_locks.set()
            go_on.wait(DEADLINE)

    holds_locks.connect(hold, sender=sender, weak=False, dispatch_uid="test_lock_order")
    one, two = Outcome(), Outcome()
    a = threading.Thread(target=_run, args=(marked, one), name="first")
    b = threading.Thread(target=_run, args=(second, two), name="second")
    try:
        a.start()
        assert has_locks.wait(DEADLINE) or one.error, "the first writer never took its locks"
        if one.error is not None:
            raise AssertionError(f"the first writer failed early: {one.error!r}")
        b.start()
        assert two.started.wait(DEADLINE)
        wait_for(
            lambda: two.error is not None or _waits_for_a_lock(two.pid),
            timeout=DEADLINE,
            what="the second writer to wait for a lock the first one holds",
        )
    finally:
        go_on.set()
        a.join(DEADLINE)
        b.join(DEADLINE)
        holds_locks.disconnect(sender=sender, dispatch_uid="test_lock_order")
    assert not a.is_alive() and not b.is_alive(), "a writer is still stuck"
    return one, two


@pytest.fixture
def entry(
    transactional_db: None, eddie: User, categories: dict[str, Category]
) -> Iterator[FaqEntry]:
    law: Document = make_document(eddie, categories)
    yield faq_on_third(eddie, law, categories)


def _save(entry: FaqEntry, eddie: User, answer: str) -> Callable[[], FaqEntry]:
    return lambda: curation.save_faq(
        question=entry.question,
        variants=entry.variants,
        answer=answer,
        category=entry.category,
        segments=list(entry.segments.all()),
        author=eddie,
        faq=entry,
    )


def test_a_save_that_comes_second_to_a_delete_is_told_the_entry_is_gone(
    entry: FaqEntry, eddie: User
) -> None:
    deleting, saving = overlap(
        lambda: curation.delete_faq(entry, actor=None),
        _save(entry, eddie, "改过的解答。"),
        holds_locks=post_delete,
    )

    assert deleting.error is None
    assert isinstance(saving.error, PortalError), saving.error  # not a deadlock
    assert "删除" in saving.error.message
    assert not FaqEntry.objects.filter(pk=entry.pk).exists()
    assert not FaqCitation.objects.filter(faq_id=entry.pk).exists()
    assert_index_is_consistent()


def test_a_delete_that_comes_second_to_a_save_deletes_the_saved_entry(
    entry: FaqEntry, eddie: User
) -> None:
    saving, deleting = overlap(
        _save(entry, eddie, "改过的解答。"),
        lambda: curation.delete_faq(entry, actor=None),
        holds_locks=post_save,
    )

    assert saving.error is None, saving.error
    assert deleting.error is None, deleting.error  # not a deadlock
    assert not FaqEntry.objects.filter(pk=entry.pk).exists()
    assert not FaqCitation.objects.filter(faq_id=entry.pk).exists()
    assert_index_is_consistent()


def test_a_save_citing_a_document_the_admin_deletes_meanwhile_is_told_the_article_is_gone(
    entry: FaqEntry, eddie: User, categories: dict[str, Category]
) -> None:
    draft = make_document(
        eddie,
        categories,
        title="测试工会法",
        body="第一条 工会会员有权参加工会活动。\n第二条 工会经费按月拨缴。",
        status=DocumentStatus.DRAFT,
    )
    article = draft.segments.order_by("position").first()
    assert article is not None
    curation.save_faq(
        question="工会经费怎么交",
        answer="按月拨缴。",
        category=categories["rights"],
        segments=[article],
        author=eddie,
    )
    cited = FaqEntry.objects.get(question="工会经费怎么交")

    deleting, saving = overlap(
        # A delete through the ORM (the shell, a cascade): the signals' lock, the safety net.
        lambda: Document.objects.filter(pk=draft.pk).delete(),
        _save(cited, eddie, "每月拨缴。"),
        holds_locks=post_delete,
        sender=FaqCitation,
    )

    assert deleting.error is None, deleting.error
    assert isinstance(saving.error, PortalError), saving.error  # not a database error
    assert not Segment.objects.filter(pk=article.pk).exists()
    cited.refresh_from_db()
    assert cited.answer == "按月拨缴。" and not cited.citations.exists()
    assert_index_is_consistent()


def _admin_deletes(client: Client, document: Document, route: str) -> Callable[[], Any]:
    if route == "delete page":
        return lambda: client.post(f"{DOCUMENTS}{document.pk}/delete/", {"post": "yes"})
    return lambda: client.post(
        DOCUMENTS,
        {"action": "delete_selected", "_selected_action": [document.pk], "post": "yes"},
    )


@pytest.mark.parametrize("route", ["delete page", "delete action"])
def test_an_admin_delete_of_a_document_that_comes_second_to_an_faq_save_deletes_its_citation(
    route: str,
    entry: FaqEntry,
    eddie: User,
    ada: User,
    client: Client,
    categories: dict[str, Category],
) -> None:
    # The save holds the index lock and commits a new citation of the document while the admin
    # waits: the admin must see that citation when it lists what to delete, not before.
    law = entry.segments.get().document
    client.force_login(ada)

    saving, deleting = overlap(
        lambda: curation.save_faq(
            question="每月最多加班多少小时",
            answer="不得超过三十六小时。",
            category=categories["rights"],
            segments=[law.segments.get(heading="第二条")],
            author=eddie,
        ),
        _admin_deletes(client, law, route),
        holds_locks=post_save,
    )

    assert saving.error is None, saving.error
    assert deleting.error is None, deleting.error  # not an IntegrityError: a 500 in the admin
    assert deleting.value.status_code == 302
    assert not Document.objects.filter(pk=law.pk).exists()
    assert not FaqCitation.objects.exists()
    assert FaqEntry.objects.filter(question="每月最多加班多少小时").exists()
    assert_index_is_consistent()


def test_the_document_service_that_comes_second_to_an_faq_save_deletes_its_citation(
    entry: FaqEntry, eddie: User, categories: dict[str, Category]
) -> None:
    law = entry.segments.get().document

    saving, deleting = overlap(
        lambda: curation.save_faq(
            question="每月最多加班多少小时",
            answer="不得超过三十六小时。",
            category=categories["rights"],
            segments=[law.segments.get(heading="第二条")],
            author=eddie,
        ),
        lambda: curation.delete_documents([law.pk], actor=eddie),
        holds_locks=post_save,
    )

    assert saving.error is None, saving.error
    assert deleting.error is None, deleting.error
    assert not Document.objects.filter(pk=law.pk).exists()
    assert not FaqCitation.objects.exists()
    assert_index_is_consistent()


_laws = itertools.count(1)


def _law_with(articles: int, editor: User, categories: dict[str, Category]) -> Document:
    """A law of this many articles, all cited by one FAQ entry (each call a new law)."""
    n = next(_laws)
    body = "\n".join(
        f"第{a}条 第{n}号法第{a}项规定：劳动者每月加班不得超过{a}小时。"
        for a in range(1, articles + 1)
    )
    law = make_document(editor, categories, title=f"测试第{n}号法", body=body)
    assert law.segments.count() == articles
    curation.save_faq(
        question=f"第{n}号法的加班上限",
        answer="见各条。",
        category=categories["rights"],
        segments=list(law.segments.order_by("position")),
        author=editor,
    )
    return law


def _index_locks_taken(delete: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as queries:
        delete()
    return sum("knowledge_indexstats" in q["sql"] and "FOR UPDATE" in q["sql"] for q in queries)


@pytest.mark.django_db
def test_deleting_a_document_takes_the_index_lock_a_number_of_times_that_does_not_grow_with_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    def locks(route: Callable[[Document], Any]) -> list[int]:
        small, large = _law_with(3, eddie, categories), _law_with(30, eddie, categories)
        return [_index_locks_taken(lambda: route(small)), _index_locks_taken(lambda: route(large))]

    # Through the ORM, from a QuerySet and from an instance: the signals lock once a delete.
    assert locks(lambda d: Document.objects.filter(pk=d.pk).delete()) == [1, 1]
    assert locks(lambda d: d.delete()) == [1, 1]
    through_service = locks(lambda d: curation.delete_documents([d.pk], actor=eddie))
    assert through_service[0] == through_service[1], through_service
    # Re-splitting a law deletes all its old segments (and moves their citations).
    re_split = locks(
        lambda d: curation.update_document(
            d,
            curation.DocumentFields(
                title=d.title, category=d.category, body=d.body.replace("小时", "个小时")
            ),
            author=eddie,
        )
    )
    assert re_split[0] == re_split[1], re_split
    assert_index_is_consistent()


@pytest.mark.django_db
def test_a_queryset_deleted_again_in_another_transaction_takes_the_index_lock_again(
    eddie: User, categories: dict[str, Category]
) -> None:
    law = _law_with(3, eddie, categories)
    faq = FaqEntry.objects.get()
    citations = FaqCitation.objects.filter(faq=faq)
    segments = list(law.segments.order_by("position"))

    assert _index_locks_taken(citations.delete) == 1
    FaqCitation.objects.bulk_create(
        FaqCitation(faq=faq, segment=s, position=i) for i, s in enumerate(segments)
    )
    assert _index_locks_taken(citations.delete) == 1
