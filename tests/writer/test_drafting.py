"""Drafting with a real worker (thread pool, as `serve` runs queue llm): sections in parallel,
text arriving, one failing and retried, hangs, thinking, the sweep, the no-model fill."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from portal import jobs
from portal.celery import app
from portal.jobs import JobStatus
from portal.models import Role, User
from tests.fakes.openai import FakeOpenAI
from tests.fakes.server import Behaviour
from tests.waiting import wait_for
from tests.writer.conftest import OUTING_FORM, settled
from writer.models import Draft, DraftSection, DraftStatus, SectionRevision, WritingTemplate
from writer.services import drafting

pytestmark = pytest.mark.django_db(transaction=True)


def start(user: User, slug: str = "spring-autumn-outing", **values: Any) -> Draft:
    return drafting.create_draft(user, slug, {**OUTING_FORM, **values})


def test_sections_are_written_at_the_same_time_with_the_text_arriving(
    celery_threads_worker: Any, templates: Any, corpus: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    writer_model.default = Behaviour(token_delay=0.06)  # about 1.4 s per section
    draft = start(sam)
    assert draft.status == DraftStatus.QUEUED and draft.sections_total == 6

    def partial() -> DraftSection | None:
        return DraftSection.objects.filter(
            draft=draft, status=JobStatus.RUNNING, content__gt=""
        ).first()

    arriving = wait_for(partial, timeout=20, what="a section's text arriving")
    assert arriving is not None and 0 < len(arriving.content) < len(writer_model.reply)
    draft = settled(draft.pk)
    assert draft.status == DraftStatus.READY
    sections = list(draft.sections.order_by("started_at"))
    spans = [(s.started_at, s.finished_at) for s in sections if s.started_at and s.finished_at]
    assert len(spans) == 6
    first_end = min(end for _start, end in spans)
    # Four slots: four sections were being written before the first one ended.
    assert sum(1 for start, _end in spans if start < first_end) >= 4
    for s in sections:
        assert s.content == writer_model.reply and s.by_model
        assert s.revisions.get().kind == "generated"
    cited = [s for s in sections if s.citations]
    assert cited and cited[0].citations[0]["label"].startswith("《职工疗休养管理办法（测试）》")
    # The contact's mobile number never reached the model.
    bodies = [r.json() for r in writer_model.hits("/v1/chat/completions")]
    sent = json.dumps(bodies, ensure_ascii=False)
    assert "13812345678" not in sent and "138****5678" in sent and "松山湖" in sent


def test_with_no_model_the_template_text_is_filled_and_the_passages_are_its_citations(
    celery_threads_worker: Any, templates: Any, corpus: Any, sam: User
) -> None:
    draft = settled(start(sam).pk)
    assert draft.status == DraftStatus.READY
    first, _second, _third, _fourth, funds, safety = draft.sections.order_by("position")
    # The text is the template's, filled, as a draft reads: the passages are not quoted in it.
    assert first.content == (
        "为丰富职工业余文化生活，增强职工队伍的凝聚力和向心力，让职工在紧张工作之余放松身心，"
        "经研究，虎门镇总工会决定于2026年4月18日组织开展2026年职工春游活动。"
    )
    assert "{{" not in "".join(s.content for s in draft.sections.all())
    assert "人均200元" in funds.content
    assert not any("参考资料" in s.content or "\n> " in s.content for s in draft.sections.all())
    # ...they are its citations, listed under it, as a model's are.
    assert first.citations[0]["label"].startswith("《职工疗休养管理办法（测试）》")
    assert first.citations[0]["text"] not in first.content
    # A section searches its own categories only: safety draws on 安全生产, not 疗休养.
    assert safety.citations == []
    assert not any(s.by_model for s in draft.sections.all())
    assert draft.title == "虎门镇总工会关于组织开展2026年职工春游活动的方案"
    assert draft.doc_date.isoformat() == "2026-03-20"


def test_a_provider_failing_in_one_section_fails_that_section_alone_and_retry_mends_it(
    celery_threads_worker: Any, templates: Any, writer_model: FakeOpenAI, sam: User, api: Any
) -> None:
    writer_model.then(Behaviour(status=400))  # not retried: the section fails
    draft = settled(start(sam).pk)
    assert (draft.status, draft.status_label) == (DraftStatus.PARTIAL, "部分失败")
    failed = draft.sections.get(status=JobStatus.FAILED)
    assert failed.error and failed.content == ""
    assert draft.sections.filter(status=JobStatus.SUCCEEDED).count() == 5
    shown = api(sam).get(f"/api/v1/drafts/{draft.pk}/").json()
    assert shown["status"] == "partial" and shown["progress"] == {"done": 5, "total": 6}
    assert shown["sections"][failed.position - 1]["status"] == "failed"
    assert shown["sections"][failed.position - 1]["error"] == failed.error
    retried = api(sam).post(f"/api/v1/drafts/{draft.pk}/sections/{failed.position}/regenerate/")
    assert retried.status_code == 202
    draft = settled(draft.pk)
    assert draft.status == DraftStatus.READY and draft.sections_failed == 0
    assert DraftSection.objects.get(pk=failed.pk).content == writer_model.reply


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_model_nobody_can_reach_fails_every_section_and_the_draft_says_so(
    templates: Any, corpus: Any, configure: Any, sam: User, api: Any, client: Client
) -> None:
    configure("down", f"http://127.0.0.1:{_closed_port()}/v1", use_for=("writer",), max_retries=0)
    draft = start(sam)
    app.control.purge()  # written here, one after another
    for section in draft.sections.all():
        drafting.run_section(section.pk)

    draft.refresh_from_db()
    assert (draft.status, draft.status_label) == (DraftStatus.FAILED, "生成失败")
    sections = list(draft.sections.all())
    # Each keeps its reason and its retry; none gets the template's text in the model's place.
    assert all(s.status == JobStatus.FAILED and s.error for s in sections)
    assert all(s.content == "" and not s.by_model for s in sections)
    assert not SectionRevision.objects.filter(section__draft=draft).exists()
    shown = api(sam).get(f"/api/v1/drafts/{draft.pk}/").json()
    assert shown["status"] == "failed" and shown["progress"] == {"done": 0, "total": 6}
    client.force_login(sam)
    page = client.get(f"/writer/drafts/{draft.pk}/").content.decode()
    assert 'badge-err" data-draft-status>生成失败</span>' in page and "部分失败" not in page
    assert page.count("data-retry>") == 6
    listed = client.get("/writer/").content.decode()
    assert '<span class="badge badge-err">生成失败</span>' in listed


def test_a_hanging_provider_ends_in_a_failed_section_with_a_reason(
    celery_threads_worker: Any,
    templates: Any,
    fake_openai: FakeOpenAI,
    configure: Any,
    sam: User,
) -> None:
    configure("fake", f"{fake_openai.url}/v1", use_for=("writer",), timeout=1.0, max_retries=0)
    fake_openai.then(Behaviour(hang=True))
    draft = settled(
        start(
            sam,
        ).pk,
        timeout=40,
    )
    failed = draft.sections.get(status=JobStatus.FAILED)
    assert "超时" in failed.error or "不可用" in failed.error
    assert draft.sections_done == 5


def test_a_reasoning_models_thinking_is_not_part_of_the_section(
    celery_threads_worker: Any, templates: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    writer_model.reasoning = "先想一想怎么写"
    draft = settled(start(sam).pk)
    assert all(s.content == writer_model.reply for s in draft.sections.all())


def test_a_section_whose_text_fails_the_word_list_fails_and_keeps_none_of_it(
    celery_threads_worker: Any, templates: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    from portal.ai import safety
    from portal.ai.models import SafetyAction, SensitiveTerm

    SensitiveTerm.objects.update_or_create(
        term="冰毒", defaults={"category": "违禁品", "action": SafetyAction.BLOCK, "enabled": True}
    )
    safety.list_changed()
    writer_model.reply = "活动安排如下。" * 10 + "冰毒" + "其余安排照常。" * 10
    writer_model.default = Behaviour(token_delay=0.02)  # saved while arriving, several times
    draft = settled(start(sam).pk)
    sections = list(draft.sections.all())
    assert sections and all(s.status == JobStatus.FAILED for s in sections)
    assert all("内容安全检查" in s.error and "冰毒" not in s.content for s in sections)


def test_a_think_block_in_the_answer_is_not_part_of_the_section(
    celery_threads_worker: Any, templates: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    writer_model.reply = "<think>先想一想</think>本段正文。"
    draft = settled(start(sam).pk)
    assert all(s.content == "本段正文。" for s in draft.sections.all())


def test_a_template_deleted_while_a_draft_is_written_changes_nothing_for_the_draft(
    celery_threads_worker: Any,
    templates: dict[str, WritingTemplate],
    writer_model: FakeOpenAI,
    sam: User,
    eddie: User,
) -> None:
    from writer.services.templates import delete_template

    writer_model.default = Behaviour(token_delay=0.05)
    draft = start(sam)
    wait_for(lambda: draft.sections.filter(status=JobStatus.RUNNING).exists(), what="writing")
    delete_template(eddie, templates["spring-autumn-outing"])
    draft = settled(draft.pk)
    assert draft.status == DraftStatus.READY and draft.template is None
    assert (draft.template_title, draft.version_number) == ("活动方案·职工春秋游", 1)


def test_the_sweep_picks_up_a_section_a_dead_worker_left(
    request: pytest.FixtureRequest, templates: Any, sam: User
) -> None:
    draft = start(sam)  # no worker yet: the messages wait in Redis
    app.control.purge()  # ...and are lost, as the filesystem broker loses a taken message
    dead = draft.sections.get(position=2)
    assert jobs.claim(DraftSection, dead.pk) is not None  # a worker took it, then died
    long_ago = timezone.now() - timedelta(minutes=10)
    DraftSection.objects.filter(pk=dead.pk).update(heartbeat_at=long_ago, content="写到一半")
    DraftSection.objects.filter(draft=draft).exclude(pk=dead.pk).update(enqueued_at=long_ago)
    request.getfixturevalue("celery_threads_worker")  # a new worker: nothing reaches it
    swept = drafting.sweep_sections()
    assert (swept.requeued, swept.resent, swept.failed) == (1, 5, 0)
    draft = settled(draft.pk)
    assert draft.status == DraftStatus.READY
    again = DraftSection.objects.get(pk=dead.pk)
    assert again.attempts == 2 and "写到一半" not in again.content
    assert SectionRevision.objects.filter(section__draft=draft).count() == 6


def test_the_sweep_gives_up_on_a_section_after_its_attempts(templates: Any, sam: User) -> None:
    draft = start(sam)
    app.control.purge()
    dead = draft.sections.get(position=1)
    jobs.claim(DraftSection, dead.pk)
    DraftSection.objects.filter(pk=dead.pk).update(
        attempts=drafting.MAX_ATTEMPTS, heartbeat_at=timezone.now() - timedelta(minutes=10)
    )
    assert drafting.sweep_sections().failed == 1
    dead.refresh_from_db()
    assert dead.status == JobStatus.FAILED and "重试" in dead.error
    assert Draft.objects.get(pk=draft.pk).sections_failed == 1
    app.control.purge()


def test_a_section_job_run_twice_writes_once(templates: Any, sam: User) -> None:
    draft = start(sam)
    app.control.purge()
    section = draft.sections.get(position=1)
    drafting.run_section(section.pk)
    drafting.run_section(section.pk)
    assert section.revisions.count() == 1
    assert Draft.objects.get(pk=draft.pk).sections_done == 1


def test_a_section_is_not_written_for_someone_who_may_no_longer_draft(
    templates: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    draft = start(sam)
    app.control.purge()
    sam.role = Role.MEMBER  # moved out of the union's staff while the draft waited
    sam.save(update_fields=["role"])
    section = draft.sections.get(position=1)

    drafting.run_section(section.pk)

    section.refresh_from_db()
    assert section.status == JobStatus.FAILED and section.error
    assert not section.revisions.exists()
    assert not writer_model.hits("/v1/chat/completions")
    assert Draft.objects.get(pk=draft.pk).sections_failed == 1


def test_the_model_reads_the_form_by_its_labels(
    celery_threads_worker: Any, templates: Any, writer_model: FakeOpenAI, sam: User
) -> None:
    settled(start(sam).pk)
    prompt = writer_model.hits("/v1/chat/completions")[0].json()["messages"][1]["content"]
    assert "目的地：松山湖" in prompt and "活动类型：春游" in prompt and "<表单>" in prompt


def test_a_worker_written_draft_is_edited_by_two_people_and_its_revisions_restored(
    celery_threads_worker: Any,
    templates: Any,
    writer_model: FakeOpenAI,
    sam: User,
    units: Any,
    api: Any,
) -> None:
    from portal.models import Role
    from tests import people
    from writer.services import editing, sharing

    people.make_user("tina", role=Role.STAFF, unit=units["town"])
    draft = settled(start(sam).pk)
    sharing.share(sam, draft.pk, "tina", can_edit=True)
    tina = User.objects.get(username="tina")
    url = f"/api/v1/drafts/{draft.pk}/sections/4/"
    assert (
        api(sam).put(url, {"content": "山姆改的", "version": 1}, format="json").status_code == 200
    )
    late = api(tina).put(url, {"content": "蒂娜改的", "version": 1}, format="json")
    assert (late.status_code, late.json()["code"]) == (409, "edit_conflict")
    assert [(d.kind, d.text) for d in editing.diff(writer_model.reply, "山姆改的")] == [
        ("removed", writer_model.reply),
        ("added", "山姆改的"),
    ]
    restored = editing.restore_revision(tina, draft.pk, 4, revision=1, version=2)
    assert (restored.content, restored.version, restored.by_model) == (writer_model.reply, 3, True)
