"""Image generation for each kind of provider: bytes back, with the seed and revised prompt."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from portal import ai
from portal.ai.errors import ImageFailed, ProviderAuthFailed, ProviderRejected
from portal.ai.models import Outcome, Provider, Usage
from tests.fakes import hunyuan
from tests.fakes.comfyui import FakeComfyUI
from tests.fakes.fixtures import Configure
from tests.fakes.hunyuan import FakeHunyuan
from tests.fakes.server import Behaviour, tiny_png

PROMPT = "五一劳动节海报，工人在阳光下微笑"


def image_provider(
    configure: Configure, name: str, url: str, kind: str = "openai-compatible", **kwargs: Any
) -> Provider:
    return configure(name, url, kind=kind, chat=None, image="img", use_for=["imaging"], **kwargs)


def hunyuan_provider(
    configure: Configure, fake: FakeHunyuan, secret: str = hunyuan.SECRET_KEY, **kwargs: Any
) -> Provider:
    return image_provider(
        configure,
        "hunyuan-image",
        fake.url,
        kind="hunyuan-image",
        api_key=f"{hunyuan.SECRET_ID}:{secret}",
        options={"poll_interval": 0.05},
        **kwargs,
    )


def comfy_provider(configure: Configure, fake: FakeComfyUI, **kwargs: Any) -> Provider:
    return image_provider(
        configure,
        "comfy",
        fake.url,
        kind="comfyui",
        api_key=None,
        options={"poll_interval": 0.05},
        **kwargs,
    )


def test_an_openai_compatible_image_comes_back_as_bytes(configure, fake_openai, alice):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    fake_openai.revised_prompt = "劳动节海报，阳光，微笑的工人"

    result = ai.generate_image(PROMPT, user=alice, seed=7, negative_prompt="模糊")

    assert result.data == tiny_png(7) and result.mime == "image/png"
    assert result.seed == 7 and result.revised_prompt == "劳动节海报，阳光，微笑的工人"
    body = fake_openai.requests[0].json()
    assert body["seed"] == 7 and body["negative_prompt"] == "模糊" and body["size"] == "1024x1024"
    row = Usage.objects.get()
    assert row.images == 1 and row.outcome == Outcome.OK and row.user == alice


def test_a_result_url_is_downloaded_at_once(configure, fake_openai):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    fake_openai.image_as = "url"

    result = ai.generate_image(PROMPT, seed=3)

    assert result.data == tiny_png(3)
    assert len(fake_openai.hits("/v1/images/generations")) == 1
    assert any(r.path.startswith("/files/") for r in fake_openai.requests)


def test_a_result_url_that_404s_is_a_typed_error(configure, fake_openai):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    fake_openai.image_as = "url"
    fake_openai.then(Behaviour(), Behaviour(status=404))

    with pytest.raises(ImageFailed) as caught:
        ai.generate_image(PROMPT)
    assert "404" in caught.value.detail and caught.value.message == "图片生成失败，请稍后再试。"


def test_a_payload_that_is_not_an_image_is_refused(configure, fake_openai):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    fake_openai.image_bytes = b"<html>not an image</html>"

    with pytest.raises(ImageFailed, match="图片生成失败"):
        ai.generate_image(PROMPT)


def test_an_oversized_image_is_refused(configure, fake_openai, settings):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    settings.AI_MAX_IMAGE_BYTES = 1024
    fake_openai.image_as = "url"
    fake_openai.image_bytes = tiny_png() + b"\0" * 4096

    with pytest.raises(ImageFailed) as caught:
        ai.generate_image(PROMPT)
    assert "exceeds" in caught.value.detail


def test_hunyuan_jobs_are_signed_submitted_and_polled(configure, fake_hunyuan):
    hunyuan_provider(configure, fake_hunyuan)
    fake_hunyuan.polls_before_done = 2

    result = ai.generate_image(PROMPT, size="768x1024", seed=11)

    assert result.data == tiny_png(11, 768, 1024)
    assert result.revised_prompt == f"{PROMPT}，高清，细节丰富"
    actions = [r.headers["X-TC-Action"] for r in fake_hunyuan.hits("/")]
    assert actions == ["SubmitHunyuanImageJob", *["QueryHunyuanImageJob"] * 3]
    submitted = fake_hunyuan.requests[0].json()
    assert submitted["Resolution"] == "768:1024" and submitted["Seed"] == 11
    assert submitted["Revise"] == 0  # a fixed seed only holds with the rewriting off


def test_a_wrong_hunyuan_secret_fails_the_signature_check(configure, fake_hunyuan):
    hunyuan_provider(configure, fake_hunyuan, secret="not-the-secret", max_retries=0)

    with pytest.raises(ProviderAuthFailed) as caught:
        ai.generate_image(PROMPT)
    assert "SignatureFailure" in caught.value.detail


def test_a_failed_hunyuan_job_is_a_clear_error(configure, fake_hunyuan):
    hunyuan_provider(configure, fake_hunyuan)
    fake_hunyuan.fail_job = True

    with pytest.raises(ProviderRejected) as caught:
        ai.generate_image(PROMPT)
    assert "GenerateImageFailed" in caught.value.detail


def test_a_hunyuan_result_that_expired_is_a_typed_error(configure, fake_hunyuan):
    hunyuan_provider(configure, fake_hunyuan)
    fake_hunyuan.result_404 = True

    with pytest.raises(ImageFailed):
        ai.generate_image(PROMPT)


def test_sd_webui_gives_the_seed_it_drew(configure, fake_sdwebui):
    from tests.fakes.sdwebui import RANDOM_SEED

    image_provider(configure, "sd", fake_sdwebui.url, kind="sdwebui", api_key=None)

    result = ai.generate_image(PROMPT, size="512x768")

    assert result.seed == RANDOM_SEED and result.data == tiny_png(RANDOM_SEED)
    body = fake_sdwebui.requests[0].json()
    assert (body["width"], body["height"], body["seed"]) == (512, 768, -1)


def test_comfyui_runs_the_workflow_and_fetches_the_file(configure, fake_comfyui):
    comfy_provider(configure, fake_comfyui)

    result = ai.generate_image(PROMPT, seed=21, negative_prompt="文字")

    assert result.seed == 21 and result.data == tiny_png(21)
    graph = fake_comfyui.hits("/prompt")[0].json()["prompt"]
    assert graph["6"]["inputs"]["text"] == PROMPT and graph["7"]["inputs"]["text"] == "文字"
    assert graph["4"]["inputs"]["ckpt_name"] == "img"


def test_a_comfyui_job_that_errors_is_a_clear_error(configure, fake_comfyui):
    comfy_provider(configure, fake_comfyui)
    fake_comfyui.fail_job = True

    with pytest.raises(ProviderRejected):
        ai.generate_image(PROMPT)


def test_an_image_job_that_never_finishes_times_out(configure, fake_comfyui):
    from portal.ai.errors import ProviderTimeout

    comfy_provider(configure, fake_comfyui, timeout=0.5)
    fake_comfyui.polls_before_done = 10_000

    with pytest.raises(ProviderTimeout):
        ai.generate_image(PROMPT)


def test_a_bad_size_is_refused_before_any_call(configure, fake_openai):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")
    with pytest.raises(ValueError, match="size"):
        ai.generate_image(PROMPT, size="big")
    assert fake_openai.requests == []


def test_a_size_the_model_cannot_draw_goes_to_the_next_model(configure, fake_hunyuan, fake_sdwebui):
    image_provider(configure, "sd", fake_sdwebui.url, kind="sdwebui", api_key=None)
    hunyuan_provider(configure, fake_hunyuan)  # configured last: first in the route

    result = ai.generate_image(PROMPT, size="1280x544", seed=3)

    assert result.provider == "sd"  # Hunyuan draws only its fixed resolutions
    assert fake_hunyuan.requests == []
    assert fake_sdwebui.requests[0].json()["width"] == 1280


def test_a_starting_image_goes_to_sd_webui_img2img(configure, fake_sdwebui):
    image_provider(configure, "sd", fake_sdwebui.url, kind="sdwebui", api_key=None)

    ai.generate_image(PROMPT, seed=9, image=tiny_png(5))

    sent = fake_sdwebui.hits("/sdapi/v1/img2img")[0].json()
    assert sent["init_images"] == [base64.b64encode(tiny_png(5)).decode()] and sent["seed"] == 9


def test_a_starting_image_goes_to_seedream_as_a_data_url(configure, fake_openai):
    image_provider(configure, "ark", f"{fake_openai.url}/v1")

    ai.generate_image(PROMPT, image=tiny_png(5))

    sent = fake_openai.hits("/v1/images/generations")[0].json()
    assert sent["image"] == "data:image/png;base64," + base64.b64encode(tiny_png(5)).decode()


def test_a_cloud_result_url_into_our_own_network_is_refused(configure, fake_openai):
    configure("ark", f"{fake_openai.url}/v1", chat=None, image="img", use_for=["imaging"])
    fake_openai.image_as = "url"
    fake_openai.result_host = "169.254.169.254"  # the cloud metadata service

    with pytest.raises(ai.AIError) as caught:
        ai.generate_image("工会会员日海报")

    assert caught.value.code == "ai_image_failed"
    assert "non-public address" in caught.value.detail


def test_an_answer_larger_than_any_accepted_image_is_refused_while_it_arrives(
    configure, fake_sdwebui, settings
):
    image_provider(configure, "sd", fake_sdwebui.url, kind="sdwebui", api_key=None)
    settings.AI_MAX_IMAGE_BYTES = 1024
    fake_sdwebui.then(Behaviour(body=b'{"images": ["' + b"A" * 200_000 + b'"]}'))

    with pytest.raises(ai.AIError) as caught:
        ai.generate_image(PROMPT)

    assert caught.value.code == "ai_image_failed" and "exceeds" in caught.value.detail
