"""Image requests: submit, refine, cancel, delete, take down; the daily quota; what a member
may see. The only code that changes requests outside the worker (services/generation.py).

A request is checked (permission, description, purpose and size, overlay texts, the word list),
charged against the day's quota and stored in one transaction, and its job is sent when that
commits. A blocked request is stored too (the member sees why) and costs nothing.

Without an `imaging` model a request is a template layout (`layout_mode()`): the composer sets
its texts on a designed poster, so a title is needed and the description is not (nothing draws
it). A layout costs no AI image: it counts against the day's layouts (IMAGING_DAILY_LAYOUTS), a
bound of its own against abuse, and is made by the composer even if a model is routed later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Func, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from imaging import tasks
from imaging.catalogue import (
    MAX_PROMPT_CHARS,
    MAX_TEXT_CHARS,
    MAX_VARIATIONS,
    PURPOSES,
    STYLES,
    TEXT_FIELDS,
)
from imaging.errors import (
    Conflict,
    ImageNotFound,
    ImagingError,
    ImagingErrorCode,
    LayoutLimitExceeded,
    QuotaExceeded,
)
from imaging.models import DailyQuota, ImageRequest, ImageResult, RenderMode, StylePreset
from imaging.services import render
from portal import ai, audit, jobs
from portal.ai.images import feature_supports_size, parse_size
from portal.audit import AuditOrigin
from portal.jobs import ACTIVE, JobStatus
from portal.models import AuditAction, User
from portal.permissions import Perm, has_perm, require
from portal.privacy import mask_personal_numbers

QUOTA_ZONE = ZoneInfo("Asia/Shanghai")


class TakenDown(ImagingError):
    code = ImagingErrorCode.TAKEN_DOWN
    status = 410


# --- the quota -------------------------------------------------------------------------------


def quota_day(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), QUOTA_ZONE).date()


def quota_resets_at(now: datetime | None = None) -> datetime:
    """The next midnight in Asia/Shanghai."""
    return datetime.combine(quota_day(now) + timedelta(days=1), time.min, tzinfo=QUOTA_ZONE)


def layout_mode() -> bool:
    """Whether a request made now is a template layout: no `imaging` model is routed, so the
    composer sets its texts on a designed poster and nothing draws the description. The pages
    say so before a member asks; the features API (`/api/v1/ai/features/`) tells clients."""
    return not ai.has_models("imaging")


def _column(layout: bool) -> str:
    """The DailyQuota count a request of that kind is charged to."""
    return "layouts" if layout else "used"


def _limit(layout: bool) -> int:
    return settings.IMAGING_DAILY_LAYOUTS if layout else settings.IMAGING_DAILY_QUOTA


@dataclass(frozen=True)
class Allowance:
    """What a member may still ask for today, of the kind a request made now would be."""

    layout: bool  # template layouts (no model), not AI images
    left: int
    limit: int


def quota_left(user: User, *, layout: bool = False) -> int:
    """AI images (or, with `layout`, template layouts) the member may still ask for today."""
    column = _column(layout)
    used = DailyQuota.objects.filter(user=user, day=quota_day()).values_list(column, flat=True)
    return max(0, _limit(layout) - (used.first() or 0))


def allowance(user: User) -> Allowance:
    layout = layout_mode()
    return Allowance(layout, quota_left(user, layout=layout), _limit(layout))


def _charge(user: User, images: int, *, layout: bool) -> date:
    """Count `images` against today's AI quota (or today's layouts), or QuotaExceeded
    (LayoutLimitExceeded). A conditional UPDATE on the day's row: concurrent requests queue
    on its lock and each sees the others' counts."""
    day = quota_day()
    column, limit = _column(layout), _limit(layout)
    DailyQuota.objects.bulk_create([DailyQuota(user=user, day=day)], ignore_conflicts=True)
    charged = DailyQuota.objects.filter(
        user=user, day=day, **{f"{column}__lte": limit - images}
    ).update(**{column: F(column) + images})
    if not charged:
        resets = quota_resets_at()
        shown = {
            "limit": limit,
            "left": quota_left(user, layout=layout),
            "when": resets.strftime("%m月%d日 00:00"),
        }
        wait = max(1, int((resets - timezone.now()).total_seconds()))
        if layout:
            raise LayoutLimitExceeded(
                _(
                    "今日模板排版已达上限（每天%(limit)d张，还剩%(left)d张），"
                    "将于%(when)s（北京时间）重置。"
                )
                % shown,
                retry_after=wait,
            )
        message = _(
            "今日生成额度已用完（每天%(limit)d张，还剩%(left)d张），将于%(when)s（北京时间）重置。"
        )
        raise QuotaExceeded(message % shown, retry_after=wait)
    return day


