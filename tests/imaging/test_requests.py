"""Submitting through the API: what is refused (and costs nothing), what is queued, the quota,
who may and may not; without an imaging model, template layouts and their own daily bound."""

from __future__ import annotations

from typing import Any

import pytest

from imaging.models import DailyQuota, ImageRequest
from imaging.services import requests
from portal.jobs import JobStatus
from tests.imaging.conftest import POSTER, PROMPT

pytestmark = pytest.mark.django_db


def post(api: Any, user: Any, **body: Any) -> Any:
    return api(user).post("/api/v1/images/", {**POSTER, **body}, format="json")


def used_today(user) -> int:
    row = DailyQuota.objects.filter(user=user, day=requests.quota_day()).first()
    return row.used if row else 0


def layouts_today(user) -> int:
    row = DailyQuota.objects.filter(user=user, day=requests.quota_day()).first()
    return row.layouts if row else 0


def test_a_poster_request_is_queued_and_charged(
    api, alice, draw_model, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        response = post(api, alice, texts={"title": "劳动最光荣", "date": "5月1日"})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["queue_position"] == 1 and body["results"] == []
    assert body["size"] == "1024x1024" and body["texts"] == {
        "title": "劳动最光荣",
        "date": "5月1日",
    }
    assert len(sent) == 1  # the job's message, sent once the request is committed
    assert used_today(alice) == 1


@pytest.mark.parametrize(
    ("prompt", "code"),
    [("", "empty_prompt"), ("   ", "empty_prompt"), ("画" * 5000, "prompt_too_long")],
)
def test_an_empty_or_overlong_description_is_refused(api, alice, draw_model, prompt, code):
    response = post(api, alice, prompt=prompt)

    assert response.status_code == 400 and response.json()["code"] == code
    assert not ImageRequest.objects.exists() and used_today(alice) == 0


def test_a_size_the_purpose_does_not_allow_is_refused_with_the_choices(api, alice):
    response = post(api, alice, size="1280x720")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "海报可选的尺寸是：1024x1024、768x1024、720x1280。",
        "code": "unsupported_size",
    }


def test_a_size_the_routed_model_cannot_draw_is_refused(api, alice, configure, fake_hunyuan):
    configure(
        "hunyuan-image",
        fake_hunyuan.url,
        kind="hunyuan-image",
        chat=None,
        image="hunyuan-image",
        use_for=["imaging"],
        api_key="AKIDfake0000000000:fake-secret-key-0000",
    )

    refused = post(api, alice, purpose="wechat-cover", size="1280x544")
    accepted = post(api, alice, purpose="wechat-cover", size="1280x720")

    assert refused.status_code == 400 and refused.json()["code"] == "size_not_supported_by_model"
    assert "1280x544" in refused.json()["detail"]
    assert accepted.status_code == 202


def test_a_title_too_long_to_set_is_refused_with_the_composers_words(api, alice):
    response = post(api, alice, texts={"title": "职工" * 29})

    assert response.status_code == 400
    assert response.json()["code"] == "text_does_not_fit"
    assert "标题" in response.json()["detail"]
    assert not ImageRequest.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "工厂门口有人在卖冰毒"},
        {"texts": {"title": "劳动节快乐", "place": "冰毒交易中心"}},
    ],
    ids=["prompt", "overlay text"],
)
def test_blocked_words_store_a_blocked_request_that_costs_nothing(api, alice, draw_model, body):
    response = post(api, alice, **body)

    assert response.status_code == 202
    shown = response.json()
    assert shown["status"] == "blocked" and "不适宜" in shown["error"]
    assert shown["queue_position"] is None
    assert used_today(alice) == 0
    assert ImageRequest.objects.get().charged_day is None


def test_over_the_quota_is_429_saying_when_it_resets(api, alice, draw_model, settings):
    settings.IMAGING_DAILY_QUOTA = 3
    assert post(api, alice, variations=2).status_code == 202

    response = post(api, alice, variations=2)

    assert response.status_code == 429
    assert response.json()["code"] == "quota_exceeded"
    assert "每天3张，还剩1张" in response.json()["detail"]
    assert "00:00（北京时间）重置" in response.json()["detail"]
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert post(api, alice).status_code == 202  # the one image left
    assert used_today(alice) == 3


@pytest.mark.time_machine("2026-06-18T23:59:00+08:00")
def test_the_quota_resets_at_midnight_in_shanghai(api, alice, draw_model, settings, time_machine):
    settings.IMAGING_DAILY_QUOTA = 1
    assert post(api, alice).status_code == 202
    refused = post(api, alice)
    assert refused.status_code == 429 and "06月19日 00:00" in refused.json()["detail"]
    assert int(refused["Retry-After"]) <= 60

    time_machine.move_to("2026-06-19T00:00:05+08:00")

    assert post(api, alice).status_code == 202


def test_a_member_without_ai_access_is_refused(api, charlie):
    response = post(api, charlie)

    assert response.status_code == 403 and response.json()["code"] == "not_permitted"
    # Told what stands in the way, as the Draw and Ask pages tell a member awaiting review.
    assert "正在等待所在工会审核" in response.json()["detail"]


def test_an_anonymous_caller_is_401(api):
    assert post(api, None).status_code == 401


