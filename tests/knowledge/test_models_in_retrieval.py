"""With models configured: embedding retrieval and query rewriting; without: keywords alone."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import embedding
from knowledge.models import Category, Document, Segment, SegmentEmbedding
from knowledge.retrieval import search
from portal import ai
from portal.models import User
from tests.fakes.server import Behaviour
from tests.knowledge.conftest import make_document
from tests.waiting import wait_for

NEAR = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


@pytest.fixture
def embedder(configure, fake_openai):
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge-m3", use_for=["embedding"])
    return fake_openai


@pytest.mark.django_db
def test_without_an_embedding_model_nothing_is_embedded(law: Document) -> None:
    assert embedding.embed_segments(list(law.segments.values_list("id", flat=True))) == 0
    assert not SegmentEmbedding.objects.exists()


@pytest.mark.django_db
def test_embedding_retrieval_finds_a_passage_that_shares_no_word_with_the_question(
    embedder, law: Document
) -> None:
    # The model places the question and 第五条 (on joining a union) close together; they share
    # not even a character.
    embedder.vectors = {"参加和组织工会": NEAR, "咋样变成里头份子": NEAR}
    question = "咋样变成里头份子"
    assert "第五条" not in [p.heading for p in search(question).passages]

    assert embedding.embed_segments(list(law.segments.values_list("id", flat=True))) == 5

    result = search(question)
    assert result.passages[0].heading == "第五条"
    assert not result.abstained


@pytest.mark.django_db
def test_an_unchanged_segment_is_not_embedded_twice(embedder, law: Document) -> None:
    ids = list(law.segments.values_list("id", flat=True))
    embedding.embed_segments(ids)
    calls = len(embedder.requests)
    assert embedding.embed_segments(ids) == 0
    assert len(embedder.requests) == calls


@pytest.mark.django_db
def test_a_failing_embedding_model_leaves_the_keyword_answer(embedder, law: Document) -> None:
    embedding.embed_segments(list(law.segments.values_list("id", flat=True)))
    embedder.then(*[Behaviour(status=500)] * 5)
    result = search("法定休假日加班工资")
    assert result.passages[0].heading == "第三条"


def _delete_once_embedded(monkeypatch: pytest.MonkeyPatch, segment_id: int) -> None:
    """The segment goes (committed, as an editor's re-split would) after the model has sent the
    vectors of its batch and before the job writes them."""
    real = ai.embed

    def embed_then_delete(texts: list[str], **kwargs: Any) -> list[list[float]]:
        vectors = real(texts, **kwargs)
        Segment.objects.filter(pk=segment_id).delete()
        return vectors

    monkeypatch.setattr(ai, "embed", embed_then_delete)


def test_a_segment_deleted_while_its_batch_is_embedded_is_skipped(
    transactional_db: None,
    eddie: User,
    categories: dict[str, Category],
    configure: Any,
    fake_openai: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    law = make_document(eddie, categories)  # before the model is configured: no job enqueued
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge-m3", use_for=["embedding"])
    ids = list(law.segments.values_list("id", flat=True))
    gone = law.segments.get(heading="第三条").pk
    _delete_once_embedded(monkeypatch, gone)

    assert embedding.embed_segments(ids) == 4  # committed: no IntegrityError

    assert set(SegmentEmbedding.objects.values_list("segment_id", flat=True)) == set(ids) - {gone}


def test_the_embedding_job_takes_the_index_lock_before_it_writes_vectors(
    embedder: Any, law: Document
) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert embedding.embed_segments(list(law.segments.values_list("id", flat=True))) == 5
    sql = [q["sql"] for q in queries.captured_queries]
    lock = next(
        (i for i, q in enumerate(sql) if "knowledge_indexstats" in q and "FOR UPDATE" in q), None
    )
    write = next(
        i
        for i, q in enumerate(sql)
        if "knowledge_segmentembedding" in q and q.startswith(("INSERT", "UPDATE", "DELETE"))
    )
    assert lock is not None and lock < write, "vectors written before the index lock"


def test_publishing_has_the_worker_embed_the_new_segments(
    celery_worker: object, embedder, eddie: User, categories: dict[str, Category]
) -> None:
    document = make_document(eddie, categories)
    wait_for(
        lambda: SegmentEmbedding.objects.filter(segment__document=document).count() == 5,
        what="the worker to embed the published segments",
    )


@pytest.mark.django_db
def test_query_rewriting_by_the_chat_model_adds_the_formal_words(
    configure, fake_openai, settings, law: Document
) -> None:
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reply = "用人单位未按时足额缴纳社会保险费怎么办"
    question = "老东家一直拖着那笔钱不交怎么办"
    assert "第四条" not in [p.heading for p in search(question).passages]

    settings.KNOWLEDGE_QUERY_REWRITE = True
    result = search(question)

    assert result.passages[0].heading == "第四条"
    assert {e.target for e in result.analysis.expansions if e.kind == "rewrite"} >= {"社会保险费"}
    sent = fake_openai.requests[-1].json()["messages"]
    assert sent[-1]["content"] == question


@pytest.mark.django_db
def test_query_rewriting_is_skipped_when_the_model_fails(
    configure, fake_openai, settings, law: Document
) -> None:
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"], max_retries=0)
    fake_openai.then(Behaviour(status=500))
    settings.KNOWLEDGE_QUERY_REWRITE = True
    assert search("法定休假日加班工资").passages[0].heading == "第三条"
