"""The Write API as the issue lists it, bad forms answered 400 per field with nothing saved,
who may draft, export refused while generating, and the quick tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from portal.jobs import JobStatus
from portal.models import User
from tests.fakes.openai import FakeOpenAI
from tests.writer.conftest import OUTING_FORM
from writer.models import Draft, DraftExport, DraftSection, WriterAction, WriterUsage
from writer.services import drafting

pytestmark = pytest.mark.django_db


def test_templates_list_their_typed_fields(templates: Any, sam: User, api: Any) -> None:
    listed = {t["slug"]: t for t in api(sam).get("/api/v1/templates/").json()}
    outing = listed["spring-autumn-outing"]
    assert (outing["title"], outing["kind"]) == ("活动方案·职工春秋游", "activity_plan")
    season = next(f for f in outing["fields"] if f["name"] == "season")
    assert season == {
        "name": "season",
        "label": "活动类型",
        "type": "choice",
        "required": True,
        "choices": ["春游", "秋游", "疗休养"],
        "max_length": None,
        "min": None,
        "max": None,
        "decimals": None,
        "help": "",
    }
    # Years, days and people are whole numbers; the sum per person may have cents.
    numbers = {f["name"]: f["decimals"] for f in outing["fields"] if f["type"] == "number"}
    assert numbers == {"year": 0, "days": 0, "participants": 0, "budget": 2}
    assert {f["type"] for f in outing["fields"]} == {
        "unit",
        "number",
        "choice",
        "text",
        "date",
        "long_text",
    }


def test_a_draft_is_accepted_with_202_and_shown_queued(templates: Any, sam: User, api: Any) -> None:
    created = api(sam).post(
        "/api/v1/drafts/",
        {
            "template": "notice",
            "fields": {
                "recipients": "各基层工会",
                "subject": "开展职工技能培训",
                "details": "培训安排如下。",
                "contact": "王建国",
                "doc_date": "2026-12-04",
            },
        },
        format="json",
    )
    assert created.status_code == 202
    assert created.json() == {"id": created.json()["id"], "status": "queued"}
    shown = api(sam).get(f"/api/v1/drafts/{created.json()['id']}/").json()
    assert shown["status"] == "queued" and shown["progress"] == {"done": 0, "total": 3}
    assert shown["title"] == "关于开展职工技能培训的通知"
    assert [s["heading"] for s in shown["sections"]] == [
        "一、总体要求",
        "二、主要事项",
        "三、工作要求",
    ]
    assert {s["status"] for s in shown["sections"]} == {"queued"}
    assert shown["sections"][0]["citations"] == []
    assert WriterUsage.objects.get().action == WriterAction.DRAFT


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"destination": None}, "destination", "请填写"),
        ({"unit": ""}, "unit", "请填写“工会名称”"),  # never the drafter's unit instead
        ({"unit": "  "}, "unit", "请填写“工会名称”"),
        ({"days": "三天"}, "days", "应为数字"),
        ({"days": 30}, "days", "应在 1 到 7 之间"),
        ({"year": 2026.5}, "year", "“年度”应为整数"),
        ({"days": 2.5}, "days", "“天数”应为整数"),
        ({"participants": "120.7"}, "participants", "“参加人数”应为整数"),
        ({"days": 0.5}, "days", "“天数”应为整数"),
        ({"budget": 200.555}, "budget", "“人均标准（元）”最多保留 2 位小数"),
        ({"year": "1e30"}, "year", "数值太大"),
        ({"days": [1]}, "days", "应为数字"),
        ({"start_date": "下周六"}, "start_date", "应为日期"),
        ({"season": "冬游"}, "season", "只能选"),
        ({"highlights": "长" * 50_000}, "highlights", "太长了（50000 字）"),
        ({"destination": ["松山湖"]}, "destination", "应为文字"),
        ({"surprise": "x"}, "fields", "没有这些字段"),
    ],
)
def test_a_bad_form_is_400_with_the_fields_errors_and_saves_nothing(
    templates: Any, sam: User, api: Any, change: dict[str, Any], field: str, words: str
) -> None:
    form = {k: v for k, v in {**OUTING_FORM, **change}.items() if v is not None}
    refused = api(sam).post(
        "/api/v1/drafts/", {"template": "spring-autumn-outing", "fields": form}, format="json"
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "bad_fields" and words in " ".join(body["errors"][field])
    assert not Draft.objects.exists() and not DraftSection.objects.exists()
    assert not WriterUsage.objects.exists()


def test_decimals_in_whole_number_fields_are_refused_each_by_its_label(
    templates: Any, sam: User, api: Any
) -> None:
    form = {**OUTING_FORM, "year": 2026.5, "days": 2.5, "participants": 120.7}
    refused = api(sam).post(
        "/api/v1/drafts/", {"template": "spring-autumn-outing", "fields": form}, format="json"
    )
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "bad_fields"
    assert body["errors"] == {
        "year": ["“年度”应为整数，请不要填小数。"],
        "days": ["“天数”应为整数，请不要填小数。"],
        "participants": ["“参加人数”应为整数，请不要填小数。"],
    }
    assert not Draft.objects.exists() and not DraftSection.objects.exists()
    assert not WriterUsage.objects.exists()


def test_a_whole_number_may_be_written_with_zero_decimals_and_a_sum_takes_cents(
    templates: Any, sam: User, api: Any
) -> None:
    form = {**OUTING_FORM, "year": "2026.0", "days": 2.0, "budget": "200.50"}
    created = api(sam).post(
        "/api/v1/drafts/", {"template": "spring-autumn-outing", "fields": form}, format="json"
    )
    assert created.status_code == 202
    draft = Draft.objects.get()
    assert draft.title == "虎门镇总工会关于组织开展2026年职工春游活动的方案"
    assert draft.values["year"]["value"] == 2026 and draft.values["days"]["value"] == 2
    assert draft.values["budget"]["value"] == 200.5
    assert "人均200.5元" in draft.sections.get(position=5).fixed_text


NOTICE_FORM = {
    "recipients": "各基层工会",
    "subject": "开展职工技能培训",
    "details": "培训安排如下。",
    "contact": "王建国",
    "doc_date": "2026-12-04",
}


@pytest.mark.parametrize(
    "subject",
    [
        "关于开展安全生产月活动",
        "开展安全生产月活动的通知",
        "关于开展安全生产月活动的通知。",
        "开展安全生产月活动通知",
    ],
)
def test_a_notice_says_关于_and_的通知_once_whatever_the_subject_already_says(
    templates: Any, sam: User, api: Any, subject: str
) -> None:
    created = api(sam).post(
        "/api/v1/drafts/",
        {"template": "notice", "fields": {**NOTICE_FORM, "subject": subject}},
        format="json",
    )
    assert created.status_code == 202
    shown = api(sam).get(f"/api/v1/drafts/{created.json()['id']}/").json()
    assert shown["title"] == "关于开展安全生产月活动的通知"


@pytest.mark.parametrize(
    "body", [{"template": "no-such", "fields": {}}, {"template": "notice", "fields": "x"}, ["x"]]
)
def test_an_unknown_template_or_a_form_that_is_no_object_is_400(
    templates: Any, sam: User, api: Any, body: Any
) -> None:
    refused = api(sam).post("/api/v1/drafts/", body, format="json")
    assert refused.status_code == 400 and refused.json()["code"] in (
        "template_not_found",
        "bad_fields",
    )
    assert not Draft.objects.exists()


def test_members_may_not_draft_and_strangers_are_asked_to_sign_in(
    templates: Any, alice: User, api: Any, client: Client
) -> None:
    body = {"template": "notice", "fields": {}}
    refused = api(alice).post("/api/v1/drafts/", body, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")
    assert api(alice).get("/api/v1/templates/").status_code == 403
    assert api(None).post("/api/v1/drafts/", body, format="json").status_code == 401
    client.force_login(alice)
    assert client.get("/writer/").status_code == 403
    assert client.get("/writer/new/notice/").status_code == 403


def test_a_member_who_opens_write_is_told_who_it_is_for(
    templates: Any, alice: User, client: Client
) -> None:
    client.force_login(alice)
    assert 'href="/writer/"' not in client.get("/").content.decode()

    response = client.get("/writer/")

    assert response.status_code == 403
    assert "只有工会干部可以起草材料。" in response.content.decode()


def test_editors_and_admins_may_draft(templates: Any, eddie: User, ada: User, api: Any) -> None:
    for user in (eddie, ada):
        assert api(user).get("/api/v1/templates/").status_code == 200


def test_the_form_page_creates_a_draft_or_shows_the_fields_errors(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    page = client.get("/writer/new/spring-autumn-outing/").content.decode()
    assert 'value="虎门镇总工会"' in page  # the unit field defaults to the user's unit
    bad = client.post("/writer/new/spring-autumn-outing/", {**OUTING_FORM, "days": "abc"})
    assert bad.status_code == 400 and "“天数”应为数字" in bad.content.decode()
    assert not Draft.objects.exists()
    good = client.post("/writer/new/spring-autumn-outing/", OUTING_FORM)
    draft = Draft.objects.get()
    assert good.status_code == 302 and good["Location"] == f"/writer/drafts/{draft.pk}/"
    page = client.get(good["Location"]).content.decode()
    assert "虎门镇总工会关于组织开展2026年职工春游活动的方案" in page


def test_a_unit_field_is_filled_in_on_the_page_and_refused_when_cleared(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    page = client.get("/writer/new/spring-autumn-outing/").content.decode()
    assert 'id="f-unit" name="unit" type="text" maxlength="100" value="虎门镇总工会"' in page

    cleared = client.post("/writer/new/spring-autumn-outing/", {**OUTING_FORM, "unit": ""})

    assert cleared.status_code == 400
    page = cleared.content.decode()
    assert '<small class="error">请填写“工会名称”。</small>' in page
    assert 'name="unit" type="text" maxlength="100" value=""' in page  # left as the drafter left it
    assert not Draft.objects.exists() and not WriterUsage.objects.exists()


def test_an_api_draft_that_leaves_the_unit_field_out_takes_the_drafters_unit(
    templates: Any, sam: User, api: Any
) -> None:
    form = {k: v for k, v in OUTING_FORM.items() if k != "unit"}
    created = api(sam).post(
        "/api/v1/drafts/", {"template": "spring-autumn-outing", "fields": form}, format="json"
    )
    assert created.status_code == 202
    draft = Draft.objects.get(pk=created.json()["id"])
    assert (draft.issuer, draft.values["unit"]["value"]) == ("虎门镇总工会", "虎门镇总工会")


def test_the_form_page_asks_for_whole_numbers_and_refuses_decimals(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    page = client.get("/writer/new/spring-autumn-outing/").content.decode()
    assert 'step="any"' not in page
    assert (
        'name="year" type="number" inputmode="numeric" step="1" value="" min="2020" max="2100"'
        in page
    )
    assert 'name="days" type="number" inputmode="numeric" step="1"' in page
    assert 'name="budget" type="number" inputmode="decimal" step="0.01"' in page

    refused = client.post(
        "/writer/new/spring-autumn-outing/",
        {**OUTING_FORM, "year": "2026.5", "days": "2.5", "participants": "120.7"},
    )

    assert refused.status_code == 400
    page = refused.content.decode()
    for label in ("年度", "天数", "参加人数"):
        assert f'<small class="error">“{label}”应为整数，请不要填小数。</small>' in page
    assert 'value="2.5"' in page  # the form keeps what was typed, to be corrected
    assert not Draft.objects.exists() and not WriterUsage.objects.exists()


def test_the_notice_page_titles_a_subject_that_starts_with_关于_once(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    created = client.post(
        "/writer/new/notice/",
        {**NOTICE_FORM, "unit": "虎门镇总工会", "subject": "关于开展安全生产月活动"},
    )
    draft = Draft.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/writer/drafts/{draft.pk}/"
    assert draft.title == "关于开展安全生产月活动的通知"
    page = client.get(created["Location"]).content.decode()
    assert "关于开展安全生产月活动的通知" in page and "关于关于" not in page


def export_refusals(api: Any, sam: User, *, sections_end: dict[str, Any] | None = None) -> Any:
    """A new outing draft's export, asked as DOCX and PDF, with its sections (all of them)
    ended as `sections_end` says first: each refusal's (status, code, detail)."""
    created = api(sam).post(
        "/api/v1/drafts/",
        {"template": "spring-autumn-outing", "fields": OUTING_FORM},
        format="json",
    )
    if sections_end:
        DraftSection.objects.filter(draft_id=created.json()["id"]).update(**sections_end)
    url = f"/api/v1/drafts/{created.json()['id']}/export/"
    for fmt in ("docx", "pdf"):
        refused = api(sam).get(url, {"format": fmt})
        yield refused.status_code, refused.json()["code"], refused.json()["detail"]


