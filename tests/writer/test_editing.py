"""Editing, revisions and their diff, concurrent edits, sharing rules; the draft written in
this process (no model), so no worker is needed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from portal.models import AuditAction, AuditEvent, Role, User
from tests import people
from tests.fakes.openai import FakeOpenAI
from tests.writer.conftest import OUTING_FORM
from writer.models import Draft, DraftShare, RevisionKind, WriterAction, WriterUsage
from writer.services import drafting, editing, sharing

pytestmark = pytest.mark.django_db


@pytest.fixture
def tina(units: Any) -> User:
    """Staff of sam's union unit (虎门镇总工会)."""
    return people.make_user("tina", role=Role.STAFF, unit=units["town"])


@pytest.fixture
def draft(templates: Any, sam: User) -> Draft:
    made = drafting.create_draft(sam, "spring-autumn-outing", OUTING_FORM)
    for section in made.sections.all():
        drafting.run_section(section.pk)
    made.refresh_from_db()
    assert made.status == "ready"
    return made


def test_every_save_keeps_a_revision_and_an_old_one_can_be_restored_with_its_diff(
    draft: Draft, sam: User, client: Client
) -> None:
    section = draft.sections.get(position=1)
    original = section.content
    saved = editing.save_section(sam, draft.pk, 1, content="第一稿。\n第二行。", version=1)
    saved = editing.save_section(sam, draft.pk, 1, content="第一稿。\n改过的第二行。", version=2)
    assert saved.version == 3
    assert [r.kind for r in saved.revisions.order_by("version")] == [
        RevisionKind.GENERATED,
        RevisionKind.EDITED,
        RevisionKind.EDITED,
    ]
    lines = editing.diff("第一稿。\n第二行。", saved.content)
    assert [(d.kind, d.text) for d in lines] == [
        ("same", "第一稿。"),
        ("removed", "第二行。"),
        ("added", "改过的第二行。"),
    ]
    client.force_login(sam)
    page = client.get(f"/writer/drafts/{draft.pk}/sections/1/revisions/?v=2").content.decode()
    assert (
        'class="diff-removed">- 第二行。' in page and 'class="diff-added">+ 改过的第二行。' in page
    )
    restored = client.post(
        f"/writer/drafts/{draft.pk}/sections/1/restore/", {"revision": 1, "version": 3}
    )
    assert restored.status_code == 302
    section.refresh_from_db()
    assert (section.content, section.version) == (original, 4)
    assert section.revisions.get(version=4).kind == RevisionKind.RESTORED


def test_the_second_of_two_concurrent_saves_is_refused_and_overwrites_nothing(
    draft: Draft, sam: User, tina: User, api: Any
) -> None:
    sharing.share(sam, draft.pk, "tina", can_edit=True)
    url = f"/api/v1/drafts/{draft.pk}/sections/2/"
    first = api(sam).put(url, {"content": "山姆的修改", "version": 1}, format="json")
    second = api(tina).put(url, {"content": "蒂娜的修改", "version": 1}, format="json")
    assert first.status_code == 200 and first.json()["version"] == 2
    assert (second.status_code, second.json()["code"]) == (409, "edit_conflict")
    assert "已被他人修改" in second.json()["detail"]
    assert draft.sections.get(position=2).content == "山姆的修改"


