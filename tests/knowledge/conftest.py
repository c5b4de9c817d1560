"""Knowledge-base fixtures: a small law and a small lexicon, written for the tests."""

from __future__ import annotations

import pytest

from knowledge.models import Category, Document, DocumentStatus
from knowledge.seed import ensure_categories
from knowledge.services import curation
from portal.models import User

MINI_LAW = """# 中华人民共和国测试劳动法

<!-- INFO END -->

## 第一章 总则

第一条 为了保护劳动者的合法权益，制定本法。

## 第二章 工作时间

第二条 用人单位由于生产经营需要，经与工会和劳动者协商后可以延长工作时间，每月不得超过三十六小时。

第三条 法定休假日安排劳动者工作的，支付不低于工资的百分之三百的工资报酬。

## 第三章 社会保险

第四条 用人单位未按时足额缴纳社会保险费的，由社会保险费征收机构责令限期缴纳或者补足。

第五条 劳动者有权参加和组织工会。
"""


@pytest.fixture
def categories(db: None) -> dict[str, Category]:
    return ensure_categories()  # a transactional test before may have flushed them


def make_document(
    editor: User | None,
    categories: dict[str, Category],
    *,
    body: str = MINI_LAW,
    title: str = "中华人民共和国测试劳动法",
    status: str = DocumentStatus.PUBLISHED,
    **fields: object,
) -> Document:
    return curation.create_document(
        curation.DocumentFields(title=title, category=categories["rights"], body=body, **fields),  # type: ignore[arg-type]
        author=editor,
        status=status,
    )


@pytest.fixture
def law(eddie: User, categories: dict[str, Category]) -> Document:
    return make_document(eddie, categories)
