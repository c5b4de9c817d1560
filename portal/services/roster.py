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
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import audit, idcard
from portal.errors import PortalError
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

HEADER = ("username", "real_name", "id_number", "member_no", "union_unit", "phone")
_PHONE = re.compile(r"^\+?[0-9][0-9\-]{4,19}$")
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
    code = "roster_invalid"

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
    for encoding in ("utf-8-sig", "gb18030"):
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
        header = [cell.strip().lower() for cell in next(reader)]
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
            row_or_error = _parse_row(line, cells)
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


def _parse_row(line: int, cells: list[str]) -> RosterRow | RowError:
    if len(cells) != len(HEADER):
        return RowError(
            line,
            _("应有%(want)d列，实际%(got)d列。") % {"want": len(HEADER), "got": len(cells)},
        )
    username, real_name, id_number, member_no, unit, phone = (cell.strip() for cell in cells)
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
    rows: list[RosterRow], *, actor: User | None = None, source: str = ""
) -> RosterResult:
    """Create or update every member of the roster as verified; on any conflict, change nothing."""
    try:
        return _apply(rows, actor=actor, source=source)
    except IntegrityError:
        # Two rows swap a membership number or ID between existing accounts.
        raise RosterInvalid(
            [RowError(0, _("会员证号或身份证号在账户之间互换，请分两次导入。"))]
        ) from None


def _apply(rows: list[RosterRow], *, actor: User | None, source: str) -> RosterResult:
    with transaction.atomic():
        users = {
            u.username: u
            for u in User.objects.filter(username__in=[r.username for r in rows]).select_related(
                "member_profile", "union_unit"
            )
        }
        by_hash = dict(
            MemberProfile.objects.filter(id_hash__in=[r.id_hash for r in rows]).values_list(
                "id_hash", "user__username"
            )
        )
        by_no = dict(
            MemberProfile.objects.filter(member_no__in=[r.member_no for r in rows]).values_list(
                "member_no", "user__username"
            )
        )
        errors = []
        for row in rows:
            owner = by_hash.get(row.id_hash)
            if owner is not None and owner != row.username:
                errors.append(
                    RowError(row.line, _("该身份证号已属于另一个账户（%(u)s）。") % {"u": owner})
                )
            owner = by_no.get(row.member_no)
            if owner is not None and owner != row.username:
                errors.append(
                    RowError(row.line, _("该会员证号已属于另一个账户（%(u)s）。") % {"u": owner})
                )
        if errors:
            raise RosterInvalid(errors)

        units: dict[tuple[str, ...], UnionUnit] = {}
        now = timezone.now()
        created = updated = unchanged = 0
        verified_events = []
        for row in rows:
            unit = _unit_for(row.unit_path, units)
            user = users.get(row.username)
            if user is None:
                user = User(username=row.username, role=Role.MEMBER, union_unit=unit)
                user.set_unusable_password()
                user.save()
                MemberProfile.objects.create(
                    user=user,
                    real_name=row.real_name,
                    member_no=row.member_no,
                    phone=row.phone,
                    id_hash=row.id_hash,
                    id_masked=row.id_masked,
                    verified_at=now,
                    verified_by=actor,
                    verification_source=VerificationSource.ROSTER,
                )
                created += 1
                verified_events.append(user.username)
                continue
            changed = False
            if user.union_unit_id != unit.pk:
                user.union_unit = unit
                user.save(update_fields=["union_unit"])
                changed = True
            profile: MemberProfile | None = getattr(user, "member_profile", None)
            if profile is None:
                profile = MemberProfile(user=user)
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
                verified_events.append(user.username)
            if profile._state.adding:
                profile.save()
            elif dirty:
                profile.save(update_fields=[*dirty, "updated_at"])
            if dirty or changed:
                updated += 1
            else:
                unchanged += 1
        AuditEvent.objects.bulk_create(
            AuditEvent(
                action=AuditAction.VERIFIED,
                actor=actor,
                actor_name=actor.username if actor else "system",
                target=username,
                detail={"source": VerificationSource.ROSTER, "file": source},
            )
            for username in verified_events
        )
        audit.record(
            AuditAction.ROSTER_IMPORTED,
            actor=actor,
            actor_name="system",
            target=source,
            detail={"created": created, "updated": updated, "unchanged": unchanged},
        )
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
