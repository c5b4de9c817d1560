"""import_corpus, evaluate_retrieval, seed_demo's knowledge and the re-index job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Document, DocumentRevision, LexiconKind, Segment
from knowledge.retrieval import search
from knowledge.services import curation
from knowledge.text import segmenter
from portal.models import User
from tests.knowledge.conftest import MINI_LAW
from tests.waiting import wait_for


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    (tmp_path / "laws").mkdir()
    (tmp_path / "laws" / "test-law.md").write_text(MINI_LAW, encoding="utf-8")
    (tmp_path / "news.txt").write_text(
        "工会\n\n东莞市总工会将特别招募100位\n职工会员参与内测。\n", encoding="utf-8"
    )
    return tmp_path


@pytest.mark.django_db
def test_import_corpus_publishes_every_file_and_a_second_run_changes_nothing(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("import_corpus", str(corpus))
    assert "created 2" in capsys.readouterr().out
    segments = Segment.objects.count()
    call_command("import_corpus", str(corpus))
    assert "unchanged 2" in capsys.readouterr().out
    assert Document.objects.count() == 2 and Segment.objects.count() == segments
    assert DocumentRevision.objects.count() == 2
    assert search("内测招募多少职工会员").passages[0].title.startswith("工会")


@pytest.mark.django_db
def test_import_corpus_revises_a_changed_file(corpus: Path) -> None:
    call_command("import_corpus", str(corpus))
    law = corpus / "laws" / "test-law.md"
    law.write_text(MINI_LAW.replace("三十六小时", "四十小时"), encoding="utf-8")
    call_command("import_corpus", str(corpus), "--category", "法律援助")
    document = Document.objects.get(origin="corpus:laws/test-law.md")
    assert document.version == 2 and document.category.slug == "legal-aid"
    assert "四十小时" in document.segments.get(heading="第二条").text


@pytest.mark.django_db
def test_import_corpus_names_a_missing_category(corpus: Path) -> None:
    with pytest.raises(CommandError, match="no category"):
        call_command("import_corpus", str(corpus), "--category", "不存在")
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_evaluate_retrieval_prints_the_figures_as_its_last_line(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("import_corpus", str(corpus))
    questions = tmp_path / "q.jsonl"
    lines = [
        {
            "id": "a",
            "question": "法定休假日上班工资怎么算",
            "answer_key": "百分之三百",
            "answerable": True,
        },
        {
            "id": "b",
            "question": "每个月最多延长工作时间多少小时",
            "answer_key": "每月不得超过三十六小时",
            "answerable": True,
        },
        {"id": "c", "question": "红烧肉怎么做才好吃", "answer_key": None, "answerable": False},
    ]
    questions.write_text(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8"
    )
    capsys.readouterr()
    call_command("evaluate_retrieval", str(questions), "--json")
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert len(out) == 4
    assert summary["questions"] == 3 and summary["answerable"] == 2
    assert summary["hit_at_1"] == 1.0, out
    assert summary["hit_at_3"] == 1.0 and summary["mrr"] == 1.0
    assert summary["abstain_recall"] == 1.0 and summary["false_abstain"] == 0.0
    assert set(summary) >= {"p50_ms", "p95_ms", "mean_passage_chars"}


@pytest.mark.django_db
def test_evaluate_retrieval_rejects_a_file_that_is_not_questions(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"bad\.jsonl:1"):
        call_command("evaluate_retrieval", str(bad))


def test_a_lexicon_term_change_is_re_indexed_by_the_worker(
    celery_worker: object, eddie: User, corpus: Path
) -> None:
    call_command("import_corpus", str(corpus))
    assert "测试劳动法" not in segmenter.tokens("中华人民共和国测试劳动法")
    curation.save_lexicon_entry(kind=LexiconKind.TERM, phrase="测试劳动法", author=eddie)

    def indexed() -> bool:
        return (
            bool(search("测试劳动法").passages)
            and "测试劳动法" in search("测试劳动法").passages[0].matched
        )

    wait_for(indexed, what="the re-index job to index the new word")


@pytest.mark.django_db
def test_reindex_knowledge_now_rebuilds_the_index(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("import_corpus", str(corpus))
    Segment.objects.update(term_count=0)  # as if the index had been lost
    call_command("reindex_knowledge", "--now")
    assert "indexed 6 segments" in capsys.readouterr().out  # five articles and the news
    assert search("法定休假日加班工资").passages[0].heading == "第三条"
