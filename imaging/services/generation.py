"""The worker's side of an image request: claim it, draw it (a model, or the composer for a
template layout: a request made without a model, or one whose model has gone since), label it,
keep its files, finish it — once.

Idempotent by request id: `claim()` lets one worker have the request; the results are written
in the transaction of `finish()`, which holds only while the claim token is still this worker's,
so a redelivered message, a second worker or a request cancelled or swept meanwhile never adds
a second set (and the quota was charged once, when the request was made). Files written by a run
that lost its claim are deleted again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from imaging import tasks
from imaging.catalogue import STYLES
from imaging.models import ImageRequest, ImageResult, RenderMode
from imaging.services import brands, render
from imaging.services.requests import layout_mode, recount_as_layout, refund, remove_files
from portal import ai, jobs
from portal.ai.errors import AIError, ProviderTimeout
from portal.jobs import JobStatus
from portal.permissions import Perm

log = logging.getLogger("imaging")


@dataclass(frozen=True)
class Drawn:
    rendered: render.Rendered
    seed: int | None
    source: bytes | None  # the model's own image (kept for refinement), None when composed


class Blocked(Exception):
    """The revised prompt failed the word list."""


def _prompt(request: ImageRequest) -> str:
    style = STYLES.get(request.style)
    parts = [request.prompt, request.extra, style.prompt if style else ""]
    return "，".join(part for part in parts if part)


def rewrite(request: ImageRequest, prompt: str) -> str:
    """The `prompt_rewrite` model's fuller description (when one is routed), checked by the
    word list; the member's own words when the model fails."""
    if not ai.has_models("prompt_rewrite"):
        return ""
    try:
        result = ai.chat(
            [
                {
                    "role": "system",
                    "content": "你是绘图提示词助手。把用户的中文描述改写成适合文生图模型的详细描述"
                    "（主体、场景、构图、光线、色彩），不要加入文字内容，只输出改写后的描述，"
                    "不超过200字。",
                },
                {"role": "user", "content": prompt},
            ],
            user=request.owner,
            feature="prompt_rewrite",
        )
    except AIError as exc:
        log.warning("prompt rewrite for image %s failed: %s", request.pk, exc.detail)
        return ""
    revised = " ".join(result.text.split())[:1000]
    verdict = ai.check_text(revised, where="imaging.revised_prompt")
    if not verdict.allowed:
        raise Blocked(
            _("优化后的描述含有不适宜的内容（%(c)s），请修改描述后再试。")
            % {"c": "、".join(verdict.categories)}
        )
    return revised


def _parent_source(request: ImageRequest) -> bytes | None:
    """The starting image of a refinement: the parent's own drawing (before texts and marks)."""
    if request.parent_id is None:
        return None
    first = ImageResult.objects.filter(request_id=request.parent_id).order_by("index").first()
    if first is None or not first.source:
        return None
    try:
        with default_storage.open(first.source, "rb") as handle:
            return bytes(handle.read())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Drawing:
    images: list[Drawn]
    model: str  # "provider/model", "" when composed
    revised_prompt: str  # the provider's own rewriting (Hunyuan, Seedream), if it told us


def composes(request: ImageRequest) -> bool:
    """Whether the composer makes the request: a template layout from the start, or no
    `imaging` model is routed now."""
    return request.mode == RenderMode.COMPOSED or layout_mode()


def draw(request: ImageRequest, prompt: str, *, compose: bool) -> Drawing:
    """The request's images: one provider call per variation, or the composer's design."""
    kit = brands.brand_for(request.owner)
    if compose:
        drawn = [
            Drawn(
                render.composed(
                    request.purpose,
                    request.width,
                    request.height,
                    request.texts,
                    theme=STYLES[request.style].theme if request.style in STYLES else None,
                    brand_kit=kit,
                    seed=(request.seed or request.pk) + i,
                ),
                None,
                None,
            )
            for i in range(request.variations)
        ]
        return Drawing(drawn, "", "")
    start = _parent_source(request)
    drawn, model, revised = [], "", ""
    for i in range(request.variations):
        seed = request.seed + i if request.seed is not None else None
        result = ai.generate_image(
            prompt,
            user=request.owner,
            feature="imaging",
            size=request.size,
            seed=seed,
            negative_prompt=request.negative_prompt or None,
            image=start,
        )
        model = f"{result.provider}/{result.model}"
        revised = revised or " ".join((result.revised_prompt or "").split())[:1000]
        rendered = render.ai_image(
            result.data,
            purpose=request.purpose,
            texts=request.texts,
            brand_kit=kit,
            produce_id=f"img-{request.pk}-{i}",
        )
        drawn.append(Drawn(rendered, result.seed, result.data))
    return Drawing(drawn, model, revised)


def _save(request: ImageRequest, index: int, drawn: Drawn, names: list[str]) -> ImageResult:
    folder = f"imaging/{request.owner_id}/{request.pk}-{uuid.uuid4().hex}"

    def put(suffix: str, data: bytes) -> str:
        name = default_storage.save(f"{folder}/{index}{suffix}", ContentFile(data))
        names.append(name)
        return name

    thumb_ext = ".webp" if drawn.rendered.thumbnail_mime == "image/webp" else ".jpg"
    return ImageResult(
        request=request,
        index=index,
        file=put(".png", drawn.rendered.data),
        thumbnail=put(f"-thumb{thumb_ext}", drawn.rendered.thumbnail),
        source=put("-source", drawn.source) if drawn.source is not None else "",
        thumbnail_mime=drawn.rendered.thumbnail_mime,
        width=drawn.rendered.width,
        height=drawn.rendered.height,
        seed=drawn.seed,
    )


