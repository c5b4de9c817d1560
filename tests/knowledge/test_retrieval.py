"""search(): what members find, and when the knowledge base has no answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction

from knowledge.models import Category, Document, DocumentStatus, LexiconKind
from knowledge.retrieval import QueryError, search
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import make_document

# Half past midnight in Shanghai, still 18 June in UTC: a document's dates are Beijing dates.
AFTER_MIDNIGHT = datetime(2025, 6, 19, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = AFTER_MIDNIGHT.date()


def labels(question: str, k: int = 3) -> list[str]:
    return [p.heading for p in search(question, k=k).passages]


@pytest.mark.django_db
def test_a_published_document_is_found_by_article(law: Document) -> None:
    result = search("法定休假日加班工资是多少")
    assert result.passages[0].heading == "第三条"
    assert result.passages[0].label == "《中华人民共和国测试劳动法》第三条"
    assert "第二章 工作时间" in result.passages[0].context
    assert not result.abstained


@pytest.mark.django_db
def test_a_document_is_answerable_inside_the_transaction_that_publishes_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    with transaction.atomic():
        make_document(eddie, categories)
        assert labels("法定休假日加班工资")[:1] == ["第三条"]
        transaction.set_rollback(True)
    assert labels("法定休假日加班工资") == []


@pytest.mark.django_db
def test_drafts_and_archived_documents_are_not_retrievable(
    eddie: User, categories: dict[str, Category]
) -> None:
    document = make_document(eddie, categories, status=DocumentStatus.DRAFT)
    assert labels("法定休假日加班工资") == []
    curation.set_status(document, DocumentStatus.PUBLISHED, author=eddie)
    assert labels("法定休假日加班工资")[:1] == ["第三条"]
    curation.set_status(document, DocumentStatus.ARCHIVED, author=eddie)
    assert labels("法定休假日加班工资") == []


@pytest.mark.django_db
@pytest.mark.time_machine(AFTER_MIDNIGHT)
def test_a_document_out_of_force_is_not_retrievable(
    eddie: User, categories: dict[str, Category]
) -> None:
    make_document(eddie, categories, expires_on=TODAY, effective_from=TODAY - timedelta(days=9))
    assert labels("法定休假日加班工资") == []


@pytest.mark.django_db
@pytest.mark.time_machine(AFTER_MIDNIGHT)
def test_a_document_not_yet_in_force_is_not_retrievable(
    eddie: User, categories: dict[str, Category]
) -> None:
    make_document(eddie, categories, effective_from=TODAY + timedelta(days=1))
    assert labels("法定休假日加班工资") == []


@pytest.mark.django_db
@pytest.mark.time_machine(AFTER_MIDNIGHT)
def test_a_document_in_force_from_today_is_found_from_midnight_beijing_time(
    eddie: User, categories: dict[str, Category]
) -> None:
    make_document(eddie, categories, effective_from=TODAY)
    assert labels("法定休假日加班工资")[:1] == ["第三条"]


@pytest.mark.django_db
def test_a_disabled_segment_is_not_retrievable_and_an_edit_is_found_at_once(
    law: Document, eddie: User
) -> None:
    third = law.segments.get(heading="第三条")
    curation.edit_segment(third, enabled=False, author=eddie)
    assert "第三条" not in labels("法定休假日加班工资")
    fifth = law.segments.get(heading="第五条")
    curation.edit_segment(fifth, text="第五条 职工之家由工会建设。", enabled=True, author=eddie)
    assert labels("职工之家")[:1] == ["第五条"]


@pytest.mark.django_db
def test_the_lexicon_bridges_everyday_words_to_the_law(law: Document, eddie: User) -> None:
    question = "老板不给交五险怎么办"
    assert labels(question)[:1] != ["第四条"]
    curation.save_lexicon_entry(
        kind=LexiconKind.COLLOQUIAL, phrase="五险", targets=["社会保险费"], author=eddie
    )
    curation.save_lexicon_entry(
        kind=LexiconKind.COLLOQUIAL, phrase="老板", targets=["用人单位"], author=eddie
    )
    result = search(question)
    assert result.passages[0].heading == "第四条"
    assert {(e.phrase, e.target) for e in result.analysis.expansions} >= {
        ("五险", "社会保险费"),
        ("老板", "用人单位"),
    }


@pytest.mark.django_db
def test_a_synonym_group_works_in_both_directions(law: Document, eddie: User) -> None:
    curation.save_lexicon_entry(
        kind=LexiconKind.SYNONYM, phrase="延长工作时间", targets=["加班"], author=eddie
    )
    assert labels("每个月最多加班多久")[:1] == ["第二条"]


@pytest.mark.django_db
def test_faq_variants_lead_to_the_article_they_rest_on(
    law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    question = "黄金周被喊回厂里干活咋算钱"
    assert labels(question)[:1] != ["第三条"]
    curation.save_faq(
        question="过节上班工资怎么算",
        variants=["黄金周被喊回去干活咋算钱", "春节值班怎么给钱"],
        answer="法定休假日上班，工资不低于百分之三百。",
        category=categories["rights"],
        segments=[law.segments.get(heading="第三条")],
        author=eddie,
    )
    assert labels(question)[:1] == ["第三条"]


@pytest.mark.django_db
def test_a_question_the_knowledge_base_cannot_answer_is_abstained_on(law: Document) -> None:
    result = search("红烧肉怎么做才能肥而不腻")
    assert result.abstained


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("question", "code"),
    [
        ("", "empty_question"),
        ("？！。，……", "no_words"),
        ("加班" * 5000, "question_too_long"),
    ],
)
def test_questions_that_cannot_be_searched_get_a_clear_error(
    law: Document, question: str, code: str
) -> None:
    with pytest.raises(QueryError) as caught:
        search(question)
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.django_db
def test_a_search_limited_to_categories_finds_only_their_passages(law: Document) -> None:
    question = "延长工作时间每月不得超过多少小时"
    assert search(question, categories=["rights"]).passages[0].heading == "第二条"
    assert search(question, categories=["safety-health", "culture"]).passages == []
    assert search(question, categories=[]).passages[0].heading == "第二条"  # no limit


@pytest.mark.django_db
def test_candidate_rows_sends_the_text_psycopg_would_and_reads_the_same_rows(law):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from knowledge import retrieval

    ids = list(law.segments.order_by("-id").values_list("id", flat=True))
    compiled = retrieval._compile_rows(len(ids), None)
    bound = list(compiled.params)
    for slot, segment_id in zip(compiled.slots, ids, strict=True):
        bound[slot] = segment_id
    assert compiled.pieces is not None  # PostgreSQL: written once, the ids put in per search
    text = connection.ops.compose_sql(compiled.sql, bound)  # type: ignore[attr-defined]
    assert compiled.statement(ids) == (text, None)
    with CaptureQueriesContext(connection) as queries:
        rows = retrieval.candidate_rows(ids, None)
    assert "%s" not in queries[-1]["sql"]
    expected = retrieval.passage_rows(retrieval.answerable_segments().filter(id__in=ids))
    assert sorted(rows) == sorted(expected) and len(rows) == len(ids)
