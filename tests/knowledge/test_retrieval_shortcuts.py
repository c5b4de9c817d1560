"""search()'s short ways give what the long ways give: the components called directly rank as
the haystack Pipeline of the same components does, the FAQ matcher's best few entries are
the first of its whole ranking, a short form is found where the regular expression it
replaced found it, and segmentations an earlier process kept are those segmenting makes."""

from __future__ import annotations

import random
import re
import threading
from pathlib import Path
from unittest import mock

import pytest

from knowledge import faqmatch, retrieval
from knowledge.models import Category, Document
from knowledge.seed import seed_demo_knowledge
from knowledge.text import Segmenter

pytestmark = pytest.mark.django_db

QUESTIONS = (
    "法定休假日加班工资是多少",
    "老板拖欠工资不发怎么办",
    "公司不给交社保怎么办？",
    "怀孕了公司要辞退我怎么办",
    "试用期被辞退有补偿吗",
    "下一届世界杯在哪个国家举办？",
)


def test_search_ranks_as_the_haystack_pipeline_of_its_components(
    law: Document, categories: dict[str, Category]
) -> None:
    seed_demo_knowledge(None)  # the shipped lexicon, guides and FAQ beside the test law
    for question in QUESTIONS:
        for k, only in ((3, []), (5, ["rights"])):
            direct = retrieval._run(question, k, None, only)
            piped = retrieval._pipeline().run(
                {
                    "analyser": {"question": question, "asker": retrieval.Asker(None)},
                    "ranker": {"top_k": k, "categories": only},
                },
                include_outputs_from={"keywords", "faq"},
            )
            assert direct["ranker"] == piped["ranker"], question
            assert list(direct["faq"]["faq_hits"]) == list(piped["faq"]["faq_hits"]), question
            assert dict(direct["faq"]["wording"]) == dict(piped["faq"]["wording"]), question
            assert direct["keywords"]["candidates"].scores == piped["keywords"]["candidates"].scores


def test_the_best_faq_entries_are_the_first_of_the_whole_ranking(
    categories: dict[str, Category],
) -> None:
    seed_demo_knowledge(None)
    index = faqmatch.current()
    everything = len(index.texts)
    for question in QUESTIONS:
        weights = retrieval.search(question).analysis.weights
        whole = faqmatch.match(weights, limit=everything, question=question, index=index)
        assert whole, question
        for limit in (1, 2, 5, 12):
            best = faqmatch.match(weights, limit=limit, question=question, index=index)
            assert best == whole[:limit], (question, limit)


# The expression each short form compiled to before `retrieval.Abbreviation` read it by hand.
_PAUSES_EXPRESSION = r"0-9A-Za-z\s，。；：、！？,.;:!?（）()《》“”"


def _expression(word: str) -> re.Pattern[str]:
    gap = f"[^{_PAUSES_EXPRESSION}]{{0,{retrieval.ABBREVIATION_GAP}}}"
    return re.compile(gap.join(re.escape(ch) for ch in word))


@pytest.mark.django_db(False)
def test_a_short_form_matches_where_its_regular_expression_matched() -> None:
    chance = random.Random(14)
    # The words' own characters, others, and what a short form never reaches across.
    alphabet = "社会保险年休假工伤费" + "的了人" + "1a ，\u3000\n。（》"
    compared = 0
    for _ in range(300):
        word = "".join(chance.choice("社会保险年休假工伤费") for _ in range(chance.randint(2, 4)))
        form, expression = retrieval._abbreviation(word), _expression(word)
        assert form is not None
        for _ in range(100):
            text = "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 12)))
            if chance.random() < 0.7:  # the word's characters with up to three others between
                text = (
                    "".join(
                        "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 3))) + ch
                        for ch in word
                    )
                    + text
                )
            found = expression.match(text)
            assert form.match(text) == (found.end() if found else None), (word, text)
            assert form.search(text) == (expression.search(text) is not None), (word, text)
            compared += found is not None
    assert compared > 1000  # the texts matched often enough to compare the ends
    assert retrieval._abbreviation("社保") is not None
    assert retrieval._abbreviation("社") is None and retrieval._abbreviation("社保1") is None


ASKED = "职工申请工伤认定需要准备哪些材料呢请问"
SHORT = "工伤认定要多久"  # a short text: its segmentation serves later questions too


def test_a_process_reads_the_segmentations_an_earlier_one_kept(tmp_path: Path) -> None:
    kept = tmp_path / "segmentations.json"
    first = Segmenter()
    with first.stored(kept):
        made = first.tokens(ASKED), first.tokens(SHORT)
    assert "工伤" in made[0] and kept.exists()
    later = Segmenter()
    with mock.patch.object(later, "_tokens", side_effect=AssertionError("segmented anew")):
        with later.stored(kept):
            assert (later.tokens(ASKED), later.tokens(SHORT)) == made
        # After the block, a short text's is remembered as a segmented one is; a long text
        # is segmented, as before.
        assert later.tokens(SHORT) == made[1]
        with pytest.raises(AssertionError, match="segmented anew"):
            later.tokens(ASKED)


def test_segmentations_kept_with_other_lexicon_words_are_not_read(tmp_path: Path) -> None:
    kept = tmp_path / "segmentations.json"
    before = Segmenter()
    with before.stored(kept):
        assert "准备哪些材料" not in before.tokens(ASKED)
    # An editor's new word changes how the text is cut: what was kept before is another's.
    after = Segmenter()
    after.sync_words(["准备哪些材料"])
    with after.stored(kept):
        assert "准备哪些材料" in after.tokens(ASKED)
    # A file that cannot be read is segmented anew, and replaced.
    kept.write_text("{not json", encoding="utf-8")
    again = Segmenter()
    with again.stored(kept):
        assert "工伤" in again.tokens(ASKED)
    assert ASKED in kept.read_text(encoding="utf-8")
    # Words added change by change may segment otherwise than all at once (jieba's suggested
    # frequencies depend on the words before): such a segmenter neither reads nor keeps.
    grown, elsewhere = Segmenter(), tmp_path / "grown.json"
    grown.sync_words(["工伤认定"])
    grown.sync_words(["工伤认定", "准备哪些材料"])
    with grown.stored(elsewhere):
        assert "准备哪些材料" in grown.tokens(ASKED)
    assert not elsewhere.exists()


def test_a_question_segmented_by_another_thread_during_a_warm_up_is_not_kept(
    tmp_path: Path,
) -> None:
    # A warm-up in the background (the first /healthz of a server without a startup) while a
    # member's question is searched: the question is nobody's to keep on disk.
    kept = tmp_path / "segmentations.json"
    segmenter = Segmenter()
    question = "我叫张三，身份证号不想写在这里，工伤认定要多久"
    with segmenter.stored(kept):
        segmenter.tokens(ASKED)
        asked = threading.Thread(target=segmenter.tokens, args=(question,))
        asked.start()
        asked.join()
    text = kept.read_text(encoding="utf-8")
    assert ASKED in text and question not in text
