"""Roster import: a CSV of verified members from the union's own records, all rows or none."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from portal import audit, idcard, permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError, PortalErrorCode
from portal.models import (
    UNIT_PATH_SEPARATOR,
    AuditAction,
    AuditEvent,
    MemberProfile,
    Role,
    UnionUnit,
    User,
    VerificationSource,
)
from portal.permissions import Perm

HEADER = ("username", "real_name", "id_number", "member_no", "union_unit", "phone")
_PHONE = re.compile(r"^\+?[0-9][0-9\-]{4,18}$")
MAX_UNIT_DEPTH = 5
_username_validator = UnicodeUsernameValidator()


@dataclass(frozen=True)
class RosterRow:
    """One member of the roster. The ID number is already reduced to its hash and masked form."""

    line: int
    username: str
    real_name: str
    id_hash: str
    id_masked: str
    member_no: str
    unit_path: tuple[str, ...]
    phone: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RosterRow:
        return cls(**{**data, "unit_path": tuple(data["unit_path"])})


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return _("第%(line)d行：%(reason)s") % {"line": self.line, "reason": self.reason}


class RosterInvalid(PortalError):
    code = PortalErrorCode.ROSTER_INVALID

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(_("名册有%(count)d处错误，未导入任何记录。") % {"count": len(errors)})
        self.errors = errors


@dataclass(frozen=True)
class RosterResult:
    created: int
    updated: int
    unchanged: int


def decode(data: bytes) -> str:
    """Roster files come from Excel: UTF-8 (with or without BOM) or GB18030."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterInvalid([RowError(1, _("文件编码无法识别，请另存为UTF-8编码的CSV文件。"))])


def parse_roster(text: str) -> list[RosterRow]:
    """Every row checked; RosterInvalid lists each bad one with its line number."""
    reader = csv.reader(io.StringIO(text))
    errors: list[RowError] = []
    try:
        header = [cell.strip().lower() for cell in _trimmed(next(reader))]
    except StopIteration:
        raise RosterInvalid([RowError(1, _("文件是空的。"))]) from None
    except csv.Error as exc:
        raise RosterInvalid([RowError(1, _("不是有效的CSV文件：%(e)s") % {"e": exc})]) from None
    if tuple(header) != HEADER:
        raise RosterInvalid([RowError(1, _("表头应为：%(header)s") % {"header": ",".join(HEADER)})])
    rows: list[RosterRow] = []
    seen: dict[str, dict[str, int]] = {"username": {}, "id": {}, "member_no": {}}
    try:
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            row_or_error = _parse_row(line, _trimmed(cells))
            if isinstance(row_or_error, RowError):
                errors.append(row_or_error)
                continue
            row = row_or_error
            for kind, value, label in (
                ("username", row.username, _("用户名")),
                ("id", row.id_hash, _("身份证号")),
                ("member_no", row.member_no, _("会员证号")),
            ):
                if value in seen[kind]:
                    errors.append(
                        RowError(
                            line,
                            _("%(label)s与第%(other)d行重复。")
                            % {"label": label, "other": seen[kind][value]},
                        )
                    )
                seen[kind].setdefault(value, line)
            rows.append(row)
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, _("CSV格式错误：%(e)s") % {"e": exc}))
    if errors:
        raise RosterInvalid(errors)
    if not rows:
        raise RosterInvalid([RowError(2, _("名册中没有会员记录。"))])
    return rows


def _trimmed(cells: list[str]) -> list[str]:
    """Without the empty trailing columns spreadsheet programs like to add."""
    while len(cells) > len(HEADER) and not cells[-1].strip():
        cells = cells[:-1]
    return cells


