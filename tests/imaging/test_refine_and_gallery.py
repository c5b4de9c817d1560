"""Refinement and its lineage (img2img where the provider takes an image), the gallery: owner-only
files, delete, editors' take-down, the list's query count."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import ImageRequest, ImageResult
from imaging.services import generation, requests
from portal.jobs import JobStatus
from portal.models import AuditAction, AuditEvent
from tests.imaging.conftest import png

pytestmark = pytest.mark.django_db


def drawn(submit: Any, user: Any, **params: Any) -> Any:
    """A request run to its end in this thread (the worker's service, without a broker)."""
    made = submit(user, **params)
    assert generation.run(made.pk) == "succeeded"
    made.refresh_from_db()
    return made


def refine(api: Any, user: Any, pk: int, **body: Any) -> Any:
    return api(user).post(f"/api/v1/images/{pk}/refine/", body, format="json")


def test_refining_keeps_the_lineage_and_says_what_changed(api, alice, submit, draw_model):
    original = drawn(submit, alice, seed=7)

    first = refine(api, alice, original.pk, prompt="五一劳动节，工人们在工厂前微笑合影，夕阳")
    assert first.status_code == 202
    body = first.json()
    assert body["parent"] == original.pk and body["step_label"] == "优化1"
    assert body["change_note"] == "描述改为“五一劳动节，工人们在工厂前微笑合影，夕阳”；沿用种子7"
    assert generation.run(body["id"]) == "succeeded"
    second = refine(api, alice, body["id"], keep_seed=False, variations=2).json()

    assert second["step_label"] == "优化2" and second["root"] == original.pk
    assert second["change_note"] == "描述不变；换一个种子；2个变体"
    steps = requests.lineage(ImageRequest.objects.get(pk=second["id"]))
    assert [s.step_label for s in steps] == ["原图", "优化1", "优化2"]


def test_a_refinement_starts_from_the_image_where_sd_webui_takes_one(
    api, alice, submit, configure, fake_sdwebui
):
    fake_sdwebui.image_bytes = png(512, 512, (10, 200, 10))
    configure(
        "sd",
        fake_sdwebui.url,
        kind="sdwebui",
        chat=None,
        image="default",
        use_for=["imaging"],
        api_key=None,
    )
    original = drawn(submit, alice, seed=5)

    made = refine(api, alice, original.pk, prompt="同样的画面，换成夜景").json()
    assert generation.run(made["id"]) == "succeeded"

    assert [r.path for r in fake_sdwebui.requests] == ["/sdapi/v1/txt2img", "/sdapi/v1/img2img"]
    sent = fake_sdwebui.requests[1].json()
    assert sent["seed"] == 5 and "夜景" in sent["prompt"]
    assert base64.b64decode(sent["init_images"][0]) == fake_sdwebui.image_bytes  # unmarked


def test_where_the_provider_takes_no_image_a_refinement_redraws_with_the_same_seed(
    api, alice, submit, configure, fake_comfyui, tmp_path
):
    configure(
        "comfy",
        fake_comfyui.url,
        kind="comfyui",
        chat=None,
        image="default",
        use_for=["imaging"],
        api_key=None,
        options={"poll_interval": 0.05},
    )
    original = drawn(submit, alice, seed=42)
    made = refine(api, alice, original.pk).json()

    assert generation.run(made["id"]) == "succeeded"
    seeds = [r.json()["prompt"]["3"]["inputs"]["seed"] for r in fake_comfyui.hits("/prompt")]
    assert seeds == [42, 42]


def test_the_owner_downloads_the_file_and_no_one_else_does(
    api, alice, bob, eddie, submit, draw_model
):
    made = drawn(submit, alice)
    result = made.results.get()
    file_url = f"/api/v1/images/files/{result.pk}/"

    mine = api(alice).get(file_url)
    assert mine.status_code == 200 and mine["Cache-Control"] == "private, no-store"
    assert api(bob).get(file_url).status_code == 404
    assert api(bob).get(f"{file_url}thumbnail/").status_code == 404
    assert api(None).get(file_url).status_code == 401
    assert api(eddie).get(file_url).status_code == 200  # an editor reviewing it
    assert not result.file.startswith(("/", "media/")) and "imaging/" in result.file


def test_an_editor_takes_an_image_down_with_a_reason_in_the_audit_log(
    api, alice, bob, eddie, submit, draw_model
):
    made = drawn(submit, alice)
    result = made.results.get()

    assert (
        api(bob)
        .post(f"/api/v1/images/{made.pk}/take-down/", {"reason": "x"}, format="json")
        .status_code
        == 403
    )
    no_reason = api(eddie).post(
        f"/api/v1/images/{made.pk}/take-down/", {"reason": " "}, format="json"
    )
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    done = api(eddie).post(
        f"/api/v1/images/{made.pk}/take-down/", {"reason": "含有未经授权的标志"}, format="json"
    )

    assert done.status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.IMAGE_TAKEN_DOWN)
    assert event.actor == eddie and event.target == f"image_request:{made.pk}"
    assert event.detail == {"owner": "alice", "reason": "含有未经授权的标志"}
    gone = api(alice).get(f"/api/v1/images/files/{result.pk}/")
    assert gone.status_code == 410 and "含有未经授权的标志" in gone.json()["detail"]
    shown = api(alice).get(f"/api/v1/images/{made.pk}/").json()
    assert shown["results"] == [] and shown["taken_down"] == "含有未经授权的标志"
    refused = refine(api, alice, made.pk, prompt="再画一张")
    assert refused.status_code == 410 and refused.json()["code"] == "taken_down"
    assert ImageRequest.objects.count() == 1


def test_deleting_an_image_removes_its_files(
    api, alice, submit, draw_model, settings, django_capture_on_commit_callbacks
):
    made = drawn(submit, alice)
    kept = made.results.get()
    names = [kept.file, kept.thumbnail, kept.source]
    media = Path(settings.MEDIA_ROOT)
    assert all((media / name).is_file() for name in names)

    with django_capture_on_commit_callbacks(execute=True):
        response = api(alice).delete(f"/api/v1/images/{made.pk}/")

    assert response.status_code == 204
    assert not ImageRequest.objects.exists() and not ImageResult.objects.exists()
    assert not any((media / name).exists() for name in names)


def test_the_list_costs_the_same_queries_for_3_and_30_images(
    api, alice, submit, draw_model, settings
):
    settings.IMAGING_DAILY_QUOTA = 100

    def make(n: int) -> None:
        for i in range(n):
            made = submit(alice, seed=i)
            if i % 2:
                generation.run(made.pk)
            if i % 3 == 0:
                refine_parent = ImageRequest.objects.filter(status=JobStatus.SUCCEEDED).first()
                if refine_parent:
                    requests.refine(alice, refine_parent.pk)

    def count() -> int:
        client = api(alice)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/images/")
        assert response.status_code == 200
        return len(queries)

    make(3)
    few = count()
    make(27)
    assert len(api(alice).get("/api/v1/images/").json()) > 30
    assert count() == few
