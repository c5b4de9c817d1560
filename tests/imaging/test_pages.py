"""The member pages: the form, a request's page, refine, cancel; the editors' review page; the
form and the request's page without an imaging model (template layouts)."""

from __future__ import annotations

import pytest

from imaging.models import ImageRequest
from imaging.services import generation
from portal.ai.models import Provider
from tests.imaging.conftest import PROMPT

pytestmark = pytest.mark.django_db


def test_the_form_submits_and_shows_the_request_in_the_queue(client, alice, draw_model):
    client.force_login(alice)
    assert "今日还可生成 20 张" in client.get("/images/").content.decode()

    response = client.post(
        "/images/",
        {
            "prompt": PROMPT,
            "purpose": "invitation",
            "size": "768x1024",
            "title": "职工联谊会",
            "variations": "1",
        },
    )

    made = ImageRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/images/{made.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "排队中：第" in page and "取消" in page
    assert made.texts == {"title": "职工联谊会"} and made.size == "768x1024"


def test_a_refused_request_keeps_what_was_typed_and_says_why(client, alice, draw_model):
    client.force_login(alice)

    page = client.post("/images/", {"prompt": "", "purpose": "poster", "title": "劳动最光荣"})

    text = page.content.decode()
    assert (
        page.status_code == 200 and "请描述您想要的图片。" in text and 'value="劳动最光荣"' in text
    )
    assert not ImageRequest.objects.exists()


def test_refine_from_the_page_and_see_the_lineage(client, alice, submit, draw_model):
    made = submit(alice, seed=3)
    generation.run(made.pk)
    client.force_login(alice)

    response = client.post(
        f"/images/{made.pk}/refine/",
        {"prompt": PROMPT + "，夜景", "keep_seed": "1", "variations": "1"},
    )

    child = ImageRequest.objects.get(parent=made)
    assert response["Location"] == f"/images/{child.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "优化历程" in page and "原图" in page and "优化1" in page and "沿用种子3" in page


def test_pages_refuse_members_without_ai_and_hide_others_requests(
    client, alice, bob, charlie, submit, draw_model
):
    made = submit(alice)
    client.force_login(charlie)
    assert client.get("/images/").status_code == 403
    client.force_login(bob)
    assert client.get(f"/images/{made.pk}/").status_code == 404
    assert client.post(f"/images/{made.pk}/cancel/").status_code == 404
    assert client.get("/images/review/").status_code == 403


def test_a_member_awaiting_review_is_told_why_draw_is_closed_and_where_to_look(client, charlie):
    client.force_login(charlie)
    assert 'href="/images/"' in client.get("/").content.decode()  # the menu offers Draw

    response = client.get("/images/")

    page = response.content.decode()
    assert response.status_code == 403
    assert "完成会员认证后即可使用AI服务。" in page and "正在等待所在工会审核" in page
    assert 'href="/me/"' in page and "您没有权限访问此页面" not in page


def test_editors_take_down_from_the_review_page(client, alice, eddie, submit, draw_model):
    made = submit(alice)
    generation.run(made.pk)
    client.force_login(eddie)
    assert "下架原因" in client.get("/images/review/").content.decode()

    client.post("/images/review/", {"request": made.pk, "reason": "侵权"})

    made.refresh_from_db()
    assert made.takedown_reason == "侵权" and made.taken_down_by == eddie


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("alice", "/images/"),
        ("alice", "/images/presets/"),
        ("alice", "request"),
        ("sam", "/images/brand/"),
        ("eddie", "/images/review/"),
    ],
)
def test_draw_pages_are_titled_with_the_portal_s_name(
    client, request, submit, draw_model, who, path
):
    user = request.getfixturevalue(who)
    if path == "request":
        path = f"/images/{submit(user).pk}/"
    client.force_login(user)

    response = client.get(path)

    assert response.status_code == 200
    assert response.content.decode().split("</title>")[0].endswith(" · 工会AI门户")


def test_without_a_model_the_page_counts_layouts_not_ai_images(client, alice, request):
    client.force_login(alice)
    page = client.get("/images/").content.decode()
    assert "模板排版不占用每日AI绘图额度。今日还可排版 100 张（每天 100 张" in page
    assert "今日还可生成" not in page

    client.post("/images/", {"prompt": PROMPT, "purpose": "poster", "title": "劳动最光荣"})

    assert ImageRequest.objects.get().mode == "composed"
    assert "今日还可排版 99 张" in client.get("/images/").content.decode()
    request.getfixturevalue("draw_model")  # once a model is configured: the AI images
    assert "今日还可生成 20 张" in client.get("/images/").content.decode()  # none taken


def test_without_a_model_the_form_says_first_that_it_lays_out_a_template_poster(
    client, alice, request
):
    client.force_login(alice)

    page = client.get("/images/").content.decode()

    assert "尚未配置绘图模型：提交后不会由AI作画" in page and "模板海报（未使用AI绘图）" in page
    assert 'name="prompt"' not in page  # nothing would draw a description: it is not asked for
    assert 'name="title" value="" maxlength="60" required' in page and "提交排版" in page
    refused = client.post("/images/", {"purpose": "poster", "subtitle": "职工联谊会"})
    assert "请填写标题" in refused.content.decode() and not ImageRequest.objects.exists()

    response = client.post("/images/", {"purpose": "poster", "title": "劳动最光荣"})

    made = ImageRequest.objects.get()
    assert response.status_code == 302 and made.mode == "composed" and made.prompt == ""
    assert "模板排版（未使用AI绘图）" in client.get(response["Location"]).content.decode()
    request.getfixturevalue("draw_model")  # once a model is configured, the usual form
    page = client.get("/images/").content.decode()
    assert "尚未配置绘图模型" not in page and 'name="prompt"' in page and "提交生成" in page


def test_without_a_model_a_layout_is_laid_out_again_not_refined_by_description(
    client, alice, bob, submit, request
):
    titled = submit(alice, prompt="", texts={"title": "劳动最光荣"})
    generation.run(titled.pk)
    request.getfixturevalue("draw_model")
    untitled = submit(bob)  # an AI image without a title, drawn while there was a model
    generation.run(untitled.pk)
    Provider.objects.update(enabled=False)
    client.force_login(alice)

    page = client.get(f"/images/{titled.pk}/").content.decode()
    response = client.post(f"/images/{titled.pk}/refine/", {"keep_seed": "0", "variations": "1"})

    assert "重新排版" in page and "修改描述" not in page and "<dt>描述</dt>" not in page
    child = ImageRequest.objects.get(parent=titled)
    assert response["Location"] == f"/images/{child.pk}/" and child.mode == "composed"
    client.force_login(bob)
    page = client.get(f"/images/{untitled.pk}/").content.decode()
    assert "这张图片没有标题" in page and f'action="/images/{untitled.pk}/refine/"' not in page
    refused = client.post(f"/images/{untitled.pk}/refine/", {"keep_seed": "0"})
    assert refused.status_code == 302 and not ImageRequest.objects.filter(parent=untitled).exists()
