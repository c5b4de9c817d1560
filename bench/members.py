"""Verified members with API tokens, made straight in the server's database for the benchmarks."""

from __future__ import annotations


def create_members(prefix: str, count: int) -> list[str]:
    """`count` verified members named `<prefix>-<i>` in 压测工会; their token keys."""
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from portal import idcard
    from portal.models import MemberProfile, Role, UnionUnit, User, VerificationSource

    now = timezone.now()
    unit, _ = UnionUnit.objects.get_or_create(name="压测工会", parent=None)
    User.objects.bulk_create(
        User(username=f"{prefix}-{i}", role=Role.MEMBER, union_unit=unit, password="!")
        for i in range(count)
    )
    users = list(User.objects.filter(username__startswith=f"{prefix}-"))
    profiles = []
    for i, user in enumerate(users):
        first17 = f"110105{1970 + i % 40}0101{i % 1000:03d}"
        number = first17 + idcard.check_char(first17)
        profiles.append(
            MemberProfile(
                user=user,
                real_name=f"会员{i}",
                member_no=f"{prefix}-{i}",
                id_hash=idcard.id_hash(f"{prefix}-{i}-{number}"),  # unique per run
                id_masked=idcard.mask(number),
                verified_at=now,
                verification_source=VerificationSource.ROSTER,
            )
        )
    MemberProfile.objects.bulk_create(profiles)
    tokens = [Token(user=user, key=Token.generate_key()) for user in users]
    Token.objects.bulk_create(tokens)
    return [t.key for t in tokens]


def remove_members(prefix: str) -> None:
    from portal.models import User

    User.objects.filter(username__startswith=f"{prefix}-").delete()
