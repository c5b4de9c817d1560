"""Identity-card and mobile numbers never reach a model: search() masks the question, whoever
calls it, and a document's own numbers are masked in what the embedding and chat models read."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from knowledge import embedding
from knowledge.models import Document
from knowledge.retrieval import search
from portal.ai import metering
from portal.models import User
from tests.fakes.openai import FakeOpenAI
from tests.people import id_number

ID_NUMBER = id_number(7)
MOBILE = "13912345678"
QUESTION = f"我身份证号{ID_NUMBER}，手机 {MOBILE}，老板不给交社保怎么办"
MASKED_ID = f"{ID_NUMBER[:4]}{'*' * 10}{ID_NUMBER[-4:]}"
MASKED_MOBILE = "139****5678"


def sent_texts(fake: FakeOpenAI, path: str) -> list[str]:
    """What the model was given: embedding inputs, or the user messages of chats."""
    texts: list[str] = []
    for request in fake.hits(path):
        body = json.loads(request.body)
        if path.endswith("embeddings"):
            inputs = body["input"]
            texts.extend([inputs] if isinstance(inputs, str) else inputs)
        else:
            texts.extend(m["content"] for m in body["messages"] if m["role"] == "user")
    return texts


def assert_masked(texts: list[str]) -> None:
    assert texts, "the model was not asked at all"
    for text in texts:
        assert ID_NUMBER not in text and MOBILE not in text, text
        assert ID_NUMBER[6:14] not in text and MOBILE[3:7] not in text, text
    assert any(MASKED_ID in t and MASKED_MOBILE in t for t in texts), texts


@pytest.fixture
def embedder(configure, fake_openai: FakeOpenAI, law: Document) -> FakeOpenAI:
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge-m3", use_for=["embedding"])
    embedding.embed_segments(list(law.segments.values_list("id", flat=True)))
    fake_openai.requests.clear()  # the segments' own texts
    return fake_openai


@pytest.mark.django_db
def test_the_search_api_sends_the_embedding_model_the_question_with_numbers_masked(
    embedder: FakeOpenAI, eddie: User
) -> None:
    client = APIClient()
    client.force_authenticate(eddie)

    response = client.post("/api/v1/knowledge/search/", {"question": QUESTION}, format="json")

    assert response.status_code == 200
    assert ID_NUMBER not in response.content.decode() and MOBILE not in response.content.decode()
    assert MASKED_ID in response.json()["question"] and response.json()["passages"]
    assert_masked(sent_texts(embedder, "/v1/embeddings"))


@pytest.mark.django_db
def test_search_masks_the_numbers_for_any_caller(embedder: FakeOpenAI) -> None:
    result = search(QUESTION)

    assert MASKED_ID in result.question and MASKED_MOBILE in result.question
    assert_masked(sent_texts(embedder, "/v1/embeddings"))


@pytest.mark.django_db
def test_search_masks_numbers_split_by_pasted_spaces_and_written_in_look_alike_digits(
    embedder: FakeOpenAI,
) -> None:
    spaced = f"{ID_NUMBER[:6]}\u00a0{ID_NUMBER[6:14]}\u00a0{ID_NUMBER[14:]}"
    bold = "".join(chr(0x1D7CE + int(d)) for d in MOBILE)
    result = search(f"我身份证号{spaced}，手机\n{bold}，老板不给交社保怎么办")

    assert MASKED_ID in result.question and MASKED_MOBILE in result.question
    assert_masked(sent_texts(embedder, "/v1/embeddings"))


@pytest.mark.django_db
def test_query_rewriting_sends_the_chat_model_the_question_with_numbers_masked(
    configure, fake_openai: FakeOpenAI, settings, law: Document, eddie: User
) -> None:
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reply = "用人单位未按时足额缴纳社会保险费怎么办"
    settings.KNOWLEDGE_QUERY_REWRITE = True
    client = APIClient()
    client.force_authenticate(eddie)

    response = client.post("/api/v1/knowledge/search/", {"question": QUESTION}, format="json")
    assert response.status_code == 200
    search(f"手机{MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]}，身份证{ID_NUMBER}，单位欠社保")

    assert_masked(sent_texts(fake_openai, "/v1/chat/completions"))


NOTICE = (
    "# 测试社保通知\n\n第一条 用人单位未按时足额缴纳社会保险费的，职工可以联系工会干部张三，"
    f"手机{MOBILE}，身份证号{ID_NUMBER}。\n"
)


@pytest.mark.django_db
def test_a_documents_numbers_are_masked_in_what_the_embedding_model_reads(
    configure, fake_openai: FakeOpenAI, eddie: User, categories
) -> None:
    from tests.knowledge.conftest import make_document

    notice = make_document(eddie, categories, title="测试社保通知", body=NOTICE)
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge-m3", use_for=["embedding"])

    embedding.embed_segments(list(notice.segments.values_list("id", flat=True)))

    assert_masked(sent_texts(fake_openai, "/v1/embeddings"))


@pytest.mark.django_db(transaction=True)
def test_a_documents_numbers_are_masked_in_the_passages_ask_gives_the_model(
    configure, fake_openai: FakeOpenAI, eddie: User, alice: User, categories
) -> None:
    from tests.knowledge.conftest import make_document

    make_document(eddie, categories, title="测试社保通知", body=NOTICE)
    configure("deepseek", f"{fake_openai.url}/v1", use_for=["ask"])
    fake_openai.reply = "可以联系工会干部[1]。"
    client = APIClient()
    client.force_authenticate(alice)

    response = client.post(
        "/api/v1/ask/", {"question": "单位不按时缴纳社会保险费找谁？"}, format="json"
    )
    metering.flush()  # the meter's rows are in before the test's flush

    assert response.status_code == 200 and response.json()["mode"] == "llm"
    assert_masked(sent_texts(fake_openai, "/v1/chat/completions"))
