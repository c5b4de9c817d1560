"""Ask's service checks who asks, and the API and its schema agree on the longest question."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from knowledge.models import AskedQuestion, Conversation, Document
from knowledge.retrieval import MAX_QUESTION_CHARS
from knowledge.services import asking
from portal.errors import NotPermitted
from portal.models import BetaProgramme, User

pytestmark = pytest.mark.django_db

OVERTIME = "延长工作时间每月不得超过多少小时？"


def post(user: User, question: str) -> Any:
    client = Client()
    client.force_login(user)
    body = json.dumps({"question": question})
    return client.post("/api/v1/ask/", body, content_type="application/json")


def test_opening_a_turn_refuses_a_member_not_yet_verified(charlie: User, law: Document) -> None:
    with pytest.raises(NotPermitted):
        asking.open_turn(charlie, OVERTIME)
    assert not Conversation.objects.exists() and not AskedQuestion.objects.exists()


def test_opening_a_turn_refuses_a_member_without_a_place_while_the_beta_gates_ai(
    alice: User, law: Document, open_programme: BetaProgramme
) -> None:
    with pytest.raises(NotPermitted):
        asking.open_turn(alice, OVERTIME)
    assert not AskedQuestion.objects.exists()


def test_the_schema_gives_the_longest_question_the_api_accepts(client: Client) -> None:
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()
    question = schema["components"]["schemas"]["AskRequest"]["properties"]["question"]
    assert question["maxLength"] == MAX_QUESTION_CHARS == 500


def test_a_question_of_the_longest_length_is_answered(alice: User, law: Document) -> None:
    question = ("延长工作时间" * 100)[:MAX_QUESTION_CHARS]
    assert post(alice, question).status_code == 200


def test_a_question_one_character_longer_is_refused_as_too_long(alice: User, law: Document) -> None:
    response = post(alice, ("延长工作时间" * 100)[: MAX_QUESTION_CHARS + 1])
    assert response.status_code == 400
    assert response.json()["code"] == "question_too_long"
    assert str(MAX_QUESTION_CHARS) in response.json()["detail"]
    assert not AskedQuestion.objects.exists()


def test_a_spaced_out_mobile_number_counts_as_ask_counts_it(alice: User, law: Document) -> None:
    # "+86 138 0013 8000" is 17 characters as typed and 11 once masked: Ask's own check counts
    # 11, and the API must not refuse what Ask would answer.
    question = ("延长工作时间" * 100)[: MAX_QUESTION_CHARS - 11] + "+86 138 0013 8000"
    assert len(question) > MAX_QUESTION_CHARS
    assert post(alice, question).status_code == 200
