"""Ask with a model on questions the knowledge base does not answer: below the hard floor no
model is asked; in the band above it the model's verdict is read strictly. Abstained questions
reach the editors grouped by what they asked about."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from knowledge import retrieval
from knowledge.models import AskedQuestion
from portal.models import User

with_model = pytest.mark.django_db(transaction=True)
COMPLETIONS = "/v1/chat/completions"
OVERTIME = "延长工作时间每月不得超过多少小时？"


def ask(user: User, question: str) -> Any:
    client = Client()
    client.force_login(user)
    body = json.dumps({"question": question})
    return client.post("/api/v1/ask/", body, content_type="application/json").json()


@pytest.fixture
def careless_model(configure, fake_openai):
    """A model that answers whatever it is asked, from its own knowledge, citing nothing."""
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reply = "下一届世界杯将在美国、加拿大和墨西哥举办。"
    yield fake_openai
    from portal.ai import metering

    metering.flush()


@with_model
def test_below_the_floor_the_portal_abstains_without_asking_the_model(
    alice, law, careless_model
) -> None:
    data = ask(alice, "下一届世界杯在哪个国家举办？")
    assert data["abstained"] is True
    assert "世界杯" not in data["answer"]
    assert "12351" in data["answer"]
    assert careless_model.hits(COMPLETIONS) == []


@with_model
def test_in_the_band_an_answer_citing_no_passage_is_read_as_no_answer(
    alice, law, careless_model, monkeypatch
) -> None:
    # A question the passages cover only partly: above the floor, below the threshold.
    monkeypatch.setattr(retrieval, "MIN_COVERAGE", 1.01)
    data = ask(alice, OVERTIME)
    assert careless_model.hits(COMPLETIONS)  # the model was asked to judge the passages
    assert data["abstained"] is True
    assert "世界杯" not in data["answer"]


@with_model
def test_in_the_band_an_answer_citing_its_passage_is_given(
    alice, law, careless_model, monkeypatch
) -> None:
    monkeypatch.setattr(retrieval, "MIN_COVERAGE", 1.01)
    careless_model.reply = "每月延长工作时间不得超过三十六小时[1]。"
    data = ask(alice, OVERTIME)
    assert data["abstained"] is False
    assert data["answer"] == "每月延长工作时间不得超过三十六小时[1]。"


@pytest.mark.django_db
def test_uncovered_questions_reach_the_editors_grouped_by_their_key_concept(
    alice, eddie, law, client
) -> None:
    for question in [
        "婚假一般几天？",
        "婚假有几天？",
        "婚假？",
        "北京今年的最低工资标准具体是多少钱？",
    ]:
        assert ask(alice, question)["abstained"] is True
    assert sorted(AskedQuestion.objects.values_list("concept", flat=True)) == [
        "北京",
        "婚假",
        "婚假",
        "婚假",
    ]
    client.force_login(eddie)
    page = client.get(reverse("knowledge_analytics")).content.decode()
    assert "婚假 × 3 个问题" in page
    assert "北京 × 1 个问题" in page
    assert page.index("婚假 × 3") < page.index("北京 × 1")