@sensitive_variables("cells", "id_number", "number")
def _parse_row(line: int, cells: list[str]) -> RosterRow | RowError:
    if len(cells) != len(HEADER):
        return RowError(
            line,
            _("应有%(want)d列，实际%(got)d列。") % {"want": len(HEADER), "got": len(cells)},
        )
    cells = [cell.strip() for cell in cells]
    if any(ch < " " for cell in cells for ch in cell):
        return RowError(line, _("含有不可见的控制字符，请检查该行。"))
    username, real_name, id_number, member_no, unit, phone = cells
    if not username:
        return RowError(line, _("缺少用户名。"))
    try:
        _username_validator(username)
    except ValidationError:
        return RowError(line, _("用户名只能包含字母、数字和 @/./+/-/_ 字符。"))
    if len(username) > 150:
        return RowError(line, _("用户名过长。"))
    if not real_name or len(real_name) > 50:
        return RowError(line, _("缺少真实姓名，或姓名超过50个字。"))
    try:
        number = idcard.normalise(id_number)
    except ValidationError as exc:
        return RowError(line, exc.messages[0])
    if not member_no or len(member_no) > 40:
        return RowError(line, _("缺少会员证号，或会员证号超过40个字符。"))
    path = tuple(part.strip() for part in unit.split(UNIT_PATH_SEPARATOR))
    if len(path) > MAX_UNIT_DEPTH or len(unit) > 600:
        return RowError(line, _("所属工会层级过多（最多%(n)d级）。") % {"n": MAX_UNIT_DEPTH})
    if not unit or any(not part or len(part) > 100 for part in path):
        return RowError(
            line,
            _("所属工会应为以“/”连接的各级工会名称，例如 东莞市总工会/虎门镇总工会/某某公司工会。"),
        )
    if phone and not _PHONE.match(phone):
        return RowError(line, _("手机号格式不正确。"))
    return RosterRow(
        line=line,
        username=username,
        real_name=real_name,
        id_hash=idcard.id_hash(number),
        id_masked=idcard.mask(number),
        member_no=member_no,
        unit_path=path,
        phone=phone,
    )


