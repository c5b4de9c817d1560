"""`make run` keeps its data in SQLite (var/portal.sqlite3) unless DATABASE_URL says otherwise,
while the rest of the suite runs on PostgreSQL. Here a fresh SQLite database, migrated in a
process of its own, serves the pages a member and an editor open first: a query SQLite cannot
run (Django refuses an ORDER BY inside a UNION there) shows up as a 500 on the default install
and nowhere else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json
import django
django.setup()
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)

from imaging.models import ImageRequest
from portal.models import Role
from portal.jobs import JobStatus
from tests import people

units = people.make_units()
alice = people.make_user("alice", unit=units["factory"], serial=1)
sam = people.make_user("sam", role=Role.STAFF, unit=units["town"])
eddie = people.make_user("eddie", role=Role.EDITOR, unit=units["city"])
common = dict(owner=alice, prompt="五一劳动节职工联谊会海报，红色喜庆", purpose="poster",
              width=768, height=1024, status=JobStatus.SUCCEEDED)
original = ImageRequest.objects.create(**common)
refined = ImageRequest.objects.create(**common, parent=original, root=original, step=1)

pages = {}
client = Client(HTTP_HOST="localhost")
visits = [
    (alice, ["/", "/ask/", "/images/", f"/images/{original.pk}/", f"/images/{refined.pk}/"]),
    (sam, ["/writer/"]),
    (eddie, ["/knowledge/", "/knowledge/accuracy/", "/knowledge/analytics/"]),
]
for who, paths in visits:
    client.force_login(who)
    for path in paths:
        response = client.get(path)
        pages[path] = [response.status_code, response.content.decode()]
print(json.dumps({"pages": pages, "refined": refined.pk}))
"""


def test_the_first_pages_work_on_the_sqlite_database_make_run_uses(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "REDIS_URL": "",  # make run's embedded defaults, not the suite's Redis
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "false",
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(  # noqa: S603  (our own script, run by this interpreter)
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    broken = {path: status for path, (status, _) in out["pages"].items() if status != 200}
    assert broken == {}
    # The refinement's page shows where it came from: the original, then the refinement.
    lineage = out["pages"][f"/images/{out['refined']}/"][1]
    assert "优化历程" in lineage and "原图" in lineage and "优化1" in lineage
