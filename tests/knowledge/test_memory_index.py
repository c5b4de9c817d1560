"""A small knowledge base is searched from posting lists kept in memory (knowledge/memindex.py):
the same answers as from the database, every change seen by the next question."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
import time_machine
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from knowledge import indexing, memindex, versions
from knowledge.models import AuthorityLevel, Category, Document, IndexTerm, Segment
from knowledge.retrieval import (
    CANDIDATES,
    KeywordRetriever,
    QuestionAnalyser,
    SearchResult,
    _forward_sql,
    candidate_rows,
    search,
)
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import MINI_LAW, make_document

QUESTIONS = ["法定休假日加班工资", "不缴纳社会保险费", "每月加班不得超过多少小时", "工会"]


def _found(result: SearchResult) -> list[tuple[int, float, float, list[str]]]:
    return [(p.segment_id, p.score, p.coverage, p.matched) for p in result.passages]


@pytest.mark.django_db
def test_a_small_knowledge_base_answers_without_reading_the_index_tables(law: Document) -> None:
    search(QUESTIONS[0])  # loads the posting lists
    with CaptureQueriesContext(connection) as queries:
        result = search(QUESTIONS[1])
    assert result.top is not None and result.top.heading == "第四条"
    tables = " ".join(q["sql"] for q in queries.captured_queries)
    # One query tells whether anything changed; the candidates' text is in memory too.
    assert len(queries.captured_queries) == 1
    assert "knowledge_posting" not in tables and "FROM knowledge_indexterm" not in tables
    assert "FROM knowledge_segment " not in tables and 'knowledge_segment"' not in tables


@pytest.mark.django_db
def test_what_the_passages_say_of_their_document_follows_every_change(
    law: Document, categories: dict[str, Category]
) -> None:
    """The passages kept in memory carry their document's title, category, level and dates:
    the next question sees an editor's change to any of them, and a document coming into force
    on a later day is answered from that day on."""
    question = QUESTIONS[1]
    assert search(question).top is not None
    category = law.category
    category.name = "职工权益与保障"
    category.save()
    assert search(question).top.category == "职工权益与保障"  # type: ignore[union-attr]
    law.authority = AuthorityLevel.REGULATION
    law.promulgated_on = date(2024, 5, 1)
    law.save()
    top = search(question).top
    assert top is not None and (top.authority, top.dated) == ("regulation", date(2024, 5, 1))
    law.category = categories["legal-aid"]
    law.save()
    assert search(question).top.category_id == categories["legal-aid"].pk  # type: ignore[union-attr]
    with time_machine.travel("2031-06-30T12:00:00+08:00", tick=True):
        law.effective_from = date(2031, 7, 1)
        law.save()
        assert search(question).top is None  # not in force yet
    with time_machine.travel("2031-07-01T09:00:00+08:00", tick=True):
        assert search(question).top is not None  # in force from today


@pytest.mark.django_db
def test_memory_and_database_give_the_same_answers_to_the_last_digit(law: Document) -> None:
    from_memory = [_found(search(q, k=5)) for q in QUESTIONS]
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):  # the database's posting lists
        from_database = [_found(search(q, k=5)) for q in QUESTIONS]
    assert from_memory == from_database
    assert all(from_memory)


@pytest.mark.django_db
def test_candidates_postings_from_memory_are_those_of_the_databases_forward_index(
    law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    make_document(eddie, categories, body=MINI_LAW.replace("测试", "示例"), title="示例法")
    memory = memindex.current()
    assert memory is not None
    # Candidates in no particular order, one of them not in the index; every other term, and
    # one the index does not hold.
    segments = [*Segment.objects.order_by("-id").values_list("id", flat=True), 10**9]
    terms = [*IndexTerm.objects.order_by("id").values_list("id", flat=True)[::2], 10**9]
    from_memory = memindex.postings_of(memory, segments, terms)
    with connection.cursor() as cursor:
        cursor.execute(_forward_sql(segments))
        from_database = memindex.Postings.from_packed(segments, cursor.fetchall(), terms)
    assert len(from_memory.term) > 100
    for column in ("of", "term", "tf", "length"):
        assert np.array_equal(getattr(from_memory, column), getattr(from_database, column))


@pytest.mark.django_db
def test_an_edit_rolled_back_is_forgotten_and_the_next_one_is_found(
    law: Document, eddie: User
) -> None:
    fifth = law.segments.get(heading="第五条")
    with transaction.atomic():
        curation.edit_segment(fifth, text="第五条 职工之家由工会建设。", author=eddie)
        assert [p.heading for p in search("职工之家").passages][:1] == ["第五条"]
        transaction.set_rollback(True)
    assert "职工之家" not in "".join(p.text for p in search("职工之家").passages)
    fifth.refresh_from_db()
    curation.edit_segment(fifth, text="第五条 职工书屋由工会建设。", author=eddie)
    result = search("职工书屋")
    assert result.top is not None and "职工书屋" in result.top.text


@pytest.mark.django_db
def test_segments_tied_at_the_candidate_cut_are_chosen_by_id_in_memory_and_database(
    law: Document,
) -> None:
    """70 identical segments score the same: the candidates (60) are the first by id, and the
    passages the first by id, whichever holds the index."""
    with transaction.atomic():
        twins = Segment.objects.bulk_create(
            Segment(document=law, position=100 + i, heading="", text="职工书屋由工会建设。")
            for i in range(70)
        )
        indexing.reindex(s.pk for s in twins)
    first = sorted(s.pk for s in twins)

    def candidates() -> list[int]:
        with versions.pinned():
            analysis = QuestionAnalyser().run(question="职工书屋")["analysis"]
            return sorted(KeywordRetriever().run(analysis=analysis)["candidates"].scores)

    from_memory = (candidates(), _found(search("职工书屋", k=5)))
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        from_database = (candidates(), _found(search("职工书屋", k=5)))
    assert from_memory == from_database
    assert from_memory[0] == first[:CANDIDATES]
    assert [p[0] for p in from_memory[1]] == first[:5]


@pytest.mark.django_db
def test_posting_lists_held_by_a_process_are_never_used_after_an_edit(
    law: Document, eddie: User
) -> None:
    """Above the memory limit a process keeps the posting lists it read for the index
    version; an edit (a new version) is searched in the new lists, as the memory index and the
    database agree."""
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        before = [_found(search(q, k=5)) for q in QUESTIONS]  # the lists are held now
        assert [_found(search(q, k=5)) for q in QUESTIONS] == before
    first = law.segments.get(heading="第一条")
    curation.edit_segment(
        first,
        text="第一条 劳动者参加工会、缴纳社会保险费，法定休假日加班工资每月不得低于标准。",
        author=eddie,
    )
    from_memory = [_found(search(q, k=5)) for q in QUESTIONS]
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        from_database = [_found(search(q, k=5)) for q in QUESTIONS]
    assert from_database == from_memory
    assert from_database != before
    assert all(first.pk in [p[0] for p in found] for found in from_database)


@pytest.mark.django_db
def test_a_question_asked_again_reads_no_posting_list_from_the_database(law: Document) -> None:
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        first = _found(search(QUESTIONS[0], k=5))
        with CaptureQueriesContext(connection) as queries:
            again = _found(search(QUESTIONS[0], k=5))
    assert again == first
    # The versions, the candidates' forward-index rows and their passages: the terms and
    # their posting lists were read the first time.
    assert not [q for q in queries.captured_queries if "knowledge_posting" in q["sql"]]


@pytest.mark.django_db
def test_above_the_memory_limit_a_search_waits_for_the_database_four_times(law: Document) -> None:
    """The versions; the question's terms, with those its short forms may stand for (社保:
    社会保险…) in the same query; the rare terms' posting lists; the candidates' postings and
    their passages, two statements sent as one."""
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        search(QUESTIONS[0])  # the lexicon and the FAQ index are loaded
        with CaptureQueriesContext(connection) as queries:
            result = search("公司不给交社保怎么办")
    assert result.top is not None and result.top.heading == "第四条"
    assert "社会保险" in result.top.matched  # the long form of 社保
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 4
    assert len([s for s in statements if "knowledge_indexterm" in s]) == 1
    assert "knowledge_segmentterms" in statements[-1] and "knowledge_segment" in statements[-1]


@pytest.mark.django_db
def test_the_passages_read_with_the_candidates_postings_are_those_the_ranker_reads(
    law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    expired = make_document(
        eddie,
        categories,
        body=MINI_LAW.replace("测试劳动法", "已失效的测试劳动法"),
        title="已失效的测试劳动法",
        expires_on=date(2020, 1, 1),
    )
    question = "法定休假日加班工资"
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=0):
        with versions.pinned():
            analysis = QuestionAnalyser().run(question=question)["analysis"]
            candidates = KeywordRetriever().run(analysis=analysis)["candidates"]
        ids = list(candidates.scores)
        assert set(candidates.rows) == set(ids)
        read = sorted(row for row in candidates.rows.values() if row is not None)
        assert read == sorted(candidate_rows(ids, None))
        out_of_force = {i for i, row in candidates.rows.items() if row is None}
        assert out_of_force and out_of_force <= set(expired.segments.values_list("id", flat=True))
        shown = search(question).passages
        assert shown and not {p.segment_id for p in shown} & out_of_force
        # Limited to categories, the ranker reads them itself.
        assert search(question, categories=["culture"]).passages == []
        assert search(question, categories=["rights"]).passages == shown
