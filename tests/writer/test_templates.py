"""Templates: typed fields, placeholders filled by our own code only, versions, JSON exchange,
the seed, and who may maintain them."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from portal.errors import NotPermitted
from portal.models import AuditAction, AuditEvent, User
from writer import definition as defs
from writer.errors import FieldErrors, WriterErrorCode
from writer.models import TemplateVersion, WritingTemplate
from writer.services import templates as service

pytestmark = pytest.mark.django_db


def simple(**section: Any) -> dict[str, Any]:
    return {
        "doc_title": "关于{{subject}}的通知",
        "issuer": "{{unit}}",
        "fields": [
            {"name": "unit", "label": "单位", "type": "unit"},
            {"name": "subject", "label": "事项", "type": "text"},
        ],
        "sections": [{"heading": "一、事项", "fixed_text": "现就{{subject}}通知如下。", **section}],
    }


def new_on_page(client: Client, slug: str, title: str, definition: Any) -> Any:
    """An editor's "new template" form, posted."""
    return client.post(
        "/writer/templates/new/",
        {
            "slug": slug,
            "kind": "notice",
            "title": title,
            "description": "",
            "position": "0",
            "enabled": "1",
            "definition": json.dumps(definition),
        },
    )


def test_the_seed_loads_nine_real_templates_each_valid(
    templates: dict[str, WritingTemplate],
) -> None:
    kinds = {t.kind for t in templates.values()}
    assert len(templates) == 9
    assert kinds == {
        "policy_report",
        "activity_plan",
        "notice",
        "work_summary",
        "proposal",
        "sympathy_letter",
        "request",
        "minutes",
    }
    assert {"spring-autumn-outing", "skills-competition"} <= set(templates)
    for template in templates.values():
        again = defs.parse(template.definition, categories=service.category_slugs())
        assert again.sections and again.fields
        assert template.versions.count() == 1


def test_a_placeholder_naming_no_field_is_refused_and_nothing_is_saved(
    categories: Any, eddie: User
) -> None:
    with pytest.raises(FieldErrors) as refused:
        service.save_template(
            eddie,
            slug="t",
            kind="notice",
            title="通知",
            description="",
            definition=simple(fixed_text="请于{{deadline}}前报送。"),
        )
    assert refused.value.code == WriterErrorCode.UNKNOWN_PLACEHOLDER
    assert "sections[0].fixed_text" in refused.value.errors
    assert "{{deadline}}" in refused.value.errors["sections[0].fixed_text"][0]
    assert not WritingTemplate.objects.exists() and not TemplateVersion.objects.exists()


@pytest.mark.parametrize(
    "text", ["{{ request }}", "{{ request.user }}", "{{x|safe}}", "{{ settings.SECRET_KEY }}"]
)
def test_template_syntax_beyond_a_field_name_is_refused(
    categories: Any, eddie: User, text: str
) -> None:
    with pytest.raises(FieldErrors) as refused:
        service.save_template(
            eddie,
            slug="t",
            kind="notice",
            title="通知",
            description="",
            definition=simple(fixed_text=f"内容{text}"),
        )
    assert refused.value.code in (
        WriterErrorCode.UNKNOWN_PLACEHOLDER,
        WriterErrorCode.BAD_PLACEHOLDER,
    )


def test_other_template_and_format_syntax_stays_literal() -> None:
    text = "{% load static %}{{ subject }}{0.__class__}{subject}{# c #}{{subject}}"
    filled = defs.fill(text, {"subject": "春游{{unit}}{0}"})
    assert filled == "{% load static %}春游{{unit}}{0}{0.__class__}{subject}{# c #}春游{{unit}}{0}"


