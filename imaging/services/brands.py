"""Unit brand kits (kept by the unit's staff, carried by its members' posters) and members'
own style presets."""

from __future__ import annotations

import io
import re
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from imaging import composer
from imaging.catalogue import STYLES
from imaging.errors import ImagingError, ImagingErrorCode
from imaging.models import BrandKit, StylePreset
from imaging.services import render
from portal import audit
from portal.audit import AuditOrigin
from portal.models import UNIT_PATH_SEPARATOR, AuditAction, Role, UnionUnit, User
from portal.permissions import Perm, require

COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
MAX_COLOURS = 4
MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_PRESETS = 20


def manageable_units(actor: User) -> QuerySet[UnionUnit]:
    """The units whose kit the actor keeps: a staff member's own unit and those below it."""
    require(actor, Perm.MANAGE_BRAND_KIT)
    if actor.role == Role.ADMIN:
        return UnionUnit.objects.all()
    if actor.union_unit is None:
        return UnionUnit.objects.none()
    return actor.union_unit.subtree()


def access_unit(actor: User, unit_id: int) -> UnionUnit:
    unit = manageable_units(actor).filter(pk=unit_id).first()
    if unit is None:
        raise ImagingError(
            _("只能管理本单位及下级单位的品牌套件。"), code=ImagingErrorCode.NOT_YOUR_UNIT
        )
    return unit


def check_colours(colours: list[str]) -> list[str]:
    cleaned = [c.strip() for c in colours if c and c.strip()]
    if len(cleaned) > MAX_COLOURS or not all(COLOUR.fullmatch(c) for c in cleaned):
        raise ImagingError(
            _("品牌色请填写最多%(n)d个“#RRGGBB”格式的颜色。") % {"n": MAX_COLOURS},
            code=ImagingErrorCode.BAD_COLOUR,
        )
    return [c.upper() for c in cleaned]


def _logo_png(data: bytes) -> bytes:
    """An uploaded logo, checked like any untrusted image and kept as PNG."""
    if len(data) > MAX_LOGO_BYTES:
        raise ImagingError(_("标志图片不能超过2MB。"), code=ImagingErrorCode.BAD_LOGO)
    try:
        image = render.load(data)
    except render.UnsafeImage as exc:
        raise ImagingError(exc.message, code=ImagingErrorCode.BAD_LOGO) from exc
    image.thumbnail((512, 512))
    out = io.BytesIO()
    image.convert("RGBA").save(out, "PNG")
    return out.getvalue()


def save_kit(
    actor: User,
    unit_id: int,
    *,
    organiser: str,
    colours: list[str],
    logo: bytes | None = None,
    remove_logo: bool = False,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> BrandKit:
    unit = access_unit(actor, unit_id)
    organiser = " ".join(organiser.split())[:60]
    checked = check_colours(colours)
    png = _logo_png(logo) if logo else None
    old_logo = ""
    with transaction.atomic():
        kit, _created = BrandKit.objects.select_for_update().get_or_create(unit=unit)
        if png is not None or remove_logo:
            old_logo = kit.logo
            kit.logo = (
                default_storage.save(
                    f"imaging/brand/{unit.pk}-{uuid.uuid4().hex}.png", ContentFile(png)
                )
                if png is not None
                else ""
            )
        kit.organiser, kit.colours = organiser, checked
        kit.updated_at, kit.updated_by = timezone.now(), actor
        kit.save()
        audit.record(
            AuditAction.BRAND_KIT_CHANGED,
            actor=actor,
            target=f"unit:{unit.pk}",
            detail={"unit": unit.name, "organiser": organiser, "colours": checked},
            origin=origin,
        )
        if old_logo:
            transaction.on_commit(lambda: default_storage.delete(old_logo))
    return kit


def kit_for(user: User) -> BrandKit | None:
    """The nearest kit up the union tree from the member's unit."""
    unit = user.union_unit
    if unit is None:
        return None
    names = unit.path.split(UNIT_PATH_SEPARATOR)
    paths = [UNIT_PATH_SEPARATOR.join(names[: i + 1]) for i in range(len(names))]
    kits = BrandKit.objects.filter(unit__path__in=paths).select_related("unit")
    return max(kits, key=lambda kit: kit.unit.depth, default=None)


def brand_for(user: User) -> composer.Brand | None:
    kit = kit_for(user)
    if kit is None:
        return None
    logo = None
    if kit.logo:
        try:
            with default_storage.open(kit.logo, "rb") as handle:
                logo = bytes(handle.read())
        except FileNotFoundError:
            logo = None
    return render.brand(kit.organiser, list(kit.colours), logo)


# --- personal presets ------------------------------------------------------------------------


def presets_of(user: User) -> QuerySet[StylePreset]:
    return StylePreset.objects.filter(owner=user)


def save_preset(user: User, *, name: str, style: str, extra: str, negative: str) -> StylePreset:
    require(user, Perm.USE_AI)
    name = " ".join(name.split())[:30]
    if not name or (style and style not in STYLES):
        raise ImagingError(_("请填写名称并选择有效的风格。"), code=ImagingErrorCode.BAD_PRESET)
    if presets_of(user).count() >= MAX_PRESETS:
        raise ImagingError(
            _("最多保存%(n)d个风格。") % {"n": MAX_PRESETS}, code=ImagingErrorCode.BAD_PRESET
        )
    try:
        with transaction.atomic():
            return StylePreset.objects.create(
                owner=user,
                name=name,
                style=style,
                extra=" ".join(extra.split())[:200],
                negative=" ".join(negative.split())[:200],
            )
    except IntegrityError:
        raise ImagingError(_("已有同名的风格。"), code=ImagingErrorCode.BAD_PRESET) from None


def delete_preset(user: User, preset_id: int) -> None:
    deleted, _rows = StylePreset.objects.filter(owner=user, pk=preset_id).delete()
    if not deleted:
        raise ImagingError(_("找不到这个风格预设。"), code=ImagingErrorCode.PRESET_NOT_FOUND)