def _is_layout(request: ImageRequest) -> bool:
    return request.mode == RenderMode.COMPOSED


def refund(request: ImageRequest) -> None:
    """Give back what a request was charged (cancelled, failed, blocked by the worker): call
    once, in the transaction that ends the request, with the request as it was before."""
    if request.charged_day is None:
        return
    column, n = _column(_is_layout(request)), request.variations
    DailyQuota.objects.filter(
        user_id=request.owner_id, day=request.charged_day, **{f"{column}__gte": n}
    ).update(**{column: F(column) - n})


def recount_as_layout(request: ImageRequest) -> None:
    """A request charged as AI images that the composer made (the model was removed while it
    waited): its images go back to the AI quota and count as layouts. Call once, in the
    transaction of `finish()`, with the request as it was before."""
    if request.charged_day is None or _is_layout(request):
        return
    n = request.variations
    DailyQuota.objects.filter(
        user_id=request.owner_id, day=request.charged_day, used__gte=n
    ).update(used=F("used") - n, layouts=F("layouts") + n)


# --- checking a request ----------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A request as checked: what the worker needs to draw it."""

    prompt: str
    purpose: str
    width: int
    height: int
    style: str
    extra: str
    negative: str
    texts: dict[str, str]
    seed: int | None
    variations: int


def check_prompt(prompt: str, *, required: bool = True) -> str:
    """The description as kept (masked); a template layout needs none (nothing draws it)."""
    text = " ".join((prompt or "").split())
    if not text and required:
        raise ImagingError(_("请描述您想要的图片。"), code=ImagingErrorCode.EMPTY_PROMPT)
    if len(text) > MAX_PROMPT_CHARS:
        raise ImagingError(
            _("描述太长了：最多%(n)d个字。") % {"n": MAX_PROMPT_CHARS},
            code=ImagingErrorCode.PROMPT_TOO_LONG,
        )
    return mask_personal_numbers(text)


def check_texts(raw: dict[str, Any] | None) -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, value in (raw or {}).items():
        if name not in TEXT_FIELDS:
            continue
        text = " ".join(str(value or "").split())
        if len(text) > MAX_TEXT_CHARS:
            raise ImagingError(
                _("“%(field)s”太长了：最多%(n)d个字。")
                % {"field": TEXT_FIELDS[name], "n": MAX_TEXT_CHARS},
                code=ImagingErrorCode.TEXT_TOO_LONG,
            )
        if text:  # set on the image by the portal, never sent to a model: kept as written
            texts[name] = text
    return texts


def check_size(purpose: str, size: str | None) -> tuple[int, int]:
    found = PURPOSES.get(purpose)
    if found is None:
        raise ImagingError(_("请选择图片用途。"), code=ImagingErrorCode.UNKNOWN_PURPOSE)
    size = (size or found.default_size).lower()
    if size not in found.sizes:
        raise ImagingError(
            _("%(purpose)s可选的尺寸是：%(sizes)s。")
            % {"purpose": found.label, "sizes": "、".join(found.sizes)},
            code=ImagingErrorCode.UNSUPPORTED_SIZE,
        )
    if not feature_supports_size("imaging", size):
        raise ImagingError(
            _("当前配置的绘图模型不支持%(size)s，请换一个尺寸。") % {"size": size},
            code=ImagingErrorCode.SIZE_NOT_SUPPORTED_BY_MODEL,
        )
    return parse_size(size)