@pytest.mark.parametrize(
    ("pattern", "values", "title"),
    [
        ("关于{{s}}的通知", {"s": "关于开展安全生产月活动"}, "关于开展安全生产月活动的通知"),
        ("关于{{s}}的通知", {"s": "开展安全生产月活动的通知"}, "关于开展安全生产月活动的通知"),
        ("关于{{s}}的通知", {"s": "开展安全生产月活动通知"}, "关于开展安全生产月活动的通知"),
        ("关于{{s}}的通知", {"s": " 关于开展安全生产月活动。"}, "关于开展安全生产月活动的通知"),
        (
            "关于{{s}}的通知",
            {"s": "转发市总工会关于做好春节慰问工作的通知"},
            "关于转发市总工会关于做好春节慰问工作的通知",
        ),
        (
            "{{unit}}关于{{matter}}的请示",
            {"unit": "虎门镇总工会", "matter": "虎门镇总工会关于申请活动经费的请示"},
            "虎门镇总工会关于申请活动经费的请示",
        ),
        (
            "{{unit}}{{period}}工作总结",
            {"unit": "虎门镇总工会", "period": "2026年度工作"},
            "虎门镇总工会2026年度工作总结",
        ),
        ("{{meeting}}纪要", {"meeting": "工会委员会第三次会议纪要"}, "工会委员会第三次会议纪要"),
        ("{{theme}}倡议书", {"theme": "安全生产月倡议"}, "安全生产月倡议书"),
        ("关于{{s}}情况的调研报告", {"s": "权益保障情况"}, "关于权益保障情况的调研报告"),
        # Left as they are: one character alike is two words, a value is never cut to nothing.
        ("关于{{s}}的通知", {"s": "明确活动目的"}, "关于明确活动目的的通知"),
        ("{{trade}}工会", {"trade": "电工"}, "电工工会"),
        ("关于{{s}}的通知", {"s": "通知"}, "关于通知的通知"),
        ("关于{{s}}的通知", {"s": "开展职工技能培训"}, "关于开展职工技能培训的通知"),
        # Still one pass: a value is never read as a pattern.
        ("关于{{s}}的通知{{x}}", {"s": "关于{{x}}"}, "关于{{x}}的通知{{x}}"),
    ],
)
def test_a_title_says_the_words_around_a_value_once(
    pattern: str, values: dict[str, str], title: str
) -> None:
    assert defs.fill_title(pattern, values) == title


def number_fields(**money: Any) -> dict[str, Any]:
    definition = simple()
    definition["fields"] += [
        {"name": "days", "label": "天数", "type": "number", "min": 1, "max": 7},
        {"name": "sum", "label": "金额（元）", "type": "number", "min": 0, **money},
        {"name": "people", "label": "人数", "type": "number", "required": False, "max": 500},
    ]
    return definition


def test_a_required_unit_field_sent_empty_is_refused_and_one_left_out_takes_the_default() -> None:
    definition = defs.parse(simple())
    unit = "虎门镇总工会"
    for empty in ("", "  ", None):
        with pytest.raises(FieldErrors) as refused:
            defs.clean_values(definition, {"unit": empty, "subject": "春游"}, unit_name=unit)
        assert refused.value.errors == {"unit": ["请填写“单位”。"]}
    left_out = defs.clean_values(definition, {"subject": "春游"}, unit_name=unit)
    assert left_out.text["unit"] == unit
    typed = defs.clean_values(
        definition, {"unit": "长安镇总工会", "subject": "春游"}, unit_name=unit
    )
    assert typed.text["unit"] == "长安镇总工会"
    # A unit field the template makes optional may stay empty.
    optional = simple()
    optional["fields"][0]["required"] = False
    blank = defs.clean_values(defs.parse(optional), {"unit": "", "subject": "春游"}, unit_name=unit)
    assert blank.text["unit"] == ""


