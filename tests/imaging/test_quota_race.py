"""Many requests at once never pass the day's quota (AI images) or the day's bound on template
layouts (no model): each count is raised by a conditional UPDATE in each request's own
transaction."""

from __future__ import annotations

import threading
from typing import Any

from django.db import connection

from imaging.errors import LayoutLimitExceeded, QuotaExceeded
from imaging.models import DailyQuota, ImageRequest
from imaging.services import requests
from tests.imaging.conftest import POSTER


def twenty_at_once(user: Any, **params: Any) -> list[str]:
    start = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def ask() -> None:
        start.wait()
        try:
            requests.submit(user, **{**POSTER, **params})
            outcome = "queued"
        except LayoutLimitExceeded:
            outcome = "refused layout"
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
    return sorted(outcomes)


def test_twenty_requests_at_once_never_pass_a_quota_of_five(
    transactional_db, alice, settings, draw_model
):
    settings.IMAGING_DAILY_QUOTA = 5

    outcomes = twenty_at_once(alice)

    assert outcomes == ["queued"] * 5 + ["refused"] * 15
    assert ImageRequest.objects.filter(owner=alice).count() == 5
    quota = DailyQuota.objects.get(user=alice)
    assert (quota.used, quota.layouts) == (5, 0)


def test_twenty_layouts_at_once_never_pass_a_bound_of_five_and_use_no_ai_quota(
    transactional_db, alice, settings
):
    settings.IMAGING_DAILY_QUOTA = 1  # the AI quota is not what bounds layouts
    settings.IMAGING_DAILY_LAYOUTS = 5

    outcomes = twenty_at_once(alice, texts={"title": "劳动最光荣"})

    assert outcomes == ["queued"] * 5 + ["refused layout"] * 15
    assert ImageRequest.objects.filter(owner=alice).count() == 5
    quota = DailyQuota.objects.get(user=alice)
    assert (quota.used, quota.layouts) == (0, 5)