def _preset(user: User, preset_id: int | None) -> StylePreset | None:
    if preset_id is None:
        return None
    preset = StylePreset.objects.filter(owner=user, pk=preset_id).first()
    if preset is None:
        raise ImagingError(_("找不到这个风格预设。"), code=ImagingErrorCode.PRESET_NOT_FOUND)
    return preset


def check_request(
    user: User,
    *,
    prompt: str,
    purpose: str,
    size: str | None = None,
    style: str = "",
    texts: dict[str, Any] | None = None,
    seed: int | None = None,
    variations: int = 1,
    preset_id: int | None = None,
    layout: bool = False,
) -> Spec:
    """A request as checked; a template layout (`layout`) needs a title, not a description."""
    preset = _preset(user, preset_id)
    style = style or (preset.style if preset else "")
    if style and style not in STYLES:
        raise ImagingError(_("没有这种风格。"), code=ImagingErrorCode.UNKNOWN_STYLE)
    if not 1 <= variations <= MAX_VARIATIONS:
        raise ImagingError(
            _("一次可以生成1到%(n)d张。") % {"n": MAX_VARIATIONS},
            code=ImagingErrorCode.BAD_VARIATIONS,
        )
    width, height = check_size(purpose, size)
    checked_texts = check_texts(texts)
    render.check_texts(purpose, width, height, checked_texts)
    if layout and not checked_texts.get("title"):
        raise ImagingError(
            _("尚未配置绘图模型，图片将用您填写的文字按模板排版，请填写标题。"),
            code=ImagingErrorCode.TITLE_REQUIRED,
        )
    return Spec(
        prompt=check_prompt(prompt, required=not layout),
        purpose=purpose,
        width=width,
        height=height,
        style=style,
        extra=mask_personal_numbers(preset.extra) if preset else "",
        negative=mask_personal_numbers(preset.negative) if preset else "",
        texts=checked_texts,
        seed=seed,
        variations=variations,
    )


def blocked_reason(spec: Spec) -> str:
    """Why the word list refuses the request ("" when it does not): the description and every
    overlay text are checked."""
    places = {"prompt": spec.prompt, "extra": spec.extra, **spec.texts}
    for name, text in places.items():
        verdict = ai.check_text(text, where=f"imaging.{name}")
        if not verdict.allowed:
            where = _("描述") if name in ("prompt", "extra") else str(TEXT_FIELDS[name])
            return _("%(where)s含有不适宜的内容（%(categories)s），请修改后再提交。") % {
                "where": where,
                "categories": "、".join(verdict.categories),
            }
    return ""


# --- submitting ------------------------------------------------------------------------------


def _store(
    user: User, spec: Spec, *, layout: bool, parent: ImageRequest | None = None, **lineage: Any
) -> ImageRequest:
    reason = blocked_reason(spec)
    fields: dict[str, Any] = {
        "owner": user,
        "prompt": spec.prompt,
        "purpose": spec.purpose,
        "width": spec.width,
        "height": spec.height,
        "style": spec.style,
        "extra": spec.extra,
        "negative_prompt": spec.negative,
        "texts": spec.texts,
        "seed": spec.seed,
        "variations": spec.variations,
        "parent": parent,
        "root": (parent.root or parent) if parent else None,
        "step": parent.step + 1 if parent else 0,
        "mode": RenderMode.COMPOSED if layout else "",
        **lineage,
    }
    with transaction.atomic():
        if reason:
            return ImageRequest.objects.create(
                **fields, status=JobStatus.BLOCKED, error=reason[:300], finished_at=timezone.now()
            )
        day = _charge(user, spec.variations, layout=layout)
        request = ImageRequest.objects.create(**fields, charged_day=day)
        jobs.enqueue(tasks.run_image_request, request.pk)
    return request


def submit(user: User, **params: Any) -> ImageRequest:
    """A new request (queued, or blocked with the reason): AI images, or a template layout
    when no model is routed. Raises ImagingError for bad input, QuotaExceeded over the day's
    images (LayoutLimitExceeded over its layouts), NotPermitted without USE_AI."""
    require(user, Perm.USE_AI)
    layout = layout_mode()
    return _store(user, check_request(user, **params, layout=layout), layout=layout)