def _keep(request: ImageRequest, token: uuid.UUID, drawing: Drawing, revised: str) -> bool:
    names: list[str] = []
    try:
        rows = [_save(request, i, d, names) for i, d in enumerate(drawing.images)]
        with transaction.atomic():
            finished = jobs.finish(
                ImageRequest,
                request.pk,
                token,
                mode=RenderMode.AI if drawing.model else RenderMode.COMPOSED,
                model_name=drawing.model[:200],
                revised_prompt=revised or drawing.revised_prompt,
            )
            if finished:
                ImageResult.objects.bulk_create(rows)
                if not drawing.model:  # charged as AI images, made without a model
                    recount_as_layout(request)
    except BaseException:
        remove_files(names)
        raise
    if not finished:  # cancelled, deleted or swept meanwhile: another run owns it now
        remove_files(names)
    return finished


def _end(request: ImageRequest, token: uuid.UUID, status: str, message: str, detail: str) -> None:
    with transaction.atomic():
        if jobs.finish(
            ImageRequest,
            request.pk,
            token,
            status=status,
            error=message[:300],
            error_detail=detail[:1000],
        ):
            refund(request)


def _retry_or_fail(request: ImageRequest, token: uuid.UUID, error: AIError) -> None:
    """A provider failure: back to the queue with a backoff while attempts remain, else failed
    with the member's message and the provider's detail for admins."""
    attempts = ImageRequest.objects.filter(pk=request.pk).values_list("attempts", flat=True)
    used = attempts.first() or 0
    if error.retryable and used < settings.IMAGING_MAX_ATTEMPTS:
        delay = settings.IMAGING_RETRY_BACKOFF_SECONDS * 2 ** (used - 1)
        if jobs.release(ImageRequest, request.pk, token):
            jobs.enqueue(tasks.run_image_request, request.pk, countdown=delay)
        return
    message = (
        _("图片生成超时（已尝试%(n)d次），请稍后再试。") % {"n": used}
        if isinstance(error, ProviderTimeout)
        else error.message
    )
    _end(request, token, JobStatus.FAILED, message, f"{error.code}: {error.detail}")


def run(request_id: int) -> str:
    """Run one request if it is still queued; what happened, for the log."""
    token = jobs.claim(ImageRequest, request_id)
    if token is None:
        return "not queued"
    request = ImageRequest.objects.select_related("owner__union_unit").filter(pk=request_id).first()
    if request is None:  # deleted by its owner since it was claimed
        return "deleted"
    if refused := jobs.refusal(request.owner, Perm.USE_AI):
        _end(request, token, JobStatus.FAILED, refused, "refused: the owner may no longer use AI")
        return "refused"
    try:
        with jobs.heartbeat(
            ImageRequest, request_id, token, every=settings.IMAGING_HEARTBEAT_SECONDS
        ):
            compose = composes(request)
            prompt = _prompt(request)
            revised = "" if compose else rewrite(request, prompt)  # nothing draws a layout's
            if revised:
                jobs.touch(ImageRequest, request_id, token, revised_prompt=revised)
            drawing = draw(request, revised or prompt, compose=compose)
            return "succeeded" if _keep(request, token, drawing, revised) else "lost claim"
    except Blocked as exc:
        _end(request, token, JobStatus.BLOCKED, str(exc), "revised prompt blocked")
        return "blocked"
    except render.UnsafeImage as exc:
        _end(
            request,
            token,
            JobStatus.FAILED,
            _("模型返回的内容不是可用的图片，请稍后再试。"),
            f"unsafe image: {exc.code}",
        )
        return "failed"
    except SoftTimeLimitExceeded:
        _retry_or_fail(request, token, ProviderTimeout(detail="the task's time limit passed"))
        return "timed out"
    except AIError as exc:
        _retry_or_fail(request, token, exc)
        return "retry or failed"
    except Exception as exc:  # a fault of ours: fail now rather than retry it until swept
        log.exception("image request %s failed", request_id)
        _end(request, token, JobStatus.FAILED, _("图片生成出错了，请稍后再试。"), repr(exc))
        return "failed"


def sweep() -> jobs.Swept:
    """Requests a dead worker left running go back to the queue (or fail after their
    attempts, their quota given back); messages nobody took are sent again."""

    def give_back(ids: list[int]) -> None:
        for request in ImageRequest.objects.filter(pk__in=ids):
            refund(request)

    return jobs.sweep(
        ImageRequest,
        tasks.run_image_request,
        stale_after=timedelta(seconds=settings.IMAGING_STALE_SECONDS),
        unclaimed_after=timedelta(seconds=settings.IMAGING_UNCLAIMED_SECONDS),
        max_attempts=settings.IMAGING_MAX_ATTEMPTS,
        give_up=_("图片生成中断且多次重试未成功，请重新提交。"),
        on_failed=give_back,
    )
