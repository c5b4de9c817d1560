"""Lists cost the same number of queries for 3 rows as for 30, and read no more than they
show (no segment texts, no document bodies)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from knowledge.models import (
    Category,
    Conversation,
    Document,
    DocumentStatus,
    LexiconEntry,
    LexiconKind,
    Message,
    MessageRole,
)
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import make_document


@dataclass
class World:
    eddie: User
    alice: User
    categories: dict[str, Category]
    law: Document


def documents(world: World, start: int, stop: int) -> None:
    for i in range(start, stop):
        body = f"第一条 第{i}号通知的第一项内容。\n第二条 第{i}号通知的第二项内容。"
        make_document(
            world.eddie, world.categories, title=f"通知{i}", body=body, status=DocumentStatus.DRAFT
        )


def faq(world: World, start: int, stop: int) -> None:
    third, fourth = world.law.segments.filter(heading__in=["第三条", "第四条"]).order_by("id")
    for i in range(start, stop):
        curation.save_faq(
            question=f"第{i}个问题怎么办",
            answer="按法律办。",
            category=world.categories["rights"],
            segments=[third, fourth],
            author=world.eddie,
        )


def lexicon(world: World, start: int, stop: int) -> None:
    LexiconEntry.objects.bulk_create(
        LexiconEntry(kind=LexiconKind.SYNONYM, phrase=f"词{i}", targets=[f"同义{i}"])
        for i in range(start, stop)
    )


def conversations(world: World, start: int, stop: int) -> None:
    for i in range(start, stop):
        conversation = Conversation.objects.create(owner=world.alice, title=f"问题{i}")
        Message.objects.create(conversation=conversation, role=MessageRole.USER, text=f"问题{i}")
        Message.objects.create(conversation=conversation, role=MessageRole.ASSISTANT, text="答")


@dataclass
class Case:
    url: str
    who: str  # "eddie" or "alice"
    add: Callable[[World, int, int], None]
    api: bool = True
    never_read: tuple[str, ...] = ()  # columns a list must not load


CASES = {
    "api-documents": Case(
        "/api/v1/knowledge/documents/",
        "eddie",
        documents,
        never_read=('"knowledge_segment"."text"', '"knowledge_document"."body"'),
    ),
    "api-faq": Case(
        "/api/v1/knowledge/faq/", "eddie", faq, never_read=('"knowledge_segment"."text"',)
    ),
    "api-lexicon": Case("/api/v1/knowledge/lexicon/", "eddie", lexicon),
    "api-conversations": Case(
        "/api/v1/conversations/", "alice", conversations, never_read=('"knowledge_message"',)
    ),
    "page-documents": Case(
        "/knowledge/",
        "eddie",
        documents,
        api=False,
        never_read=('"knowledge_segment"."text"', '"knowledge_document"."body"'),
    ),
    "page-faq": Case(
        "/knowledge/faq/",
        "eddie",
        faq,
        api=False,
        never_read=('"knowledge_segment"."text"', '"knowledge_document"."body"'),
    ),
    "page-lexicon": Case("/knowledge/lexicon/", "eddie", lexicon, api=False),
}


@pytest.fixture
def world(eddie: User, alice: User, categories: dict[str, Category], law: Document) -> World:
    return World(eddie, alice, categories, law)


def fetcher(case: Case, world: World) -> Callable[[], Any]:
    user = getattr(world, case.who)
    if case.api:
        api = APIClient()
        api.force_authenticate(user)
        return lambda: api.get(case.url)
    client = Client()
    client.force_login(user)
    return lambda: client.get(case.url)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(CASES))
def test_a_list_costs_the_same_queries_for_3_rows_as_for_30(
    name: str, world: World, django_assert_num_queries: Any
) -> None:
    case = CASES[name]
    fetch = fetcher(case, world)
    case.add(world, 0, 3)
    fetch()  # sessions, caches and the lexicon warmed up once
    with CaptureQueriesContext(connection) as few:
        response = fetch()
    assert response.status_code == 200
    for column in case.never_read:
        read = [q["sql"] for q in few.captured_queries if column in q["sql"]]
        assert not read, f"{case.url} reads {column}: {read[0][:300]}"

    case.add(world, 3, 30)
    with django_assert_num_queries(len(few.captured_queries)):
        response = fetch()

    assert response.status_code == 200
    shown = response.json() if case.api else None
    if isinstance(shown, list):
        assert len(shown) >= 30
    if name == "api-documents":
        counts = {d["title"]: d["segment_count"] for d in shown or []}
        assert counts == {d.title: d.segments.count() for d in Document.objects.all()}
        assert counts[world.law.title] == 5
    if name == "page-faq":
        page = response.content.decode()
        assert "第29个问题怎么办" in page or "第0个问题怎么办" in page
        assert f"《{world.law.title}》第三条" in page