def refine(
    user: User,
    request_id: int,
    *,
    prompt: str | None = None,
    keep_seed: bool = True,
    variations: int = 1,
) -> ImageRequest:
    """A refinement of one of the member's finished requests: a changed description, the same
    or a new seed, or n variations; the new request names its parent and what changed.
    Without a model it is a new layout of the parent's texts (charged as a layout)."""
    require(user, Perm.USE_AI)
    parent = access_request(user, request_id)
    if parent.is_taken_down:
        raise TakenDown(_("这张图片已被下架，不能继续优化。"))
    if parent.status != JobStatus.SUCCEEDED:
        raise Conflict(_("只有已完成的图片可以优化。"), code=ImagingErrorCode.NOT_REFINABLE)
    layout = layout_mode()
    if layout and not may_relayout(parent):
        raise Conflict(str(NO_TITLE_TO_LAY_OUT), code=ImagingErrorCode.NOT_REFINABLE)
    new_prompt = parent.prompt if prompt is None or not prompt.strip() else prompt
    first = parent.results.order_by("index").first()
    seed = (first.seed if first and first.seed is not None else parent.seed) if keep_seed else None
    spec = check_request(
        user,
        prompt=new_prompt,
        purpose=parent.purpose,
        size=parent.size,
        style=parent.style,
        texts=parent.texts,
        seed=seed,
        variations=variations,
        layout=layout,
    )
    spec = replace(spec, extra=parent.extra, negative=parent.negative_prompt)
    return _store(
        user,
        spec,
        layout=layout,
        parent=parent,
        keep_seed=keep_seed,
        change_note=change_note(parent, spec, keep_seed),
    )


NO_TITLE_TO_LAY_OUT = gettext_lazy(
    "尚未配置绘图模型，只能用图上文字重新排版，而这张图片没有标题。请回到“生成图片”填写标题后提交。"
)


def may_relayout(parent: ImageRequest) -> bool:
    """Whether a template layout can be made again from the request's texts (its title)."""
    return bool((parent.texts or {}).get("title"))


def change_note(parent: ImageRequest, spec: Spec, keep_seed: bool) -> str:
    """What a refinement changed, in words the lineage shows."""
    parts = []
    if spec.prompt != parent.prompt:
        shown = spec.prompt if len(spec.prompt) <= 40 else spec.prompt[:39] + "…"
        parts.append(_("描述改为“%(p)s”") % {"p": shown})
    else:
        parts.append(_("描述不变"))
    if keep_seed and spec.seed is not None:
        parts.append(_("沿用种子%(seed)d") % {"seed": spec.seed})
    elif keep_seed:
        parts.append(_("原图未记录种子，重新生成"))
    else:
        parts.append(_("换一个种子"))
    if spec.variations > 1:
        parts.append(_("%(n)d个变体") % {"n": spec.variations})
    return "；".join(parts)[:300]


def cancel(user: User, request_id: int) -> ImageRequest:
    """Cancel a queued request (its quota given back); a running or finished one cannot be."""
    with transaction.atomic():
        request = access_request(user, request_id, lock=True)
        if request.status != JobStatus.QUEUED:
            raise Conflict(_("只有排队中的请求可以取消。"), code=ImagingErrorCode.NOT_CANCELLABLE)
        ImageRequest.objects.filter(pk=request.pk).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), claim_token=None
        )
        refund(request)
    request.refresh_from_db()
    return request


def delete(user: User, request_id: int) -> None:
    """Delete one of the member's requests and its files (refinements keep their own)."""
    with transaction.atomic():
        request = access_request(user, request_id, lock=True)
        names = stored_files(ImageResult.objects.filter(request=request))
        if request.status in ACTIVE:  # never drawn: like a cancellation, it costs nothing
            refund(request)
        request.delete()
        transaction.on_commit(lambda: remove_files(names))


def stored_files(results: QuerySet[ImageResult]) -> list[str]:
    names: list[str] = []
    for row in results.values_list("file", "thumbnail", "source"):
        names += [name for name in row if name]
    return names