def test_export_of_a_draft_still_generating_is_refused_clearly(
    templates: Any, sam: User, api: Any
) -> None:
    for status, code, detail in export_refusals(api, sam):
        assert (status, code) == (409, "draft_not_ready") and "还在生成中" in detail


def test_a_draft_whose_sections_all_failed_is_not_exported(
    templates: Any, sam: User, api: Any
) -> None:
    # The model could not be reached for any section: each ended failed, with no text.
    failed = {"status": JobStatus.FAILED, "content": "", "error": "无法连接模型服务"}
    for status, code, detail in export_refusals(api, sam, sections_end=failed):
        assert (status, code) == (409, "draft_empty") and "还没有写出任何内容" in detail
    assert not DraftExport.objects.exists()


def test_the_model_tools_say_why_they_are_unavailable_without_a_model(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    refused = client.post(
        "/api/v1/writer/tools/polish/",
        json.dumps({"text": "大家一起搞定它"}),
        content_type="application/json",
    )
    assert (refused.status_code, refused.json()["code"]) == (503, "tool_unavailable")
    assert "尚未配置写作模型" in refused.json()["detail"]
    assert not WriterUsage.objects.exists()  # a refused use is not metered
    unknown = client.post(
        "/api/v1/writer/tools/magic/", json.dumps({"text": "x"}), content_type="application/json"
    )
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_tool")
    empty = client.post(
        "/api/v1/writer/tools/polish/", json.dumps({"text": " "}), content_type="application/json"
    )
    assert (empty.status_code, empty.json()["code"]) == (400, "bad_selection")


def test_members_may_not_use_the_tools(alice: User, client: Client) -> None:
    client.force_login(alice)
    refused = client.post(
        "/api/v1/writer/tools/check/", json.dumps({"text": "x"}), content_type="application/json"
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")


@pytest.mark.django_db(transaction=True)
def test_a_model_tool_streams_its_text(templates: Any, sam: User, writer_model: FakeOpenAI) -> None:
    writer_model.reply = "请各单位认真组织实施。"
    client = Client()
    client.force_login(sam)
    response: Any = client.post(
        "/api/v1/writer/tools/formalize/",
        json.dumps({"text": "大家一起搞定它，电话13812345678"}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    frames = [f for f in async_to_sync(read)().decode().split("\n\n") if f.strip()]
    events = [(f.split("\n")[0][7:], json.loads(f.split("\n")[1][6:])) for f in frames]
    assert [name for name, _data in events].count("delta") == len(writer_model.reply)
    assert events[-1] == ("done", {"text": "请各单位认真组织实施。"})
    sent = json.dumps(writer_model.hits("/v1/chat/completions")[0].json(), ensure_ascii=False)
    assert "13812345678" not in sent and "138****5678" in sent and "改写为规范的公文语体" in sent


def _blocked_word() -> None:
    from portal.ai import safety
    from portal.ai.models import SafetyAction, SensitiveTerm

    SensitiveTerm.objects.update_or_create(
        term="冰毒", defaults={"category": "违禁品", "action": SafetyAction.BLOCK, "enabled": True}
    )
    safety.list_changed()


@pytest.mark.django_db(transaction=True)
def test_the_tools_and_regeneration_pass_the_word_list(
    templates: Any, sam: User, writer_model: FakeOpenAI
) -> None:
    _blocked_word()
    client = Client()
    client.force_login(sam)
    refused = client.post(
        "/api/v1/writer/tools/polish/",
        json.dumps({"text": "如何买到冰毒"}),
        content_type="application/json",
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "unsafe_text")
    assert not writer_model.hits("/v1/chat/completions")  # never sent to the model

    writer_model.reply = "活动很好冰毒也好"
    response: Any = client.post(
        "/api/v1/writer/tools/polish/",
        json.dumps({"text": "活动很好"}),
        content_type="application/json",
    )

    async def read() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    body = async_to_sync(read)().decode()
    assert "冰毒" not in body and "unsafe_text" in body and "event: done" not in body

    draft = drafting.create_draft(sam, "spring-autumn-outing", OUTING_FORM)
    regenerate = client.post(
        f"/api/v1/drafts/{draft.pk}/sections/1/regenerate/",
        json.dumps({"instruction": "写上冰毒"}),
        content_type="application/json",
    )
    assert (regenerate.status_code, regenerate.json()["code"]) == (400, "unsafe_text")


def test_convention_check_lists_findings_with_place_and_fix(
    templates: Any, sam: User, client: Client
) -> None:
    client.force_login(sam)
    text = "一、目的\n（二）安排\n活动时间为2026-12-04,请大家搞定。"
    found = client.post(
        "/api/v1/writer/tools/check/", json.dumps({"text": text}), content_type="application/json"
    )
    assert found.status_code == 200
    findings = found.json()["findings"]
    assert findings and all(
        {"line", "column", "rule", "message", "fix"} <= set(f) for f in findings
    )
    assert any(f["line"] == 3 for f in findings)
