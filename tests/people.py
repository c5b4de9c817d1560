"""Fixed named people and places of the test suite, and valid identity-card numbers for them.

The union tree: 东莞市总工会 ─ 虎门镇总工会 ─ 示范电子厂工会
                           └ 南城街道总工会
alice, bob: verified members of 示范电子厂工会; charlie: registered there, not yet verified;
olivia: registered in 南城街道总工会, not yet verified; sam: staff of 虎门镇总工会;
otto: staff of 南城街道总工会; eddie: editor; ada: admin.
"""

from __future__ import annotations

from django.utils import timezone

from portal import idcard
from portal.models import MemberProfile, Role, UnionUnit, User, VerificationSource

PASSWORD = "correct-horse-battery"


def id_number(serial: int, birth: str = "19900101", region: str = "441900") -> str:
    first17 = f"{region}{birth}{serial % 1000:03d}"
    return first17 + idcard.check_char(first17)


def make_units() -> dict[str, UnionUnit]:
    city = UnionUnit.objects.create(name="东莞市总工会")
    town = UnionUnit.objects.create(name="虎门镇总工会", parent=city)
    factory = UnionUnit.objects.create(name="示范电子厂工会", parent=town)
    other = UnionUnit.objects.create(name="南城街道总工会", parent=city)
    return {"city": city, "town": town, "factory": factory, "other": other}


def make_user(
    username: str,
    *,
    role: Role = Role.MEMBER,
    unit: UnionUnit | None = None,
    serial: int | None = None,
    verified: bool = True,
) -> User:
    user = User(username=username, role=role, union_unit=unit)
    user.set_password(PASSWORD)
    user.save()
    if serial is not None:
        number = id_number(serial)
        MemberProfile.objects.create(
            user=user,
            real_name=f"{username}的真名",
            member_no=f"M{serial:06d}",
            phone="13800000000",
            id_hash=idcard.id_hash(number),
            id_masked=idcard.mask(number),
            verified_at=timezone.now() if verified else None,
            verification_source=VerificationSource.ROSTER if verified else "",
        )
    return user
