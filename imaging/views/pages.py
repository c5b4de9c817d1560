"""Member pages of Draw under /images/: the request form and gallery, one request (live status,
results, refine, lineage), personal presets; the staff's brand kit; the editors' review list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from imaging.catalogue import MAX_PROMPT_CHARS, MAX_VARIATIONS, PURPOSES, STYLES, TEXT_FIELDS
from imaging.errors import ImageNotFound, ImagingError
from imaging.models import BrandKit
from imaging.services import brands, requests
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.permissions import Perm, has_perm, require_user


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _or_404(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ImageNotFound as exc:
        raise Http404(exc.message) from None


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The request form (GET) and submitting it (POST), with my gallery below. Without an
    imaging model the form says so first and asks for a title instead of a description."""
    user = require_user(request, Perm.USE_AI)
    values: dict[str, Any] = {"purpose": "poster", "variations": "1"}
    if request.method == "POST":
        values = request.POST.dict()
        try:
            made = requests.submit(
                user,
                prompt=values.get("prompt", ""),
                purpose=values.get("purpose", ""),
                size=values.get("size") or None,
                style=values.get("style", ""),
                texts={name: values.get(name, "") for name in TEXT_FIELDS},
                seed=_int(values.get("seed")),
                variations=_int(values.get("variations")) or 1,
                preset_id=_int(values.get("preset")),
            )
        except PortalError as exc:
            messages.error(request, exc.message)
        else:
            return redirect("image_detail", pk=made.pk)
    gallery = list(requests.my_requests(user)[:60])
    allowance = requests.allowance(user)
    return render(
        request,
        "imaging/index.html",
        {
            "values": values,
            "purposes": PURPOSES.values(),
            "styles": STYLES.values(),
            "text_fields": [(n, label, values.get(n, "")) for n, label in TEXT_FIELDS.items()],
            "presets": brands.presets_of(user),
            "gallery": gallery,
            "layout": allowance.layout,
            "quota_left": allowance.left,
            "quota": allowance.limit,
            "max_prompt": MAX_PROMPT_CHARS,
            "max_variations": range(1, MAX_VARIATIONS + 1),
            "kit": brands.kit_for(user),
        },
    )


@login_required
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_user(request, Perm.USE_AI)
    found = _or_404(lambda: requests.detail(user, pk))
    layout = requests.layout_mode()
    return render(
        request,
        "imaging/detail.html",
        {
            "item": found,
            "queue_position": requests.queue_position(found),
            "lineage": requests.lineage(found),
            "results": [] if found.is_taken_down else list(found.results.all()),
            "max_variations": range(1, MAX_VARIATIONS + 1),
            "max_prompt": MAX_PROMPT_CHARS,
            "layout": layout,
            "may_relayout": not layout or requests.may_relayout(found),
            "no_title_to_lay_out": requests.NO_TITLE_TO_LAY_OUT,
        },
    )


@login_required
@require_POST
def refine(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_user(request, Perm.USE_AI)
    try:
        made = _or_404(
            lambda: requests.refine(
                user,
                pk,
                prompt=request.POST.get("prompt"),
                keep_seed=request.POST.get("keep_seed") == "1",
                variations=_int(request.POST.get("variations")) or 1,
            )
        )
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("image_detail", pk=pk)
    return redirect("image_detail", pk=made.pk)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_user(request, Perm.USE_AI)
    try:
        _or_404(lambda: requests.cancel(user, pk))
        messages.success(request, _("已取消，额度已退回。"))
    except ImagingError as exc:
        messages.error(request, exc.message)
    return redirect("image_detail", pk=pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_user(request, Perm.USE_AI)
    _or_404(lambda: requests.delete(user, pk))
    messages.success(request, _("图片已删除。"))
    return redirect("images")


@login_required
def presets(request: HttpRequest) -> HttpResponse:
    user = require_user(request, Perm.USE_AI)
    if request.method == "POST":
        try:
            if request.POST.get("delete"):
                brands.delete_preset(user, _int(request.POST.get("delete")) or 0)
                messages.success(request, _("已删除。"))
            else:
                brands.save_preset(
                    user,
                    name=request.POST.get("name", ""),
                    style=request.POST.get("style", ""),
                    extra=request.POST.get("extra", ""),
                    negative=request.POST.get("negative", ""),
                )
                messages.success(request, _("已保存，提交图片时可以选用。"))
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("image_presets")
    return render(
        request,
        "imaging/presets.html",
        {"presets": brands.presets_of(user), "styles": STYLES.values()},
    )


@login_required
def brand_kit(request: HttpRequest) -> HttpResponse:
    """Staff keep the brand kit of their unit (and the units below it)."""
    user = require_user(request, Perm.MANAGE_BRAND_KIT)
    units = list(brands.manageable_units(user))
    if not units:
        raise Http404(_("您没有可管理的工会组织。"))
    chosen = _int(request.POST.get("unit") or request.GET.get("unit")) or units[0].pk
    if request.method == "POST":
        upload = request.FILES.get("logo")
        try:
            brands.save_kit(
                user,
                chosen,
                organiser=request.POST.get("organiser", ""),
                colours=request.POST.getlist("colour"),
                logo=upload.read() if upload else None,
                remove_logo=request.POST.get("remove_logo") == "1",
                origin=AuditOrigin.of(request),
            )
            messages.success(request, _("品牌套件已保存，本单位会员的海报将自动使用。"))
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect(f"{request.path}?unit={chosen}")
    unit = next((u for u in units if u.pk == chosen), units[0])
    kit = BrandKit.objects.filter(unit=unit).first()
    colours = list(kit.colours) if kit else []
    return render(
        request,
        "imaging/brand.html",
        {
            "units": units,
            "unit": unit,
            "kit": kit,
            "colours": colours + [""] * (brands.MAX_COLOURS - len(colours)),
        },
    )


@login_required
def review(request: HttpRequest) -> HttpResponse:
    """Editors: recent images of every member, each with a take-down form."""
    user = require_user(request, Perm.MODERATE_IMAGES)
    if request.method == "POST":
        try:
            requests.take_down(
                user,
                _int(request.POST.get("request")) or 0,
                request.POST.get("reason", ""),
                origin=AuditOrigin.of(request),
            )
            messages.success(request, _("已下架。"))
        except PortalError as exc:
            messages.error(request, exc.message)
        return redirect("image_review")
    return render(
        request,
        "imaging/review.html",
        {
            "items": requests.recent_for_moderation(),
            "may_moderate": has_perm(user, Perm.MODERATE_IMAGES),
        },
    )