def test_a_section_longer_than_the_limit_is_refused(draft: Draft, sam: User, api: Any) -> None:
    url = f"/api/v1/drafts/{draft.pk}/sections/2/"
    refused = api(sam).put(url, {"content": "字" * 50_000, "version": 1}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (400, "content_too_long")
    assert draft.sections.get(position=2).version == 1


def test_sharing_within_the_unit_view_or_edit_and_nobody_else(
    draft: Draft, sam: User, tina: User, otto: User, alice: User, eddie: User, api: Any
) -> None:
    url = f"/api/v1/drafts/{draft.pk}/"
    missing = api(otto).get("/api/v1/drafts/999999/")
    for stranger in (tina, otto, eddie):
        response = api(stranger).get(url)
        assert response.status_code == 404 and response.json() == missing.json()
    assert api(alice).get(url).status_code == 403  # members may not draft at all
    with pytest.raises(Exception, match="只能共享给本工会组织的工会干部"):
        sharing.share(sam, draft.pk, "otto", can_edit=False)  # another unit
    with pytest.raises(Exception, match="只能共享给本工会组织的工会干部"):
        sharing.share(sam, draft.pk, "alice", can_edit=False)  # not staff
    sharing.share(sam, draft.pk, "tina", can_edit=False)
    assert api(tina).get(url).status_code == 200
    refused = api(tina).put(f"{url}sections/1/", {"content": "x", "version": 1}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")
    assert api(tina).post(f"{url}sections/1/regenerate/").status_code == 403
    sharing.share(sam, draft.pk, "tina", can_edit=True)
    assert (
        api(tina)
        .put(f"{url}sections/1/", {"content": "x", "version": 1}, format="json")
        .status_code
        == 200
    )
    with pytest.raises(Exception, match="只有起草人"):
        sharing.share(tina, draft.pk, "sam", can_edit=True)
    sharing.unshare(sam, draft.pk, tina.pk)
    assert api(tina).get(url).status_code == 404
    assert not DraftShare.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.DRAFT_UNSHARED, actor=sam, target=f"draft {draft.pk} → tina"
    ).exists()


def test_a_draft_shared_view_only_shows_no_editing_tools_and_the_server_refuses_them(
    draft: Draft, sam: User, tina: User, otto: User, client: Client
) -> None:
    sharing.share(sam, draft.pk, "tina", can_edit=False)
    edited = editing.save_section(sam, draft.pk, 1, content="山姆改过的一段。", version=1)
    page_url = f"/writer/drafts/{draft.pk}/"
    client.force_login(tina)

    page = client.get(page_url).content.decode()

    assert "sam 共享（仅查看）" in page and "一、活动目的" in page
    for control in ("润色", "扩写", "替换选中的文字", "规范检查", "data-tool", "data-edit"):
        assert control not in page, control
    assert "data-regen" not in page and "data-retry" not in page
    history = client.get(f"/writer/drafts/{draft.pk}/sections/1/revisions/").content.decode()
    assert "第 1 版" in history and "恢复此版" not in history

    def tool(name: str) -> Any:
        return client.post(
            f"/api/v1/writer/tools/{name}/",
            json.dumps({"text": "大家一起搞定它", "draft": draft.pk}),
            content_type="application/json",
        )

    # The server refuses what the page does not offer.
    for name in ("polish", "expand"):
        refused = tool(name)
        assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted"), name
        assert "只共享给您查看" in refused.json()["detail"]
    assert tool("check").status_code == 200  # 规范检查 reads only
    restore = client.post(
        f"/writer/drafts/{draft.pk}/sections/1/restore/", {"revision": 1, "version": 2}
    )
    assert restore.status_code == 302
    section = draft.sections.get(position=1)
    assert (section.version, section.content) == (edited.version, "山姆改过的一段。")
    assert not WriterUsage.objects.filter(action=WriterAction.TOOL, detail="polish").exists()
    # Someone it was not shared with does not learn it exists; its editors keep the tools.
    client.force_login(otto)
    assert tool("polish").status_code == 404 and tool("check").status_code == 404
    sharing.share(sam, draft.pk, "tina", can_edit=True)
    client.force_login(tina)
    page = client.get(page_url).content.decode()
    assert "（仅查看）" not in page and 'data-tool="polish"' in page and "data-edit" in page
    assert (tool("polish").status_code, tool("polish").json()["code"]) == (503, "tool_unavailable")


def test_the_share_page_form_and_the_draft_page_of_a_stranger(
    draft: Draft, sam: User, tina: User, otto: User, client: Client
) -> None:
    client.force_login(sam)
    response = client.post(
        f"/writer/drafts/{draft.pk}/share/", {"username": "tina", "access": "edit"}
    )
    assert response.status_code == 302 and DraftShare.objects.get().can_edit
    client.force_login(otto)
    assert client.get(f"/writer/drafts/{draft.pk}/").status_code == 404
    assert client.post(f"/writer/drafts/{draft.pk}/share/", {"username": "otto"}).status_code == 404


def test_regenerating_a_section_queues_it_again_with_the_extra_instruction(
    draft: Draft, sam: User, api: Any, client: Client, writer_model: FakeOpenAI
) -> None:
    client.force_login(sam)
    page = client.get(f"/writer/drafts/{draft.pk}/").content.decode()
    assert page.count("data-instruction") == 6 and "data-regen-no-model" not in page
    response = api(sam).post(
        f"/api/v1/drafts/{draft.pk}/sections/3/regenerate/", {"instruction": "突出一线职工"}
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    draft.refresh_from_db()
    assert (draft.sections_done, draft.status) == (5, "generating")
    busy = api(sam).post(f"/api/v1/drafts/{draft.pk}/sections/3/regenerate/")
    assert (busy.status_code, busy.json()["code"]) == (409, "section_busy")
    section = draft.sections.get(position=3)
    assert section.extra_instruction == "突出一线职工"
    editing_busy = api(sam).put(
        f"/api/v1/drafts/{draft.pk}/sections/3/",
        {"content": "x", "version": section.version},
        format="json",
    )
    assert (editing_busy.status_code, editing_busy.json()["code"]) == (409, "section_busy")
    drafting.run_section(section.pk)
    draft.refresh_from_db()
    assert draft.status == "ready" and draft.sections.get(position=3).revisions.count() == 2
    sent = writer_model.hits("/v1/chat/completions")[-1].json()["messages"][1]["content"]
    assert "补充要求：突出一线职工" in sent


def test_without_a_model_an_extra_instruction_is_refused_and_the_page_says_so_first(
    draft: Draft, sam: User, api: Any, client: Client
) -> None:
    client.force_login(sam)
    page = client.get(f"/writer/drafts/{draft.pk}/").content.decode()
    # Before anything is typed: no instruction to type, and why.
    assert "data-instruction" not in page
    assert page.count("data-regen-no-model") == 6 and "不能按补充要求改写" in page
    url = f"/api/v1/drafts/{draft.pk}/sections/3/regenerate/"
    before = draft.sections.get(position=3)

    refused = api(sam).post(url, {"instruction": "突出一线职工"}, format="json")

    assert (refused.status_code, refused.json()["code"]) == (503, "instruction_needs_model")
    assert "补充要求不会起作用" in refused.json()["detail"]
    section = draft.sections.get(position=3)
    assert (section.status, section.version, section.extra_instruction) == (
        before.status,
        before.version,
        "",
    )
    draft.refresh_from_db()
    assert draft.status == "ready"
    assert not WriterUsage.objects.filter(action=WriterAction.REGENERATE).exists()
    # With no instruction it is the template's text again, as the page says.
    for body in ({}, {"instruction": "  "}):
        again = api(sam).post(url, body, format="json")
        assert again.status_code == 202
        drafting.run_section(section.pk)
    section.refresh_from_db()
    assert section.content == before.content and section.revisions.count() == 3


def test_the_preview_is_rendered_and_sanitised_on_the_server(sam: User, client: Client) -> None:
    client.force_login(sam)
    html = client.post(
        "/writer/preview/",
        {
            "text": "**加粗**[1]\n\n<script>alert(1)</script>\n\n[链接](javascript:alert(1))",
            "anchor": "s1",
        },
    ).json()["html"]
    assert "<strong>加粗</strong>" in html and 'href="#s1-cite-1"' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html
