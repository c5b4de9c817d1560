"""Embeddings: batched, in order, metered, and never two models' vectors in one answer."""

from __future__ import annotations

import pytest

from portal import ai
from portal.ai.models import AIModel, Outcome, Usage
from tests.fakes.openai import vector_for
from tests.fakes.server import Behaviour

TEXTS = ["劳动合同", "工会会费", "职工之家", "困难帮扶", "法律援助"]


def test_texts_are_embedded_in_batches_and_in_order(configure, fake_openai, alice):
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge-m3", use_for=["embedding"])
    AIModel.objects.update(batch_size=2)

    vectors = ai.embed(TEXTS, user=alice)

    assert vectors == [vector_for(text) for text in TEXTS]
    assert [len(r.json()["input"]) for r in fake_openai.requests] == [2, 2, 1]
    row = Usage.objects.get()
    assert row.outcome == Outcome.OK and row.tokens_in == sum(map(len, TEXTS))
    assert row.user == alice and row.capability == "embedding"


def test_a_model_failing_half_way_hands_the_whole_call_to_the_next(
    configure, fake_openai, fake_openai_b
):
    configure("local", f"{fake_openai_b.url}/v1", chat=None, embedding="e2", use_for=["embedding"])
    configure("cloud", f"{fake_openai.url}/v1", chat=None, embedding="e1", use_for=["embedding"])
    AIModel.objects.update(batch_size=2, max_retries=0)
    fake_openai.then(Behaviour(), Behaviour(status=500))

    vectors = ai.embed(TEXTS)

    assert len(vectors) == 5
    assert [len(r.json()["input"]) for r in fake_openai_b.requests] == [2, 2, 1]


def test_an_answer_with_missing_vectors_is_a_typed_error(configure, fake_openai):
    configure("bge", f"{fake_openai.url}/v1", chat=None, embedding="bge", use_for=["embedding"])
    AIModel.objects.update(max_retries=0)
    fake_openai.then(
        Behaviour(body=b'{"object":"list","data":[],"model":"bge","usage":null}'),
    )

    with pytest.raises(ai.AIError) as caught:
        ai.embed(["一", "二"])
    assert caught.value.code == "ai_bad_response"


def test_nothing_to_embed_calls_nobody(db):
    assert ai.embed([]) == []
    assert not ai.has_models("embedding")