def remove_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def take_down(
    actor: User, request_id: int, reason: str, *, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> ImageRequest:
    """An editor takes an image down (any member's): its files are no longer served and it can
    no longer be refined. Audited with the reason."""
    require(actor, Perm.MODERATE_IMAGES)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ImagingError(_("请写明下架原因。"), code=ImagingErrorCode.REASON_REQUIRED)
    with transaction.atomic():
        request = ImageRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise ImageNotFound(_("找不到这张图片。"))
        if request.taken_down_at is None:
            request.taken_down_at = timezone.now()
            request.taken_down_by = actor
            request.takedown_reason = reason[:200]
            request.save(update_fields=["taken_down_at", "taken_down_by", "takedown_reason"])
            audit.record(
                AuditAction.IMAGE_TAKEN_DOWN,
                actor=actor,
                target=f"image_request:{request.pk}",
                detail={"owner": request.owner.username, "reason": reason[:200]},
                origin=origin,
            )
    return request


# --- reading ---------------------------------------------------------------------------------


def access_request(user: User, request_id: int, *, lock: bool = False) -> ImageRequest:
    """One of the user's own requests; someone else's is missing, exactly like a missing one."""
    found = ImageRequest.objects.filter(owner=user, pk=request_id)
    if lock:
        found = found.select_for_update()
    request = found.first()
    if request is None:
        raise ImageNotFound(_("找不到这张图片。"))
    return request


def access_result(user: User, result_id: int) -> ImageResult:
    """A result file the user may download: their own (not taken down); an editor's any."""
    result = ImageResult.objects.select_related("request").filter(pk=result_id).first()
    moderator = has_perm(user, Perm.MODERATE_IMAGES)
    if not moderator:
        require(user, Perm.USE_AI)
    if result is None or (result.request.owner_id != user.pk and not moderator):
        raise ImageNotFound(_("找不到这张图片。"))
    if result.request.is_taken_down and not moderator:
        raise TakenDown(_("这张图片已被下架：%(r)s") % {"r": result.request.takedown_reason})
    return result


def with_positions(requests: QuerySet[ImageRequest]) -> QuerySet[ImageRequest]:
    """Each queued request's place in the queue (1: next), in the same query."""
    ahead = (
        ImageRequest.objects.filter(status=JobStatus.QUEUED, pk__lt=OuterRef("pk"))
        .order_by()
        .annotate(n=Func(F("pk"), function="COUNT"))
        .values("n")
    )
    return requests.annotate(queued_ahead=Subquery(ahead))


def queue_position(request: ImageRequest) -> int | None:
    if request.status != JobStatus.QUEUED:
        return None
    ahead = getattr(request, "queued_ahead", None)
    if ahead is None:
        ahead = ImageRequest.objects.filter(status=JobStatus.QUEUED, pk__lt=request.pk).count()
    return int(ahead) + 1


def _results() -> Prefetch[Any]:
    return Prefetch("results", queryset=ImageResult.objects.order_by("index"))


def my_requests(user: User) -> QuerySet[ImageRequest]:
    """The member's requests, newest first, with their results and queue places."""
    require(user, Perm.USE_AI)
    return with_positions(
        ImageRequest.objects.filter(owner=user)
        .select_related("parent")
        .prefetch_related(_results())
    )


def detail(user: User, request_id: int) -> ImageRequest:
    found = my_requests(user).filter(pk=request_id).first()
    if found is None:
        raise ImageNotFound(_("找不到这张图片。"))
    return found


def lineage(request: ImageRequest) -> list[ImageRequest]:
    """The lineage the request belongs to, 原图 first, in the order it grew."""
    root_id = request.root_id or request.pk
    return list(
        ImageRequest.objects.filter(owner_id=request.owner_id)
        .filter(Q(pk=root_id) | Q(root_id=root_id))
        .order_by("step", "id")
    )


def recent_for_moderation(limit: int = 50) -> QuerySet[ImageRequest]:
    return (
        ImageRequest.objects.filter(status=JobStatus.SUCCEEDED)
        .select_related("owner", "taken_down_by")
        .prefetch_related(_results())
        .order_by("-id")[:limit]
    )
