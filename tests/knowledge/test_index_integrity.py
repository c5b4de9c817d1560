"""The index stays exactly what a rebuild would make, whatever route a change takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from knowledge import indexing, tasks
from knowledge.models import (
    Category,
    Document,
    DocumentStatus,
    FaqEntry,
    IndexStats,
    IndexTerm,
    LexiconKind,
    Posting,
    Segment,
    SegmentTerms,
)
from knowledge.retrieval import search
from knowledge.services import curation
from knowledge.text import Segmenter
from portal.models import User
from tests.knowledge.conftest import MINI_LAW


def snapshot() -> tuple[set[tuple[int, str, int]], dict[str, int], tuple[int, int]]:
    postings = set(Posting.objects.values_list("segment_id", "term__text", "tf"))
    df = dict(IndexTerm.objects.filter(df__gt=0).values_list("text", "df"))
    stats = IndexStats.objects.filter(pk=1).first()
    return postings, df, (stats.segments, stats.terms) if stats else (0, 0)


def assert_index_is_consistent() -> None:
    postings, df, stats = snapshot()
    counted = dict(
        Posting.objects.values("term__text")
        .annotate(n=Count("segment"))
        .values_list("term__text", "n")
    )
    assert df == counted, "document frequencies disagree with the postings"
    forward = {
        (row.segment_id, term_id, tf)
        for row in SegmentTerms.objects.all()
        for term_id, tf in zip(
            np.frombuffer(bytes(row.terms), dtype=">i8").tolist(),
            np.frombuffer(bytes(row.tf), dtype=">i2").tolist(),
            strict=True,
        )
    }
    assert forward == set(Posting.objects.values_list("segment_id", "term_id", "tf")), (
        "the forward index disagrees with the postings"
    )
    assert dict(SegmentTerms.objects.values_list("segment_id", "length")) == dict(
        Segment.objects.filter(term_count__gt=0).values_list("id", "term_count")
    ), "the forward index's lengths disagree with the segments'"
    indexed = Segment.objects.filter(term_count__gt=0).aggregate(n=Count("id"), t=Sum("term_count"))
    assert stats == (indexed["n"], indexed["t"] or 0), "collection statistics drifted"
    indexing.reindex_all()
    assert snapshot() == (postings, df, stats), "a rebuild makes a different index"


def faq_on_third(eddie: User, law: Document, categories: dict[str, Category]) -> FaqEntry:
    return curation.save_faq(
        question="过节上班工资怎么算",
        variants=["国庆节上班给几倍工资"],
        answer="不低于百分之三百。",
        category=categories["rights"],
        segments=[law.segments.get(heading="第三条")],
        tags=["加班"],
        author=eddie,
    )


@pytest.mark.django_db
def test_editing_a_published_document_keeps_the_index_and_the_faq_citations(
    law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    faq = faq_on_third(eddie, law, categories)
    curation.edit_segment(law.segments.get(heading="第五条"), enabled=False, author=eddie)
    fields = curation.DocumentFields(
        title=law.title, category=law.category, body=MINI_LAW.replace("三十六小时", "四十小时")
    )
    curation.update_document(law, fields, author=eddie)

    assert [s.heading for s in faq.segments.all()] == ["第三条"]
    assert not law.segments.get(heading="第五条").enabled
    assert search("国庆节上班给几倍工资").passages[0].heading == "第三条"
    assert_index_is_consistent()


@pytest.mark.django_db
def test_deleting_a_document_takes_it_out_of_the_index(
    law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    curation.create_document(
        curation.DocumentFields(
            title="另一部法",
            category=categories["rights"],
            body="第一条 工会会员有权参加活动。\n第二条 工会经费。\n第三条 会员大会。",
        ),
        author=eddie,
        status=DocumentStatus.PUBLISHED,
    )
    law.delete()
    assert search("法定休假日加班工资").passages == [] or all(
        p.title == "另一部法" for p in search("法定休假日加班工资").passages
    )
    assert_index_is_consistent()


@pytest.mark.django_db
def test_archiving_and_deleting_an_faq_keep_the_index(
    law: Document, eddie: User, categories: dict[str, Category], django_capture_on_commit_callbacks
) -> None:
    faq = faq_on_third(eddie, law, categories)
    curation.set_status(law, DocumentStatus.ARCHIVED, author=eddie)
    assert_index_is_consistent()
    curation.set_status(law, DocumentStatus.DRAFT, author=eddie)
    curation.set_status(law, DocumentStatus.PUBLISHED, author=eddie)
    with django_capture_on_commit_callbacks(execute=True):
        FaqEntry.objects.filter(pk=faq.pk).delete()  # as the admin's bulk delete does
    assert search("国庆节上班给几倍工资").faq_hits == []  # its wording leads nowhere now
    assert_index_is_consistent()


@pytest.mark.django_db
def test_the_faq_page_keeps_an_entrys_status_and_tags(
    client, law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    faq = faq_on_third(eddie, law, categories)
    curation.save_faq(
        question=faq.question,
        answer=faq.answer,
        category=faq.category,
        segments=list(faq.segments.all()),
        tags=["加班"],
        status="draft",
        author=eddie,
        faq=faq,
    )
    client.force_login(eddie)
    page = client.get(f"/knowledge/faq/{faq.pk}/")
    form = page.context["form"]
    data = {
        k: form.initial.get(k, "")
        for k in ("question", "variants", "answer", "cites", "tags", "status")
    }
    data["category"] = categories["rights"].pk
    assert client.post(f"/knowledge/faq/{faq.pk}/", data).status_code == 302
    faq.refresh_from_db()
    assert (faq.status, faq.tags) == ("draft", ["加班"])


@pytest.mark.django_db
def test_import_corpus_leaves_an_archived_document_archived(tmp_path: Path, eddie: User) -> None:
    (tmp_path / "law.md").write_text(MINI_LAW, encoding="utf-8")
    call_command("import_corpus", str(tmp_path))
    document = Document.objects.get()
    curation.set_status(document, DocumentStatus.ARCHIVED, author=eddie)
    (tmp_path / "law.md").write_text(MINI_LAW.replace("三十六", "四十"), encoding="utf-8")
    call_command("import_corpus", str(tmp_path))
    document.refresh_from_db()
    assert document.status == DocumentStatus.ARCHIVED and document.version > 2
    assert_index_is_consistent()


def test_removing_a_lexicon_word_restores_the_segmenters_own_words() -> None:
    segmenter = Segmenter()
    before = segmenter.words("工伤认定")
    segmenter.sync_words(["工伤"])
    segmenter.sync_words([])
    assert segmenter.words("工伤认定") == before


@pytest.mark.django_db
def test_the_re_index_job_after_a_new_word_leaves_a_consistent_index(
    law: Document, eddie: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks() as queued:
        curation.save_lexicon_entry(kind=LexiconKind.TERM, phrase="测试劳动法", author=eddie)
    assert len(queued) == 1  # the re-index job, enqueued once the entry is committed
    tasks.reindex_all()  # what the worker runs
    assert IndexTerm.objects.filter(text="测试劳动法", df=5).exists()
    assert_index_is_consistent()