def import_roster(
    rows: list[RosterRow],
    *,
    actor: User | None = None,
    source: str = "",
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> RosterResult:
    """Create or update every member of the roster as verified; on any conflict, change nothing.

    The roster is the union's own record, so it outranks a self-registration nobody has verified
    yet: such a profile holding the roster's ID or membership number is detached from its account.
    It never takes over an account that belongs to someone else.
    """
    if actor is not None:
        permissions.require(actor, Perm.IMPORT_ROSTER)
    try:
        return _apply(rows, actor=actor, source=source, origin=origin)
    except IntegrityError:
        # Only a concurrent import or registration of the same people gets here.
        raise RosterInvalid(
            [RowError(0, _("导入期间这些会员信息被同时修改，请重新导入。"))]
        ) from None


def _conflicts(rows: list[RosterRow]) -> tuple[list[RowError], list[MemberProfile]]:
    """Rows that clash with existing accounts, and unverified profiles the roster replaces."""
    users = {
        user.username.lower(): user
        for user in User.objects.annotate(lname=Lower("username"))
        .filter(lname__in={r.username.lower() for r in rows})
        .select_related("member_profile")
    }
    by_hash = {
        p.id_hash: p
        for p in MemberProfile.objects.filter(id_hash__in=[r.id_hash for r in rows]).select_related(
            "user"
        )
    }
    by_no = {
        p.member_no: p
        for p in MemberProfile.objects.filter(
            member_no__in=[r.member_no for r in rows]
        ).select_related("user")
    }
    roots = set(UnionUnit.objects.filter(parent=None).values_list("name", flat=True))
    errors: list[RowError] = []
    displaced: dict[int, MemberProfile] = {}
    for row in rows:
        user = users.get(row.username.lower())
        if user is not None:
            own: MemberProfile | None = getattr(user, "member_profile", None)
            if user.username != row.username:
                reason = _("用户名与现有账户“%(u)s”仅大小写不同。") % {"u": user.username}
                errors.append(RowError(row.line, reason))
            elif user.role != Role.MEMBER:
                reason = _("用户名“%(u)s”属于工会干部、编辑或管理员账户，不能作为会员导入。")
                errors.append(RowError(row.line, reason % {"u": user.username}))
            elif own is not None and own.id_hash != row.id_hash:
                reason = _("用户名“%(u)s”已属于身份证号不同的另一人，请换一个用户名。")
                errors.append(RowError(row.line, reason % {"u": user.username}))
        for holder, label in (
            (by_hash.get(row.id_hash), _("身份证号")),
            (by_no.get(row.member_no), _("会员证号")),
        ):
            if holder is None or holder.user.username == row.username:
                continue
            if holder.is_verified:
                reason = _("该%(label)s已属于另一个已认证账户（%(u)s）。")
                errors.append(
                    RowError(row.line, reason % {"label": label, "u": holder.user.username})
                )
            else:
                displaced[holder.pk] = holder
        if roots and row.unit_path[0] not in roots:
            reason = _("顶级工会“%(name)s”不存在（现有：%(roots)s）。")
            errors.append(
                RowError(
                    row.line, reason % {"name": row.unit_path[0], "roots": "、".join(sorted(roots))}
                )
            )
    return errors, list(displaced.values())


def _apply(
    rows: list[RosterRow], *, actor: User | None, source: str, origin: AuditOrigin
) -> RosterResult:
    with transaction.atomic():
        errors, displaced = _conflicts(rows)
        if errors:
            raise RosterInvalid(errors)
        events: list[AuditEvent] = []

        def event(action: AuditAction, target: str, **detail: object) -> None:
            events.append(
                AuditEvent(
                    action=action,
                    actor=actor,
                    actor_name=audit.actor_label(actor),
                    target=target,
                    detail={"file": source, **detail},
                    ip_address=origin.address,
                    user_agent=origin.user_agent[:300],
                )
            )

        for stale in displaced:
            event(AuditAction.PROFILE_REPLACED, stale.user.username, masked_id=stale.id_masked)
            stale.delete()
        users = {
            u.username: u
            for u in User.objects.filter(username__in=[r.username for r in rows]).select_related(
                "member_profile"
            )
        }
        units: dict[tuple[str, ...], UnionUnit] = {}
        now = timezone.now()
        created = updated = unchanged = 0
        for row in rows:
            unit = _unit_for(row.unit_path, units)
            user = users.get(row.username)
            if user is None:
                user = User(username=row.username, role=Role.MEMBER, union_unit=unit)
                user.set_unusable_password()  # the member sets one on the activation page
                user.save()
            changed = user.union_unit_id != unit.pk
            if changed:
                user.union_unit = unit
                user.save(update_fields=["union_unit"])
            profile: MemberProfile = getattr(user, "member_profile", None) or MemberProfile(
                user=user
            )
            fields = {
                "real_name": row.real_name,
                "member_no": row.member_no,
                "phone": row.phone,
                "id_hash": row.id_hash,
                "id_masked": row.id_masked,
            }
            dirty = [name for name, value in fields.items() if getattr(profile, name) != value]
            for name in dirty:
                setattr(profile, name, fields[name])
            if profile.verified_at is None:
                profile.verified_at = now
                profile.verified_by = actor
                profile.verification_source = VerificationSource.ROSTER
                dirty += ["verified_at", "verified_by", "verification_source"]
                event(AuditAction.VERIFIED, user.username, source=VerificationSource.ROSTER)
                if user.has_usable_password():
                    # A registration under the roster's user name proves nobody's identity:
                    # anyone who knew the member's ID number could have made it. Its password
                    # goes (and with it its sessions and API tokens); the member sets a new one
                    # on the activation page with their membership number and ID.
                    user.set_unusable_password()
                    user.save(update_fields=["password"])
                    event(AuditAction.PASSWORD_RESET_BY_ROSTER, user.username)
            if profile._state.adding:
                profile.save()
                created += 1
            elif dirty or changed:
                profile.save(update_fields=[*dirty, "updated_at"])
                updated += 1
            else:
                unchanged += 1
        event(
            AuditAction.ROSTER_IMPORTED,
            source,
            created=created,
            updated=updated,
            unchanged=unchanged,
        )
        AuditEvent.objects.bulk_create(events)
    return RosterResult(created=created, updated=updated, unchanged=unchanged)


def _unit_for(path: tuple[str, ...], known: dict[tuple[str, ...], UnionUnit]) -> UnionUnit:
    """The unit at this path, creating the missing ones under their parent."""
    if path in known:
        return known[path]
    parent = _unit_for(path[:-1], known) if len(path) > 1 else None
    unit = UnionUnit.objects.filter(parent=parent, name=path[-1]).first()
    if unit is None:
        unit = UnionUnit(parent=parent, name=path[-1])
        unit.save()
    known[path] = unit
    return unit
