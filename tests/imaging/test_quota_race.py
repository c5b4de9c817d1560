"""Many requests at once never pass the day's quota: the count is raised by a conditional
UPDATE in each request's own transaction."""

from __future__ import annotations

import threading

from django.db import connection

from imaging.errors import QuotaExceeded
from imaging.models import DailyQuota, ImageRequest
from imaging.services import requests
from tests.imaging.conftest import POSTER


def test_twenty_requests_at_once_never_pass_a_quota_of_five(transactional_db, alice, settings):
    settings.IMAGING_DAILY_QUOTA = 5
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        start.wait()
        try:
            requests.submit(alice, **POSTER)
            outcome = "queued"
        except QuotaExceeded:
            outcome = "refused"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes) == ["queued"] * 5 + ["refused"] * 15
    assert ImageRequest.objects.filter(owner=alice).count() == 5
    assert DailyQuota.objects.get(user=alice).used == 5
