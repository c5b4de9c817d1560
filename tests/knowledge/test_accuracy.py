"""The accuracy page (命中率): question sets imported or added from analytics, runs on a real
worker, figures per category, what changed since the run before, and who may not."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from knowledge.models import (
    AccuracyRun,
    AskedQuestion,
    Document,
    DocumentStatus,
    QuestionSet,
    RunResult,
    SetQuestion,
    Verdict,
)
from knowledge.services import accuracy, curation
from portal import jobs
from portal.errors import NotPermitted
from portal.models import Role, User
from tests.waiting import wait_for

OVERTIME = "延长工作时间每月不得超过多少小时？"
HOLIDAY = "法定休假日上班工资怎么算"
OFF_TOPIC = "明天上海的天气怎么样，要不要带伞？"
LAW_TITLE = "中华人民共和国测试劳动法"


def jsonl(*items: dict[str, Any]) -> str:
    return "\n".join(json.dumps(item, ensure_ascii=False) for item in items)


QUESTIONS = jsonl(
    {"id": "q1", "question": OVERTIME, "law": LAW_TITLE, "articles": ["第二条"]},
    {"id": "q2", "question": HOLIDAY, "answer_key": "百分之三百", "category": "工资"},
    {"id": "q3", "question": OFF_TOPIC, "answerable": False},
)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(client: Client, text: str, **fields: Any) -> Any:
    file = SimpleUploadedFile("q.jsonl", text.encode(), content_type="application/jsonl")
    return client.post("/knowledge/accuracy/", {"file": file, **fields})


# --- importing -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_file_imports_its_questions_with_their_articles(eddie, law):
    response = upload(client_for(eddie), QUESTIONS, name="本会常见问题")

    chosen = QuestionSet.objects.get(name="本会常见问题")
    assert response.status_code == 302 and response["Location"].endswith(f"/{chosen.pk}/")
    first, second, third = chosen.questions.order_by("id")
    assert (first.document, first.articles, first.answerable) == (law, ["第二条"], True)
    assert (second.answer_key, second.category, second.document) == ("百分之三百", "工资", None)
    assert third.answerable is False


@pytest.mark.django_db
def test_broken_lines_are_reported_by_number_and_nothing_is_imported(eddie, law):
    text = "\n".join(
        [
            json.dumps({"question": OVERTIME, "answer_key": "三十六小时"}, ensure_ascii=False),
            "{not json",
            "",
            json.dumps({"answer_key": "x"}),
            json.dumps({"question": "问什么", "answerable": "yes"}, ensure_ascii=False),
            json.dumps({"question": "只有问题没有答案"}, ensure_ascii=False)[:-1]
            + ', "answerable": true}',
        ]
    )

    response = upload(client_for(eddie), text, name="坏文件")

    page = response.content.decode()
    assert response.status_code == 200
    for number in (2, 4, 5, 6):
        assert f"第 {number} 行" in page
    assert "第 1 行" not in page and "第 3 行" not in page
    assert "第 2 个字符附近有误" in page and "Expecting" not in page  # said in Chinese
    assert "未导入任何问题" in page
    assert not QuestionSet.objects.exists() and not SetQuestion.objects.exists()


@pytest.mark.django_db
def test_unknown_documents_and_articles_are_reported_and_the_questions_kept(eddie, law):
    text = jsonl(
        {
            "question": OVERTIME,
            "law": LAW_TITLE,
            "articles": ["第九十九条"],
            "answer_key": "三十六",
        },
        {"question": HOLIDAY, "law": "no-such-law.md", "answer_key": "百分之三百"},
    )

    client = client_for(eddie)
    response = upload(client, text, name="有未知条目")

    assert response.status_code == 302
    shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert any("第 1 行" in m and "第九十九条" in m for m in shown), shown
    assert any("第 2 行" in m and "no-such-law.md" in m for m in shown), shown
    assert QuestionSet.objects.get().questions.count() == 2


@pytest.mark.django_db
def test_a_set_is_bounded_with_a_clear_limit(eddie, law, settings):
    too_many = "\n".join(
        json.dumps({"question": f"第{i}个问题", "answer_key": "某"}, ensure_ascii=False)
        for i in range(accuracy.MAX_QUESTIONS + 1)
    )

    with pytest.raises(accuracy.AccuracyError) as caught:
        accuracy.import_questions(eddie, text=too_many, name="太多")

    assert "最多 10000 个问题" in caught.value.message
    assert caught.value.code == "question_set_too_large"
    assert not QuestionSet.objects.exists()


@pytest.mark.django_db
def test_evaluate_retrieval_and_the_page_read_questions_alike(eddie, law, tmp_path):
    from django.core.management import CommandError, call_command

    bad = tmp_path / "q.jsonl"
    bad.write_text(jsonl({"question": OVERTIME}) + "\n[1, 2]\n", encoding="utf-8")

    with pytest.raises(CommandError, match=r"q\.jsonl:2: not a question line"):
        call_command("evaluate_retrieval", str(bad))
    with pytest.raises(accuracy.AccuracyError, match="第 2 行"):
        accuracy.import_questions(eddie, text=bad.read_text(encoding="utf-8"), name="同一解析")


# --- from the analytics lists ----------------------------------------------------------------


@pytest.mark.django_db
def test_an_unanswered_question_joins_a_set_with_its_article_or_as_should_abstain(eddie, law):
    asked = AskedQuestion.objects.create(text="每个月加班最多多少小时", abstained=True)
    weather = AskedQuestion.objects.create(text=OFF_TOPIC, abstained=True)
    second = law.segments.get(heading="第二条")
    client = client_for(eddie)
    # A base with no set yet: the editor starts an empty one on the accuracy page, no file.
    made = client.post("/knowledge/accuracy/", {"action": "create", "name": " 来自提问分析 "})
    chosen = QuestionSet.objects.get()
    assert chosen.name == "来自提问分析" and made["Location"] == f"/knowledge/accuracy/{chosen.pk}/"
    again = client.post("/knowledge/accuracy/", {"action": "create", "name": "来自提问分析"})
    assert "已有名为“来自提问分析”的问题集。" in again.content.decode()

    form = client.get(f"/knowledge/analytics/questions/{asked.pk}/accuracy/")
    client.post(
        f"/knowledge/analytics/questions/{asked.pk}/accuracy/",
        {"set": chosen.pk, "answer": second.pk},
    )
    client.post(
        f"/knowledge/analytics/questions/{weather.pk}/accuracy/",
        {"set": chosen.pk, "answer": "abstain"},
    )

    assert second.label in form.content.decode()  # the search's passages are offered
    added, declined = chosen.questions.order_by("id")
    assert (added.text, added.document, added.articles) == (asked.text, law, ["第二条"])
    assert added.answerable and added.asked == asked
    assert not declined.answerable and declined.text == OFF_TOPIC


# --- runs ------------------------------------------------------------------------------------


def _run(eddie: User, chosen: QuestionSet) -> AccuracyRun:
    run = accuracy.start_run(eddie, chosen)
    wait_for(
        lambda: AccuracyRun.objects.filter(pk=run.pk, status__in=jobs.FINISHED).exists(),
        timeout=60,
        what="the worker to finish the run",
    )
    run.refresh_from_db()
    return run


def test_a_run_on_the_worker_scores_every_question(celery_worker, eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="第一套").question_set

    run = _run(eddie, chosen)

    assert run.status == jobs.JobStatus.SUCCEEDED and run.done == run.total == 3
    verdicts = dict(RunResult.objects.filter(run=run).values_list("question__ident", "verdict"))
    assert verdicts == {"q1": Verdict.HIT_1, "q2": Verdict.HIT_1, "q3": Verdict.ABSTAINED}
    assert run.figures["hit_at_1"] == run.figures["hit_at_3"] == 1.0
    assert run.figures["abstain_recall"] == 1.0 and run.figures["false_abstain"] == 0.0
    # Per category: the file's own, else the document's, else 应拒答.
    assert set(run.by_category) == {"工资", law.category.name, "应拒答"}
    assert run.by_category["应拒答"]["abstain_recall"] == 1.0
    client = client_for(eddie)
    page = client.get(f"/knowledge/accuracy/{chosen.pk}/").content.decode()
    assert "100.0%" in page and "这是第一次测试" in page
    progress = client.get(f"/knowledge/accuracy/runs/{run.pk}/progress/").json()
    assert progress == {"status": "succeeded", "done": 3, "total": 3, "percent": 100}


def test_the_page_lists_what_changed_since_the_run_before(celery_worker, eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="前后对比").question_set
    first = _run(eddie, chosen)
    assert first.figures["hit_at_1"] == 1.0

    curation.set_status(law, DocumentStatus.DRAFT, author=eddie)  # unpublished
    second = _run(eddie, chosen)
    previous, changed = accuracy.changes(second)

    assert previous == first
    assert {(c.text, c.direction) for c in changed} == {
        (OVERTIME, "regressed"),
        (HOLIDAY, "regressed"),
    }
    assert second.figures["hit_at_3"] == 0.0
    page = client_for(eddie).get(f"/knowledge/accuracy/{chosen.pk}/").content.decode()
    assert page.count('data-testid="change"') == 2 and "变差" in page

    curation.set_status(Document.objects.get(pk=law.pk), DocumentStatus.PUBLISHED, author=eddie)
    third = _run(eddie, chosen)
    assert {c.direction for c in accuracy.changes(third)[1]} == {"fixed"}


@pytest.mark.django_db
def test_one_run_at_a_time_per_set(eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="一次一个").question_set
    accuracy.start_run(eddie, chosen)

    response = client_for(eddie).post(f"/knowledge/accuracy/{chosen.pk}/run/", follow=True)

    assert "正在测试" in response.content.decode()
    assert AccuracyRun.objects.count() == 1


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_put_back_by_the_sweep(
    eddie, law, django_capture_on_commit_callbacks
):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="被中断").question_set
    with django_capture_on_commit_callbacks():
        run = accuracy.start_run(eddie, chosen)
    assert jobs.claim(AccuracyRun, run.pk) is not None
    AccuracyRun.objects.filter(pk=run.pk).update(heartbeat_at="2000-01-01T00:00:00Z")

    with django_capture_on_commit_callbacks(execute=False):
        swept = accuracy.sweep_runs()

    assert swept.requeued == 1
    assert AccuracyRun.objects.get(pk=run.pk).status == jobs.JobStatus.QUEUED


# --- who may not -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_started_by_an_editor_who_is_no_longer_one_is_not_run(
    eddie, law, django_capture_on_commit_callbacks
):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="换岗").question_set
    with django_capture_on_commit_callbacks(execute=False):
        run = accuracy.start_run(eddie, chosen)
    eddie.role = Role.MEMBER
    eddie.save(update_fields=["role"])

    assert accuracy.execute_run(run.pk) is False

    run.refresh_from_db()
    assert run.status == jobs.JobStatus.FAILED and run.error
    assert not RunResult.objects.filter(run=run).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["alice", "sam", "charlie"])
def test_members_and_staff_may_not_see_or_run_accuracy(who, request, eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="编辑专用").question_set
    asked = AskedQuestion.objects.create(text="问题", abstained=True)
    run = AccuracyRun.objects.create(question_set=chosen, total=3)
    user = request.getfixturevalue(who)
    client = client_for(user)

    for url in (
        "/knowledge/accuracy/",
        f"/knowledge/accuracy/{chosen.pk}/",
        f"/knowledge/accuracy/runs/{run.pk}/",
        f"/knowledge/accuracy/runs/{run.pk}/progress/",
        f"/knowledge/analytics/questions/{asked.pk}/accuracy/",
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/knowledge/accuracy/{chosen.pk}/run/").status_code == 403
    assert client.post(f"/knowledge/accuracy/{chosen.pk}/delete/").status_code == 403
    assert upload(client, QUESTIONS, name="偷偷导入").status_code == 403
    created = client.post("/knowledge/accuracy/", {"action": "create", "name": "偷偷新建"})
    assert created.status_code == 403
    with pytest.raises(NotPermitted):
        accuracy.start_run(user, chosen)
    with pytest.raises(NotPermitted):
        accuracy.create_set(user, "偷偷新建")
    assert AccuracyRun.objects.count() == 1 and QuestionSet.objects.count() == 1


@pytest.mark.django_db
def test_strangers_are_sent_to_sign_in(client, eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="登录").question_set
    response = client.get(f"/knowledge/accuracy/{chosen.pk}/")
    assert response.status_code == 302 and "login" in response["Location"]


# --- query counts ----------------------------------------------------------------------------


def _sets_with_runs(eddie: User, start: int, stop: int) -> None:
    for i in range(start, stop):
        chosen = QuestionSet.objects.create(name=f"问题集{i}", created_by=eddie)
        question = SetQuestion.objects.create(question_set=chosen, text=f"问题{i}", answer_key="某")
        run = AccuracyRun.objects.create(
            question_set=chosen,
            status=jobs.JobStatus.SUCCEEDED,
            total=1,
            done=1,
            figures={"questions": 1, "answerable": 1, "hit_at_1": 1.0, "hit_at_3": 1.0},
        )
        RunResult.objects.create(run=run, question=question, text=question.text, verdict="hit1")


def _results(eddie: User, start: int, stop: int) -> None:
    chosen, _ = QuestionSet.objects.get_or_create(name="结果列表")
    run = chosen.runs.first() or AccuracyRun.objects.create(
        question_set=chosen, status=jobs.JobStatus.SUCCEEDED
    )
    for i in range(start, stop):
        question = SetQuestion.objects.create(question_set=chosen, text=f"问题{i}", answer_key="某")
        RunResult.objects.create(run=run, question=question, text=question.text, verdict="miss")


@pytest.mark.django_db
@pytest.mark.parametrize("listing", ["sets", "set", "run"])
def test_the_lists_cost_the_same_queries_for_3_rows_as_for_30(
    listing: str, eddie: User, law: Document, django_assert_num_queries: Any
) -> None:
    client = client_for(eddie)
    add = _sets_with_runs if listing == "sets" else _results

    def url() -> str:
        if listing == "sets":
            return "/knowledge/accuracy/"
        chosen = QuestionSet.objects.get(name="结果列表")
        if listing == "set":
            return f"/knowledge/accuracy/{chosen.pk}/"
        return f"/knowledge/accuracy/runs/{chosen.runs.get().pk}/"

    add(eddie, 0, 3)
    client.get(url())
    with CaptureQueriesContext(connection) as few:
        assert client.get(url()).status_code == 200
    add(eddie, 3, 30)
    with django_assert_num_queries(len(few.captured_queries)):
        page = client.get(url()).content.decode()
    assert "问题29" in page or "问题集29" in page


@pytest.mark.django_db
def test_deleting_a_set_removes_its_runs_and_is_audited(eddie, law):
    from portal.models import AuditAction, AuditEvent

    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="要删除的").question_set
    AccuracyRun.objects.create(question_set=chosen, total=3)

    response = client_for(eddie).post(f"/knowledge/accuracy/{chosen.pk}/delete/")

    assert response.status_code == 302
    assert not QuestionSet.objects.exists() and not AccuracyRun.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.QUESTION_SET_DELETED)
    assert (event.actor, event.target, event.detail["questions"]) == (eddie, "要删除的", 3)


@pytest.mark.django_db
def test_a_set_page_s_title_is_plain_text(eddie, law):
    chosen = accuracy.import_questions(eddie, text=QUESTIONS, name="我的问题").question_set

    page = client_for(eddie).get(f"/knowledge/accuracy/{chosen.pk}/").content.decode()

    title = page.split("<title>")[1].split("</title>")[0]
    assert title == "我的问题 · 命中率 · 工会AI门户"
    assert page.count("js/accuracy.js") == 1
