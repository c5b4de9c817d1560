"""search()'s short ways give what the long ways give: the components called directly rank as
the haystack Pipeline of the same components does, and the FAQ matcher's best few entries are
the first of its whole ranking."""

from __future__ import annotations

import pytest

from knowledge import faqmatch, retrieval
from knowledge.models import Category, Document
from knowledge.seed import seed_demo_knowledge

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