def test_number_fields_take_whole_numbers_unless_the_template_gives_decimals(
    categories: Any,
) -> None:
    definition = defs.parse(number_fields(decimals=2), categories=service.category_slugs())
    assert [(f.name, f.decimals, f.step) for f in definition.fields if f.type == "number"] == [
        ("days", 0, "1"),
        ("sum", 2, "0.01"),
        ("people", 0, "1"),
    ]
    form = {"unit": "虎门镇总工会", "subject": "春游"}
    filled = defs.clean_values(definition, {**form, "days": "3", "sum": "1234.50"})
    assert (filled.text["days"], filled.text["sum"]) == ("3", "1234.5")
    assert (filled.raw["days"], filled.raw["sum"]) == (3, 1234.5)
    with pytest.raises(FieldErrors) as refused:
        defs.clean_values(definition, {**form, "days": 2.5, "sum": "0.125", "people": "-1"})
    assert refused.value.code == WriterErrorCode.BAD_FIELDS
    assert refused.value.errors == {  # people has no least value: -1 is one
        "days": ["“天数”应为整数，请不要填小数。"],
        "sum": ["“金额（元）”最多保留 2 位小数。"],
    }
    # Without the option a sum is whole too.
    whole = defs.parse(number_fields(), categories=service.category_slugs())
    with pytest.raises(FieldErrors) as refused:
        defs.clean_values(whole, {**form, "days": 2, "sum": "0.5", "people": 600})
    assert refused.value.errors == {
        "sum": ["“金额（元）”应为整数，请不要填小数。"],
        "people": ["“人数”不能大于 500。"],
    }


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"decimals": "2"}, "fields[3].decimals"),
        ({"decimals": 7}, "fields[3].decimals"),
        ({"decimals": -1}, "fields[3].decimals"),
        ({"decimals": True}, "fields[3].decimals"),
        ({"type": "text", "decimals": 2}, "fields[3].decimals"),
        ({"min": 10, "max": 5}, "fields[3]"),
    ],
)
def test_a_number_fields_decimals_and_bounds_are_checked_when_saved(
    categories: Any, eddie: User, change: dict[str, Any], key: str
) -> None:
    definition = number_fields()
    definition["fields"][3].update(change)
    with pytest.raises(FieldErrors) as refused:
        service.save_template(
            eddie, slug="t", kind="notice", title="通知", description="", definition=definition
        )
    assert refused.value.code == WriterErrorCode.BAD_TEMPLATE and key in refused.value.errors
    assert not WritingTemplate.objects.exists()


def test_every_save_is_a_new_version_and_old_versions_stay(categories: Any, eddie: User) -> None:
    first = service.save_template(
        eddie, slug="t", kind="notice", title="通知", description="", definition=simple()
    )
    changed = simple(fixed_text="另行通知{{subject}}。")
    second = service.save_template(
        eddie, slug="t", kind="notice", title="通知", description="", definition=changed
    )
    assert (first.pk, second.version) == (second.pk, 2)
    v1, v2 = TemplateVersion.objects.filter(template=second).order_by("number")
    assert v1.definition["sections"][0]["fixed_text"] == "现就{{subject}}通知如下。"
    assert v2.definition["sections"][0]["fixed_text"] == "另行通知{{subject}}。"
    assert AuditEvent.objects.filter(action=AuditAction.TEMPLATE_SAVED).count() == 2


def test_typed_fields_are_checked_when_saved(categories: Any, eddie: User) -> None:
    bad = simple(categories=["no-such-category"])
    bad["fields"].append({"name": "Bad Name", "label": "x"})
    bad["fields"].append({"name": "kind", "label": "类别", "type": "choice"})
    bad["fields"].append({"name": "when", "label": "日期", "type": "datetime"})
    with pytest.raises(FieldErrors) as refused:
        service.save_template(
            eddie, slug="t", kind="notice", title="通知", description="", definition=bad
        )
    errors = refused.value.errors
    assert {
        "fields[2].name",
        "fields[3].choices",
        "fields[4].type",
        "sections[0].categories",
    } <= set(errors)


def test_json_export_and_import_round_trip(
    templates: dict[str, WritingTemplate], eddie: User
) -> None:
    exported = json.loads(json.dumps(service.export_json(templates["notice"])))
    exported["slug"] = "notice-copy"
    imported = service.import_json(eddie, exported)
    assert imported.definition == templates["notice"].definition
    assert imported.version == 1


def test_an_import_with_an_injection_is_refused_whole(
    templates: dict[str, WritingTemplate], eddie: User
) -> None:
    exported = copy.deepcopy(service.export_json(templates["notice"]))
    exported["slug"] = "evil"
    exported["definition"]["sections"][0]["fixed_text"] = "{{ request }}"
    with pytest.raises(FieldErrors):
        service.import_json(eddie, exported)
    assert not WritingTemplate.objects.filter(slug="evil").exists()


