"""Demo data for `make run`: categories, a few union units, one user per role, an open beta."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from knowledge.models import SEED_CATEGORIES, Category
from knowledge.seed import default_corpus_dir, seed_demo_knowledge
from portal import idcard
from portal.models import (
    BetaProgramme,
    MemberProfile,
    Role,
    UnionUnit,
    User,
    VerificationSource,
)
from portal.services import beta
from writer.seed import seed_templates

DEMO_UNITS = (
    ("东莞市总工会",),
    ("东莞市总工会", "虎门镇总工会"),
    ("东莞市总工会", "虎门镇总工会", "虎门示范电子厂工会"),
    ("东莞市总工会", "南城街道总工会"),
    ("东莞市总工会", "南城街道总工会", "南城物流园联合工会"),
)
DEMO_USERS = (
    ("member", Role.MEMBER, 2, "李晓红"),
    ("staff", Role.STAFF, 1, "王建国"),
    ("editor", Role.EDITOR, 0, "陈编辑"),
    ("admin", Role.ADMIN, 0, "系统管理员"),
)
BETA_SLUG = "ai-portal-beta"


def demo_id_number(serial: int) -> str:
    """A made-up number with a valid checksum (region 441900, born 1990-01-01)."""
    first17 = f"44190019900101{serial:03d}"
    return first17 + idcard.check_char(first17)


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="run even in production")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["force"]:
            raise CommandError("seed_demo refuses to run in production without --force")
        password = settings.DEMO_PASSWORD
        generated = None
        with transaction.atomic():
            for position, (slug, name) in enumerate(SEED_CATEGORIES):
                Category.objects.get_or_create(
                    slug=slug, defaults={"name": name, "position": position}
                )
            units: dict[tuple[str, ...], UnionUnit] = {}
            for path in DEMO_UNITS:
                parent = units.get(path[:-1])
                units[path], _ = UnionUnit.objects.get_or_create(parent=parent, name=path[-1])
            for serial, (username, role, unit_depth, real_name) in enumerate(DEMO_USERS, start=1):
                user = User.objects.filter(username=username).first()
                if user is None:
                    if password is None:
                        generated = generated or secrets.token_urlsafe(9)
                    user = User(
                        username=username, role=role, union_unit=units[DEMO_UNITS[unit_depth]]
                    )
                    user.set_password(password or generated)
                    user.save()
                elif password and not user.check_password(password):
                    user.set_password(password)
                    user.save(update_fields=["password"])
                if role in (Role.MEMBER, Role.STAFF) and not hasattr(user, "member_profile"):
                    number = demo_id_number(serial)
                    MemberProfile.objects.create(
                        user=user,
                        real_name=real_name,
                        member_no=f"DG{serial:08d}",
                        phone=f"1380000{serial:04d}",
                        id_hash=idcard.id_hash(number),
                        id_masked=idcard.mask(number),
                        verified_at=timezone.now(),
                        verification_source=VerificationSource.ROSTER,
                    )
            now = timezone.now()
            programme, _ = BetaProgramme.objects.get_or_create(
                slug=BETA_SLUG,
                defaults={
                    "name": "工会AI门户内测",
                    "description": "首批100个内测名额，面向完成实名认证的会员。",
                    "capacity": 100,
                    "opens_at": now - timedelta(days=1),
                    "closes_at": now + timedelta(days=30),
                },
            )
            member = User.objects.get(username="member")
            if programme.is_open(now):
                beta.enrol(member, programme, now=now)
        corpus = default_corpus_dir()
        counts = seed_demo_knowledge(corpus)
        self.stdout.write(
            f"Knowledge: {counts['lexicon']} new lexicon entries, {counts['corpus']} corpus "
            f"documents from {corpus or '(no corpus)'}, {counts['guides']} guides, "
            f"{counts['faq']} FAQ entries"
        )
        self.stdout.write(f"Writer: {seed_templates()} new templates")
        self.stdout.write(
            self.style.SUCCESS("Demo data ready: users member, staff, editor, admin.")
        )
        if generated:
            self.stdout.write(f"Demo password (set DEMO_PASSWORD to choose one): {generated}")