def test_another_members_request_is_404_like_a_missing_one(api, alice, bob, draw_model):
    mine = post(api, alice).json()["id"]

    for path in (f"/api/v1/images/{mine}/", "/api/v1/images/999999/"):
        response = api(bob).get(path)
        assert response.status_code == 404 and response.json()["code"] == "image_not_found"
    assert api(bob).post(f"/api/v1/images/{mine}/cancel/").status_code == 404
    assert api(bob).post(f"/api/v1/images/{mine}/refine/", {}, format="json").status_code == 404
    assert api(bob).delete(f"/api/v1/images/{mine}/").status_code == 404
    assert api(bob).get("/api/v1/images/").json() == []
    assert ImageRequest.objects.get(pk=mine).status == JobStatus.QUEUED


def test_a_queued_request_can_be_cancelled_and_its_quota_comes_back(api, alice, draw_model):
    made = post(api, alice, variations=2).json()["id"]
    assert used_today(alice) == 2

    response = api(alice).post(f"/api/v1/images/{made}/cancel/")

    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert used_today(alice) == 0
    again = api(alice).post(f"/api/v1/images/{made}/cancel/")
    assert again.status_code == 409 and again.json()["code"] == "not_cancellable"


def test_deleting_a_request_that_was_never_drawn_gives_its_quota_back(api, alice, draw_model):
    made = post(api, alice, variations=2).json()["id"]
    assert used_today(alice) == 2

    assert api(alice).delete(f"/api/v1/images/{made}/").status_code == 204

    assert used_today(alice) == 0


def test_queue_positions_follow_the_order_of_requests(api, alice, bob, draw_model):
    first = post(api, alice).json()["id"]
    second = post(api, bob).json()["id"]
    third = post(api, alice).json()["id"]

    assert api(alice).get(f"/api/v1/images/{third}/").json()["queue_position"] == 3
    api(alice).post(f"/api/v1/images/{first}/cancel/")
    assert api(alice).get(f"/api/v1/images/{third}/").json()["queue_position"] == 2
    assert api(bob).get(f"/api/v1/images/{second}/").json()["queue_position"] == 1


def test_refining_needs_a_finished_image(api, alice, draw_model):
    made = post(api, alice).json()["id"]

    response = api(alice).post(f"/api/v1/images/{made}/refine/", {}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "not_refinable"


def test_a_personal_number_in_the_description_is_masked_before_it_is_kept(api, alice, draw_model):
    response = post(api, alice, prompt=f"{PROMPT}，联系电话13912345678")

    assert "13912345678" not in response.json()["prompt"]


# --- without an imaging model: template layouts ------------------------------------------------

TITLED = {"texts": {"title": "劳动最光荣"}}


def test_without_a_model_a_layout_needs_a_title_not_a_description(api, alice):
    untitled = post(api, alice, prompt=PROMPT)
    made = post(api, alice, prompt="", **TITLED)

    assert untitled.status_code == 400 and untitled.json()["code"] == "title_required"
    assert "尚未配置绘图模型" in untitled.json()["detail"]
    assert made.status_code == 202
    body = made.json()
    assert body["status"] == "queued" and body["mode"] == "composed" and body["prompt"] == ""
    assert ImageRequest.objects.count() == 1


def test_a_layout_uses_no_ai_image_of_the_days_quota(api, alice, settings):
    settings.IMAGING_DAILY_QUOTA = 1

    for _ in range(3):
        assert post(api, alice, **TITLED, variations=2).status_code == 202

    assert used_today(alice) == 0 and layouts_today(alice) == 6
    assert requests.quota_left(alice) == 1


def test_layouts_have_a_daily_bound_of_their_own(api, alice, settings, request):
    settings.IMAGING_DAILY_LAYOUTS = 3
    assert post(api, alice, **TITLED, variations=2).status_code == 202

    refused = post(api, alice, **TITLED, variations=2)

    assert refused.status_code == 429 and refused.json()["code"] == "layout_limit_exceeded"
    assert "今日模板排版已达上限（每天3张，还剩1张）" in refused.json()["detail"]
    assert 0 < int(refused["Retry-After"]) <= 24 * 3600
    assert post(api, alice, **TITLED).status_code == 202  # the one layout left
    assert post(api, alice, **TITLED).status_code == 429
    request.getfixturevalue("draw_model")  # a model now: AI images are counted apart
    assert post(api, alice).status_code == 202
    assert (used_today(alice), layouts_today(alice)) == (1, 3)


def test_a_cancelled_or_deleted_layout_gives_back_a_layout_not_an_ai_image(api, alice):
    first = post(api, alice, **TITLED, variations=2).json()["id"]
    second = post(api, alice, **TITLED).json()["id"]
    assert layouts_today(alice) == 3

    assert api(alice).post(f"/api/v1/images/{first}/cancel/").status_code == 200
    assert api(alice).delete(f"/api/v1/images/{second}/").status_code == 204

    assert (used_today(alice), layouts_today(alice)) == (0, 0)


def test_a_member_without_ai_access_may_not_make_layouts_either(api, charlie):
    response = post(api, charlie, **TITLED)

    assert response.status_code == 403 and response.json()["code"] == "not_permitted"
    assert not ImageRequest.objects.exists()
