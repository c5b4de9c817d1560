"""The implicit AI label's JSON (GB 45438-2025): the fields, ASCII only, our integrity code."""

from __future__ import annotations

import json

import pytest

from portal import aigc


def test_label_has_the_standard_fields_in_order_and_printable_ascii() -> None:
    text = aigc.to_json(aigc.implicit_label("draft-12-r3"))
    label = json.loads(text)
    assert list(label) == list(aigc.FIELDS)
    assert label["Label"] == "1"
    assert label["ProduceID"] == label["PropagateID"] == "draft-12-r3"
    assert label["ContentProducer"] == label["ContentPropagator"] == aigc.service_code()
    assert all(32 <= ord(ch) < 127 for ch in text)


def test_a_propagated_label_keeps_the_providers_producer_and_is_still_ours() -> None:
    label = aigc.implicit_label(
        "img-7", producer="volcengine", propagate_id="img-7-1", reserved1="abc"
    )
    assert label["ContentProducer"] == "volcengine"
    assert label["ReservedCode1"] == "abc"
    assert aigc.is_ours(aigc.read_json(aigc.to_json(label)) or {})


def test_a_copied_or_edited_label_is_not_ours() -> None:
    label = aigc.implicit_label("img-7")
    label["PropagateID"] = "img-8"
    assert not aigc.is_ours(label)
    assert aigc.read_json("not json") is None


def test_non_ascii_values_are_refused() -> None:
    with pytest.raises(ValueError, match="ProduceID"):
        aigc.implicit_label("草稿1")
