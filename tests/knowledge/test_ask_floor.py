"""Ask with a model on questions the knowledge base does not answer: below the hard floor no
model is asked; in the band above it the model's verdict is read strictly. Abstained questions
reach the editors grouped by what they asked about.

In a base whose editors keep a lexicon, a question none of whose words is union vocabulary
(a match on television, a school transfer) is about another matter: the few characters it
shares with a guide are no answer. One that names no specific thing never reaches the model;
one that names a thing the documents do not know goes to the model to judge strictly."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from knowledge import retrieval
from knowledge.models import AskedQuestion, Category, Document, LexiconEntry
from knowledge.retrieval import search
from portal.models import User
from tests.knowledge.conftest import make_document

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


# --- questions about another matter altogether ---------------------------------------------

GUIDE = """# 职工服务指南

<!-- INFO END -->

## 劳动和技能竞赛

各级工会每年组织职工劳动和技能竞赛，比赛项目由基层工会报名参加，获奖职工给予表彰。

## 法律援助

职工申请法律援助的，应当准备身份证明、劳动合同和工资条等材料，到工会服务窗口办理。
"""

# Nothing but everyday words (比赛, 直播), a few characters shared with the contest guide. (Not
# 几点: a time of day is a figure no passage gives, abstained on with or without a lexicon.)
MATCH_TONIGHT = "今晚的比赛在哪个台直播？"
# A thing the documents never name (老家, 小学), and a word of the legal-aid guide (材料).
SCHOOL_TRANSFER = "孩子在老家上小学，想转学到城里来读，要准备什么材料"


@pytest.fixture
def documents(eddie: User, categories: dict[str, Category]) -> list[Document]:
    return [
        make_document(eddie, categories),
        make_document(eddie, categories, body=GUIDE, title="职工服务指南"),
    ]


@pytest.fixture
def lexicon(db: None) -> LexiconEntry:
    return LexiconEntry.objects.create(kind="colloquial", phrase="加班", targets=["延长工作时间"])


@pytest.mark.django_db
def test_with_a_lexicon_questions_outside_the_unions_matter_are_not_answered(
    documents, lexicon
) -> None:
    match = search(MATCH_TONIGHT)
    assert match.abstained and match.missed_key  # no model is asked either
    transfer = search(SCHOOL_TRANSFER)
    assert transfer.abstained and not transfer.missed_key  # a model may judge this one
    assert transfer.concept == "老家"
    # The union's own questions, in its words or the documents', are still answered.
    for question, label in [
        ("加班一个月最多多少小时？", "《中华人民共和国测试劳动法》第二条"),
        ("法律援助要准备什么材料？", "《职工服务指南》法律援助"),
    ]:
        result = search(question)
        assert not result.abstained, question
        assert result.passages[0].label == label


@pytest.mark.django_db
def test_without_a_lexicon_unknown_words_are_no_evidence_of_another_matter(documents) -> None:
    # A base of documents only: a worker's own words (小孩 for 未成年人) are as unknown to it as
    # a school's, so the question is searched as any other.
    for question in [MATCH_TONIGHT, SCHOOL_TRANSFER]:
        assert not search(question).abstained, question


@with_model
def test_with_a_model_only_a_question_naming_an_unknown_thing_is_judged_by_it(
    alice, documents, lexicon, careless_model
) -> None:
    careless_model.reply = "今晚的比赛八点开始，中央五台直播。"
    data = ask(alice, MATCH_TONIGHT)
    assert data["abstained"] is True
    assert "直播" not in data["answer"]
    assert careless_model.hits(COMPLETIONS) == []  # below the floor: the model is not asked

    careless_model.reply = "转学需要户口本和学籍证明。"  # from its own knowledge, citing nothing
    data = ask(alice, SCHOOL_TRANSFER)
    assert len(careless_model.hits(COMPLETIONS)) == 1  # the model judged the passages
    assert data["abstained"] is True
    assert "户口本" not in data["answer"]

    careless_model.reply = "申请法律援助要准备身份证明、劳动合同和工资条等材料[1]。"
    data = ask(alice, SCHOOL_TRANSFER)
    assert data["abstained"] is False
    assert data["answer"] == careless_model.reply
