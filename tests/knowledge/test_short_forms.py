"""A worker's short form of a text's term (社保 for 社会保险) names what the text is about, for
the abstention's checks, in any document: no lexicon entry is needed."""

from __future__ import annotations

from typing import cast

import pytest

from knowledge.retrieval import Analysis, Concept, Passage, _finds, _wordless


def passage(text: str) -> Passage:
    return Passage(
        segment_id=1,
        document_id=1,
        title="某单位办法",
        heading="第三条",
        context="",
        text=text,
        score=1.0,
        coverage=0.5,
        matched=["@社", "@保"],
        category="laws",
    )


def unseen(word: str) -> Concept:
    return Concept(word, {word}, same={word})  # a word the index has never seen


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("社保", "缴费单位必须按月申报应缴纳的社会保险费数额。"),
        ("年假", "职工连续工作满十二个月以上的，享受带薪年休假。"),
        ("工伤险", "用人单位应当参加工伤保险，为本单位全部职工缴纳工伤保险费。"),
    ],
)
def test_a_short_form_finds_the_passage_that_holds_its_long_form(word: str, text: str) -> None:
    found = passage(text)
    assert _finds(unseen(word), found)
    assert not _wordless(cast(Analysis, _Words(unseen(word))), [found])


@pytest.mark.parametrize(
    ("word", "text"),
    [
        # 育 and 儿 are there, but across a figure: no term of the text.
        ("育儿", "生育多胞胎的，每多生育1个婴儿，增加产假15天。"),
        # Across a pause.
        ("婚假", "结婚登记后，可以请假。"),
        # Too far apart to be one term.
        ("社保", "社区应当为职工提供法律咨询和保护。"),
    ],
)
def test_characters_apart_are_not_a_short_form(word: str, text: str) -> None:
    assert not _finds(unseen(word), passage(text))


def test_a_word_the_index_knows_is_found_only_as_itself() -> None:
    known = Concept("社保", {"社保"}, known=True, same={"社保"})
    assert not _finds(known, passage("缴费单位必须按月申报应缴纳的社会保险费数额。"))


class _Words:  # the part of an Analysis that _wordless reads
    def __init__(self, *concepts: Concept) -> None:
        self.concepts = list(concepts)
