"""Requests run by a real Celery worker (Redis broker) against the image fakes: every state,
the composer without a model, the labels, bad answers from providers, idempotent redelivery,
the sweep."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from imaging import tasks
from imaging.models import DailyQuota, ImageRequest, ImageResult, RenderMode
from imaging.services import generation, render, requests
from portal.ai.models import Provider, Usage
from portal.jobs import JobStatus
from tests.fakes.server import Behaviour
from tests.imaging.conftest import bomb_png, png, wait_status
from tests.waiting import wait_for

DONE = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.BLOCKED, JobStatus.CANCELLED)


def used(user) -> int:
    row = DailyQuota.objects.filter(user=user, day=requests.quota_day()).first()
    return row.used if row else 0


def layouts(user) -> int:
    row = DailyQuota.objects.filter(user=user, day=requests.quota_day()).first()
    return row.layouts if row else 0


def test_a_request_goes_queued_running_succeeded_with_a_labelled_file(
    celery_worker, draw_model, fake_openai, alice, submit, api
):
    fake_openai.default = Behaviour(delay=1.0)
    ahead = submit(alice)  # the one slot of the worker is busy with it
    wait_for(lambda: ImageRequest.objects.get(pk=ahead.pk).status == JobStatus.RUNNING)
    made = submit(alice, texts={"title": "劳动最光荣"}, seed=11)
    first = api(alice).get(f"/api/v1/images/{made.pk}/").json()
    seen = [(first["status"], first["queue_position"])]

    wait_for(lambda: ImageRequest.objects.get(pk=made.pk).status == JobStatus.RUNNING)
    running = api(alice).get(f"/api/v1/images/{made.pk}/").json()
    seen.append((running["status"], running["queue_position"]))
    done = wait_status(made.pk, *DONE)
    body = api(alice).get(f"/api/v1/images/{made.pk}/").json()

    assert seen == [("queued", 1), ("running", None)] and done.status == JobStatus.SUCCEEDED
    assert body["status"] == "succeeded" and body["queue_position"] is None and body["error"] == ""
    assert body["mode"] == RenderMode.AI
    [result] = body["results"]
    assert result["width"] == 512 and result["seed"] == 11
    file = api(alice).get(result["url"])
    data = b"".join(file.streaming_content)
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    assert file["Content-Disposition"].startswith("attachment")
    label = render.read_label(data)
    assert label is not None and label["Label"] == "1"
    assert label["ProduceID"] == f"img-{made.pk}-0"
    assert api(alice).get(result["thumbnail_url"]).status_code == 200
    sent = fake_openai.hits("/v1/images/generations")[1].json()
    assert sent["seed"] == 11 and "劳动节" in sent["prompt"]
    assert {(u.user, u.images) for u in Usage.objects.all()} == {(alice, 1)}  # per user, model
    assert used(alice) == 2


def test_without_an_imaging_model_the_composer_makes_an_unlabelled_poster(
    celery_worker, alice, submit
):
    made = submit(alice, texts={"title": "劳动最光荣", "organiser": "示范电子厂工会"})

    done = wait_status(made.pk, *DONE)

    assert done.status == JobStatus.SUCCEEDED and done.mode == RenderMode.COMPOSED
    result = ImageResult.objects.get(request=done)
    assert (result.width, result.height) == (1024, 1024)
    with default_storage.open(result.file, "rb") as handle:
        assert render.read_label(handle.read()) is None  # composed, not AI-drawn
    assert not Usage.objects.exists()
    assert (used(alice), layouts(alice)) == (0, 1)  # a layout, not one of the day's AI images


def with_rewriting_model(configure: Any, fake_openai: Any) -> None:
    """Seedream drawing, with a chat model routed to rewrite the description first."""
    configure(
        "ark",
        f"{fake_openai.url}/v1",
        chat="rewriter",
        image="seedream",
        use_for=["imaging", "prompt_rewrite"],
    )


def test_a_layout_asked_for_before_a_model_was_configured_is_still_composed(
    configure, fake_openai, alice, submit, db
):
    made = submit(alice, texts={"title": "劳动最光荣"})
    fake_openai.image_bytes = png()
    with_rewriting_model(configure, fake_openai)

    assert generation.run(made.pk) == "succeeded"

    made.refresh_from_db()
    assert made.mode == RenderMode.COMPOSED and made.revised_prompt == ""
    assert not fake_openai.requests  # neither drawn nor rewritten: it was never charged for AI
    assert (used(alice), layouts(alice)) == (0, 1)


def test_a_request_whose_model_went_while_it_waited_is_composed_and_counted_as_a_layout(
    draw_model, fake_openai, alice, submit, db
):
    made = submit(alice, texts={"title": "劳动最光荣"}, variations=2)
    assert (used(alice), layouts(alice)) == (2, 0)
    Provider.objects.update(enabled=False)  # an admin turns the image model off

    assert generation.run(made.pk) == "succeeded"

    made.refresh_from_db()
    assert made.mode == RenderMode.COMPOSED and made.results.count() == 2
    assert not fake_openai.hits("/v1/images/generations")
    assert (used(alice), layouts(alice)) == (0, 2)


def test_a_layout_that_fails_gives_its_layout_back(alice, submit, monkeypatch, db):
    made = submit(alice, texts={"title": "劳动最光荣"})

    def broken(*args, **kwargs):
        raise RuntimeError("font cache gone")

    monkeypatch.setattr(render, "composed", broken)

    assert generation.run(made.pk) == "failed"
    made.refresh_from_db()
    assert made.status == JobStatus.FAILED and made.error == "图片生成出错了，请稍后再试。"
    assert (used(alice), layouts(alice)) == (0, 0)


def test_variations_make_one_result_each_with_their_own_seed(
    celery_threads_worker, draw_model, fake_openai, alice, submit
):
    made = submit(alice, seed=100, variations=3)

    done = wait_status(made.pk, *DONE)

    assert done.status == JobStatus.SUCCEEDED
    assert [r.seed for r in done.results.order_by("index")] == [100, 101, 102]
    assert used(alice) == 3


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        (b"<!doctype html><html><body>502 Bad Gateway</body></html>", "not an image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "not an image"),
        (bomb_png(), "unsafe image"),
    ],
    ids=["html", "svg", "20000x20000"],
)
def test_a_provider_answer_that_is_no_usable_image_fails_clearly_and_gives_the_quota_back(
    celery_worker, draw_model, fake_openai, alice, submit, payload, detail, settings
):
    fake_openai.image_bytes = payload

    done = wait_status(submit(alice).pk, *DONE)

    assert done.status == JobStatus.FAILED
    assert "图片" in done.error and "请稍后再试" in done.error
    assert detail in done.error_detail  # the provider's side, for admins
    assert not done.results.exists() and used(alice) == 0
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]  # none kept


def test_an_expired_result_url_fails_with_the_reason_for_admins(
    celery_worker, draw_model, fake_openai, alice, submit
):
    fake_openai.image_as = "url"
    fake_openai.then(Behaviour(), Behaviour(status=404))

    done = wait_status(submit(alice).pk, *DONE)

    assert done.status == JobStatus.FAILED and done.error == "图片生成失败，请稍后再试。"
    assert "HTTP 404" in done.error_detail


def test_a_provider_that_hangs_is_retried_then_fails_with_a_clear_message(
    celery_worker, configure, fake_openai, alice, submit
):
    fake_openai.image_bytes = png()
    configure(
        "ark",
        f"{fake_openai.url}/v1",
        chat=None,
        image="seedream",
        use_for=["imaging"],
        timeout=0.5,
        max_retries=0,
    )
    fake_openai.default = Behaviour(hang=True)

    done = wait_status(submit(alice).pk, *DONE, timeout=40)

    assert done.status == JobStatus.FAILED and done.attempts == 2
    assert done.error == "图片生成超时（已尝试2次），请稍后再试。"
    assert "ai_timeout" in done.error_detail
    assert len(fake_openai.hits("/v1/images/generations")) == 2
    assert used(alice) == 0


def test_a_busy_provider_is_retried_and_the_request_succeeds(
    celery_worker, draw_model, fake_openai, alice, submit
):
    fake_openai.then(Behaviour(status=503), Behaviour(status=503), Behaviour(status=503))

    done = wait_status(submit(alice).pk, *DONE)

    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2
    assert done.results.count() == 1


def test_a_redelivered_message_makes_no_second_set_and_no_second_charge(
    draw_model, fake_openai, alice, submit, transactional_db
):
    made = submit(alice)

    outcomes = [tasks.run_image_request.apply(args=(made.pk,)).get() for _ in range(2)]

    assert outcomes == ["succeeded", "not queued"]
    assert ImageResult.objects.filter(request=made).count() == 1
    assert len(fake_openai.hits("/v1/images/generations")) == 1
    assert used(alice) == 1


def test_two_workers_racing_for_one_request_make_one_set(
    draw_model, fake_openai, alice, submit, transactional_db
):
    made = submit(alice)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def run() -> None:
        start.wait()
        outcomes.append(generation.run(made.pk))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["not queued", "succeeded"]
    assert ImageResult.objects.filter(request=made).count() == 1


def test_the_sweep_puts_back_a_request_a_dead_worker_left_running(
    celery_worker, draw_model, fake_openai, alice, submit, settings
):
    made = submit(alice)
    wait_status(made.pk, *DONE)
    # A request a worker took and then died on: running, its heartbeat long stopped. (It is
    # drawn first, so that the live worker is done with it before it is made to look lost.)
    lost = submit(alice)
    wait_status(lost.pk, *DONE)
    ImageRequest.objects.filter(pk=lost.pk).update(
        status=JobStatus.RUNNING,
        attempts=1,
        claim_token="00000000-0000-0000-0000-000000000001",
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )
    ImageResult.objects.filter(request=lost).delete()

    swept = generation.sweep()

    assert swept.requeued == 1
    done = wait_status(lost.pk, *DONE)
    assert done.status == JobStatus.SUCCEEDED and done.attempts == 2
    assert done.results.count() == 1


def test_the_sweep_fails_a_request_that_used_its_attempts_and_refunds_it(
    draw_model, alice, submit, settings
):
    made = submit(alice)
    ImageRequest.objects.filter(pk=made.pk).update(
        status=JobStatus.RUNNING,
        attempts=settings.IMAGING_MAX_ATTEMPTS,
        heartbeat_at=timezone.now() - timedelta(minutes=5),
    )

    assert generation.sweep().failed == 1

    made.refresh_from_db()
    assert made.status == JobStatus.FAILED and "重新提交" in made.error
    assert used(alice) == 0


def test_a_request_cancelled_before_a_worker_takes_it_is_never_drawn(
    draw_model, fake_openai, alice, submit, transactional_db
):
    made = submit(alice)
    requests.cancel(alice, made.pk)

    assert tasks.run_image_request.apply(args=(made.pk,)).get() == "not queued"
    assert not fake_openai.hits("/v1/images/generations")


def test_a_member_disabled_after_asking_gets_no_drawing_and_the_quota_back(
    draw_model, fake_openai, alice, submit, transactional_db
):
    made = submit(alice)
    alice.is_active = False  # an admin disables the account while the request waits
    alice.save(update_fields=["is_active"])

    assert tasks.run_image_request.apply(args=(made.pk,)).get() == "refused"

    made.refresh_from_db()
    assert made.status == JobStatus.FAILED and made.error
    assert not fake_openai.hits("/v1/images/generations")
    assert used(alice) == 0


def test_the_rewritten_prompt_is_shown_and_checked_by_the_word_list(
    celery_worker, configure, fake_openai, alice, submit
):
    fake_openai.image_bytes = png()
    with_rewriting_model(configure, fake_openai)
    fake_openai.reply = "金色阳光下，身穿工装的工人们在现代化工厂前开怀大笑，广角构图"

    done = wait_status(submit(alice).pk, *DONE)

    assert done.status == JobStatus.SUCCEEDED
    assert done.revised_prompt == fake_openai.reply
    drawn = fake_openai.hits("/v1/images/generations")[0].json()
    assert drawn["prompt"] == fake_openai.reply

    fake_openai.reply = "工人们在交易冰毒"
    blocked = wait_status(submit(alice).pk, *DONE)
    assert blocked.status == JobStatus.BLOCKED, blocked.revised_prompt
    assert "优化后的描述" in blocked.error
    assert used(alice) == 1


def test_the_tasks_time_limit_counts_as_a_timeout_and_ends_in_a_clear_failure(
    draw_model, alice, submit, monkeypatch, transactional_db
):
    from celery.exceptions import SoftTimeLimitExceeded

    from portal import ai

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(ai, "generate_image", too_slow)
    made = submit(alice)

    assert generation.run(made.pk) == "timed out"
    made.refresh_from_db()
    assert made.status == JobStatus.QUEUED  # back in the queue, its message sent again
    assert generation.run(made.pk) == "timed out"
    made.refresh_from_db()
    assert (
        made.status == JobStatus.FAILED and made.error == "图片生成超时（已尝试2次），请稍后再试。"
    )
    assert used(alice) == 0


def test_hunyuan_jobs_run_side_by_side_and_show_the_revised_prompt(
    celery_threads_worker, configure, fake_hunyuan, alice, bob, submit
):
    from tests.fakes import hunyuan

    configure(
        "hunyuan-image", fake_hunyuan.url, kind="hunyuan-image", chat=None,
        image="hunyuan-image", use_for=["imaging"],
        api_key=f"{hunyuan.SECRET_ID}:{hunyuan.SECRET_KEY}", options={"poll_interval": 0.05},
    )  # fmt: skip
    made = [submit(alice, purpose="banner", size="1280x720"), submit(bob, size="768x1024")]

    done = [wait_status(m.pk, *DONE) for m in made]

    assert [d.status for d in done] == [JobStatus.SUCCEEDED] * 2
    first = done[0].results.get()
    assert (first.width, first.height) == (1280, 720)
    assert done[1].results.get().height == 1024
    assert done[0].revised_prompt.endswith("，高清，细节丰富")  # Hunyuan's own rewriting, shown
    assert done[0].model_name == "hunyuan-image/hunyuan-image"
    with default_storage.open(first.file, "rb") as handle:
        label = render.read_label(handle.read())
    assert label is not None and label["ProduceID"] == f"img-{done[0].pk}-0"
