"""Write's fixtures: the seed templates, a small outing-and-funds corpus in the categories the
templates draw on, a writer model routed to the fake, and helpers to follow a draft."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from knowledge.models import Category, Document, DocumentStatus
from knowledge.seed import ensure_categories
from knowledge.services import curation
from portal.models import User
from tests.fakes.openai import FakeOpenAI
from tests.waiting import wait_for
from writer.models import Draft, WritingTemplate
from writer.seed import seed_templates

RECUPERATION = """# 职工疗休养管理办法（测试）

第一条 工会组织职工春游、秋游和疗休养活动，应当坚持自愿参加、就近就便、勤俭节约的原则。

第二条 职工疗休养和春秋游活动经费从工会经费中列支，人均标准不得超过规定，不得变相发放福利。

第三条 组织活动前应当开展安全教育，为参加人员购买意外伤害保险，制定应急预案。
"""

OUTING_FORM = {
    "unit": "虎门镇总工会",
    "year": 2026,
    "season": "春游",
    "destination": "松山湖",
    "start_date": "2026-04-18",
    "days": 1,
    "participants": 120,
    "budget": 200,
    "contact": "王建国 13812345678",
    "highlights": "参观松山湖科技馆，集体徒步，团队拓展。",
    "doc_date": "2026-03-20",
}


@pytest.fixture
def categories(db: None) -> dict[str, Category]:
    return ensure_categories()


@pytest.fixture
def corpus(eddie: User, categories: dict[str, Category]) -> Document:
    return curation.create_document(
        curation.DocumentFields(
            title="职工疗休养管理办法（测试）",
            category=categories["services-recuperation"],
            body=RECUPERATION,
        ),
        author=eddie,
        status=DocumentStatus.PUBLISHED,
    )


@pytest.fixture
def templates(categories: dict[str, Category]) -> dict[str, WritingTemplate]:
    seed_templates()
    return {t.slug: t for t in WritingTemplate.objects.all()}


@pytest.fixture
def writer_model(fake_openai: FakeOpenAI, configure: Callable[..., Any]) -> Iterator[FakeOpenAI]:
    """The `writer` feature routed to the fake chat model (a long timeout: it streams slowly
    in some tests)."""
    configure("fake", f"{fake_openai.url}/v1", use_for=("writer",), timeout=3.0)
    fake_openai.reply = "为丰富职工文化生活，工会组织本次活动[1]。"
    yield fake_openai
    # The meter writes from a thread of its own: its rows must be in before a transactional
    # test's flush.
    from portal.ai import metering

    metering.flush()


def settled(draft_id: int, *, timeout: float = 30.0) -> Draft:
    """The draft once no section is queued or being written."""

    def done() -> Draft | None:
        draft = Draft.objects.get(pk=draft_id)
        return (
            draft if draft.sections_done + draft.sections_failed >= draft.sections_total else None
        )

    draft = wait_for(done, timeout=timeout, what=f"draft {draft_id} to settle")
    assert draft is not None
    return draft