def test_staff_and_members_may_not_maintain_templates(
    categories: Any, sam: User, alice: User
) -> None:
    for who in (sam, alice):
        with pytest.raises(NotPermitted):
            service.save_template(
                who, slug="t", kind="notice", title="通知", description="", definition=simple()
            )


def test_the_editor_page_saves_a_version_and_shows_errors(
    client: Client, categories: Any, eddie: User
) -> None:
    client.force_login(eddie)
    bad = new_on_page(client, "t", "通知", simple(fixed_text="{{ request }}"))
    assert bad.status_code == 400
    assert "没有对应的字段" in bad.content.decode()
    good = new_on_page(client, "t", "通知", simple())
    assert good.status_code == 302 and WritingTemplate.objects.get(slug="t").version == 1


def test_staff_get_403_on_the_editor_pages(
    client: Client, templates: Any, sam: User, api: Any
) -> None:
    client.force_login(sam)
    assert client.get("/writer/templates/").status_code == 403
    assert client.get("/writer/templates/notice/").status_code == 403
    refused = api(sam).get("/api/v1/templates/notice/")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")
    assert api(sam).get("/api/v1/templates/").status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/templates/", "/writer/templates/", "/writer/"])
def test_template_lists_cost_the_same_queries_for_3_and_30(
    categories: Any, eddie: User, sam: User, api: Any, path: str
) -> None:
    def add(start: int, stop: int) -> None:
        for i in range(start, stop):
            service.save_template(
                eddie,
                slug=f"t{i}",
                kind="notice",
                title=f"通知{i}",
                description="",
                definition=simple(),
            )

    client = Client()
    client.force_login(eddie if "templates/" in path and not path.startswith("/api") else sam)
    add(0, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    add(3, 30)
    with CaptureQueriesContext(connection) as many:
        response = client.get(path)
    assert response.status_code == 200
    assert len(many) == len(few)


def test_draft_lists_cost_the_same_queries_for_3_and_30(templates: Any, sam: User) -> None:
    from tests.writer.conftest import OUTING_FORM
    from writer.services import drafting

    client = Client()
    client.force_login(sam)

    def add(n: int) -> None:
        for _ in range(n):
            drafting.create_draft(sam, "spring-autumn-outing", OUTING_FORM)

    add(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/writer/").status_code == 200
    add(27)
    with CaptureQueriesContext(connection) as many:
        assert client.get("/writer/").content.decode().count("/writer/drafts/") == 30
    assert len(many) == len(few)


def test_the_admin_lists_templates_drafts_and_the_meter(
    templates: Any, ada: User, eddie: User
) -> None:
    client = Client()
    client.force_login(ada)
    for path in (
        "/admin/writer/writingtemplate/",
        "/admin/writer/draft/",
        "/admin/writer/writerusage/",
    ):
        assert client.get(path).status_code == 200
    assert client.get("/admin/writer/writingtemplate/add/").status_code == 403


def test_a_new_template_may_not_take_an_existing_slug(
    client: Client, templates: Any, eddie: User
) -> None:
    client.force_login(eddie)
    taken = new_on_page(client, "notice", "另一个通知", simple())
    assert taken.status_code == 400 and "标识已被其他模板使用" in taken.content.decode()
    assert WritingTemplate.objects.get(slug="notice").version == 1


@pytest.mark.parametrize(
    "path",
    [
        "/writer/templates/",
        "/writer/templates/new/",
        "/writer/templates/notice/",
        "/writer/new/notice/",
        "draft",
        "revisions",
    ],
)
def test_write_pages_are_titled_with_the_portal_s_name(
    client: Client, templates: Any, eddie: User, path: str
) -> None:
    from tests.writer.conftest import OUTING_FORM
    from writer.services import drafting

    if path in ("draft", "revisions"):
        draft = drafting.create_draft(eddie, "spring-autumn-outing", OUTING_FORM)
        revisions = "sections/1/revisions/" if path == "revisions" else ""
        path = f"/writer/drafts/{draft.pk}/{revisions}"
    client.force_login(eddie)

    response = client.get(path)

    assert response.status_code == 200
    page = response.content.decode()

    assert page.split("</title>")[0].endswith(" · 工会AI门户")
