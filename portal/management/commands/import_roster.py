"""`import_roster FILE.csv`: verified members from a roster; a file with a bad row imports none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.errors import NotPermitted
from portal.models import User
from portal.services import roster


class Command(BaseCommand):
    help = "Import a roster CSV (username,real_name,id_number,member_no,union_unit,phone)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--by", help="user name recorded as the one who verified")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        actor = None
        if options["by"]:
            actor = User.objects.filter(username=options["by"]).first()
            if actor is None:
                raise CommandError(f"no user named {options['by']!r}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            rows = roster.parse_roster(roster.decode(data))
            result = roster.import_roster(rows, actor=actor, source=path.name)
        except roster.RosterInvalid as exc:
            for error in exc.errors:
                self.stderr.write(f"{path}:{error.line}: {error.reason}")
            raise CommandError(exc.message) from None
        except NotPermitted as exc:
            raise CommandError(f"{options['by']} may not import rosters: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{path.name}: {result.created} created, {result.updated} updated, "
                f"{result.unchanged} unchanged"
            )
        )
