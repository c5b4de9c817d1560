"""FAQ as knowledge: an editor's FAQ answer answers by itself, cited with the articles it rests
on; an answer spanning two articles cites both."""

from __future__ import annotations

import pytest
from django.urls import reverse

from knowledge.models import AskedQuestion, Category, Document, FaqEntry, FaqStatus
from knowledge.retrieval import search
from knowledge.seed import SEED_DIR, load_lexicon, seed_demo_knowledge
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import MINI_LAW, make_document
from tests.knowledge.test_ask import client_for, model, post, with_model

__all__ = ["model"]  # the fake model fixture of the Ask tests

pytestmark = pytest.mark.django_db

OVERTIME_FAQ = "加班每个月最多能加多少小时？"
OVERTIME_ANSWER = (
    "每月延长工作时间不得超过三十六小时（《中华人民共和国测试劳动法》第二条），超过的可以拒绝。"
)


def faq(
    categories: dict[str, Category],
    *,
    question: str = OVERTIME_FAQ,
    answer: str = OVERTIME_ANSWER,
    variants: tuple[str, ...] = ("一个月加班上限是多少小时",),
    segments: tuple[object, ...] = (),
    status: str = FaqStatus.PUBLISHED,
) -> FaqEntry:
    return curation.save_faq(
        question=question,
        answer=answer,
        variants=variants,
        category=categories["rights"],
        segments=segments,  # type: ignore[arg-type]
        status=status,
        author=None,
    )


def test_a_fresh_clone_answers_common_questions_from_the_seed_faq(alice: User, categories):
    # No laws imported (no ../shared): what seed_demo loads then, the shipped lexicon, guides
    # and FAQ.
    seed_demo_knowledge(None)
    assert not Document.objects.exclude(origin__startswith="seed:guides/").exists()
    client = client_for(alice)
    for question, names in (
        ("老板拖欠工资不发怎么办", "拖欠"),
        ("公司不给交社保怎么办？", "社会保险"),
        ("怀孕了公司要辞退我怎么办", "怀孕"),
    ):
        data = post(client, question=question).json()
        assert data["abstained"] is False, question
        first = data["citations"][0]
        assert first["kind"] == "faq"
        entry = FaqEntry.objects.get(pk=first["faq"])
        assert data["answer"].startswith(entry.answer.strip())  # the editor's answer, quoted
        assert names in entry.answer
        # It names its law and article; with no law in the base, nothing to link to.
        assert first["sources"] and all(s["url"] is None for s in first["sources"])
        assert first["sources"][0]["article"].startswith("第")
        # Analytics files the question under the entry's category.
        asked = AskedQuestion.objects.get(answer_id=data["message"])
        assert (asked.abstained, asked.category_id) == (False, entry.category_id)
    # The guides share its everyday words (国家, 举办), none of its subject.
    off_topic = post(client, question="下一届世界杯在哪个国家举办？").json()
    assert off_topic["abstained"] is True
    assert off_topic["citations"] == []


def test_the_seed_faq_loaded_before_their_laws_are_linked_once_the_laws_are_imported(
    categories, tmp_path
):
    # seed_demo run before the corpus was there (a fresh clone), then again with it.
    seed_demo_knowledge(None)
    wages = FaqEntry.objects.get(question="老板拖了三个月工资不发，怎么要回来？")
    assert not wages.citations.exists()
    edited = FaqEntry.objects.get(question="老板给我写了欠条，能直接去法院申请支付令吗？")
    edited.answer = "编辑改写过的解答。"
    edited.save()
    (tmp_path / "labor-contract-law.md").write_text(
        "# 中华人民共和国劳动合同法\n\n<!-- INFO END -->\n\n"
        + "\n\n".join(f"第{n}条 第{n}条的条文。" for n in ("二十九", "三十", "三十一")),
        encoding="utf-8",
    )
    seed_demo_knowledge(tmp_path)
    law = Document.objects.get(title="中华人民共和国劳动合同法")
    assert [c.segment.document_id for c in wages.citations.all()] == [law.pk]
    # An entry an editor changed is left as the editor made it.
    assert not edited.citations.exists()
    assert seed_demo_knowledge(tmp_path)["faq"] == 0  # and a third run adds nothing


def test_an_faq_answer_cites_its_article_linked_and_quotes_it(alice, law, categories):
    second = law.segments.get(heading="第二条")
    entry = faq(categories, segments=(second,))
    data = post(client_for(alice), question="一个月加班最多能加多少个小时？").json()
    first, article = data["citations"][0], data["citations"][1]
    assert first["kind"] == "faq" and first["faq"] == entry.pk
    assert first["document"] == "常见问题" and first["article"] == OVERTIME_FAQ
    assert first["sources"] == [
        {
            "document": law.title,
            "article": "第二条",
            "document_id": law.pk,
            "segment": second.pk,
            "url": article["url"],
        }
    ]
    assert article["kind"] == "segment" and article["segment"] == second.pk
    assert data["answer"].startswith(OVERTIME_ANSWER)
    assert "[2] 《中华人民共和国测试劳动法》第二条" in data["answer"]


def test_search_leads_with_the_articles_of_the_faq_entry_that_answers(law, categories):
    # The entry rests on 第二条 and on 第五条, which shares no word with the question: Write,
    # 命中测试 and the accuracy page see the articles Ask cites, in the entry's order.
    overtime, union = law.segments.get(heading="第二条"), law.segments.get(heading="第五条")
    entry = faq(categories, segments=(overtime, union))
    result = search("一个月加班最多能加多少个小时？")
    assert result.faq is not None and result.faq.faq_id == entry.pk
    assert [p.segment_id for p in result.passages[:2]] == [overtime.pk, union.pk]
    assert result.abstained is False
    # Write limited to other categories is not led by articles outside them.
    elsewhere = [slug for slug in categories if slug != "rights"]
    limited = search("一个月加班最多能加多少个小时？", categories=elsewhere)
    assert all(p.document_id != law.pk for p in limited.passages)
    assert limited.abstained is True


def test_an_faq_answer_without_its_law_in_the_base_is_no_abstention(categories):
    faq(categories)
    result = search(OVERTIME_FAQ)
    assert result.faq is not None and result.passages == []
    assert result.abstained is False


def test_an_article_the_faq_answer_only_names_is_linked_once_its_law_is_in_the_base(
    alice, eddie, categories
):
    faq(categories)  # written before the law was imported: it cites no segment
    client = client_for(alice)
    before = post(client, question=OVERTIME_FAQ).json()["citations"][0]
    assert before["sources"][0]["url"] is None
    law = make_document(eddie, categories)
    after = post(client, question=OVERTIME_FAQ).json()["citations"]
    assert after[0]["sources"][0]["segment"] == law.segments.get(heading="第二条").pk
    assert after[0]["sources"][0]["url"] == after[1]["url"]


def test_a_question_about_a_neighbouring_concept_is_not_answered_by_the_faq(alice, categories):
    load_lexicon(SEED_DIR / "lexicon.txt")  # 陪产假 is a word of its own, mapped to 生育
    faq(
        categories,
        question="产假有几天？",
        answer="女职工生育享受98天产假（《女职工劳动保护特别规定》第七条）。",
        variants=("生孩子能休多少天产假",),
    )
    data = post(client_for(alice), question="陪产假有几天？").json()
    assert all(c.get("kind") != "faq" for c in data["citations"])
    assert "98天" not in data["answer"]


def test_a_draft_faq_answers_nothing(alice, categories):
    faq(categories, status=FaqStatus.DRAFT)
    data = post(client_for(alice), question=OVERTIME_FAQ).json()
    assert data["abstained"] is True


@with_model
def test_with_a_model_the_faq_answer_is_a_passage_it_is_given(alice, law, categories, model):
    faq(categories, segments=(law.segments.get(heading="第二条"),))
    done = post(client_for(alice), question=OVERTIME_FAQ).json()
    data = model.requests[-1].json()["messages"][-1]["content"]
    assert '编号="1" 出处="常见问题：加班每个月最多能加多少小时？' in data
    assert OVERTIME_ANSWER in data
    assert done["citations"][0]["kind"] == "faq"


def test_an_article_that_refers_to_another_is_cited_with_it(alice, eddie, categories):
    body = (
        MINI_LAW + "\n第六条 用人单位违反本法第四条规定的，由劳动行政部门责令改正，并处以罚款。\n"
    )
    law = make_document(eddie, categories, body=body)
    data = post(client_for(alice), question="劳动行政部门会责令改正、处以罚款吗？").json()
    # The penalty names the duty it punishes: the duty (which shares no word with the
    # question) is cited and quoted right after it.
    articles = [c["article"] for c in data["citations"]]
    assert articles[:2] == ["第六条", "第四条"]
    assert "[2] 《中华人民共和国测试劳动法》第四条" in data["answer"]
    assert data["citations"][1]["segment"] == law.segments.get(heading="第四条").pk


def test_an_faq_resting_on_two_articles_cites_both(alice, law, categories):
    rule, holiday = law.segments.get(heading="第二条"), law.segments.get(heading="第三条")
    faq(
        categories,
        question="节假日加班和平时加班有什么规定？",
        answer="平时加班每月不超过三十六小时；法定休假日加班，工资不低于百分之三百。",
        variants=("节假日加班工资和加班时长怎么规定",),
        segments=(rule, holiday),
    )
    data = post(client_for(alice), question="节假日加班和平时加班有什么规定？").json()
    assert [c.get("segment") for c in data["citations"][1:]] == [rule.pk, holiday.pk]


def test_the_retrieval_test_page_tells_editors_which_faq_answers(client, eddie, law, categories):
    second = law.segments.get(heading="第二条")
    faq(categories, segments=(second,))
    client.force_login(eddie)
    page = client.get(reverse("knowledge_test"), {"question": OVERTIME_FAQ}).content.decode()
    assert 'data-testid="faq-answer"' in page and OVERTIME_FAQ in page
    assert reverse("knowledge_segment", args=[second.pk]) in page
    assert 'data-testid="abstained"' not in page


def test_the_schema_says_a_citation_is_a_segment_or_an_faq_entry(client):
    schema = client.get("/api/v1/schema/", {"format": "json"}).json()["components"]["schemas"]
    citation = schema["AskCitation"]["properties"]
    assert citation["kind"]["enum"] == ["segment", "faq"]
    assert citation["sources"]["items"]["properties"]["url"]["nullable"] is True


LEGAL_AID = """# 某市法律援助办法

<!-- INFO END -->

第一条 律师事务所、律师应当依法履行法律援助义务，每年承办一定数量的法律援助案件。

第二条 律师无正当理由拒绝履行法律援助义务的，由司法行政部门给予警告。

第三条 法律援助机构应当指派律师为受援人提供法律援助。

第四条 律师担任法律援助人员的，可以获得法律援助补贴。
"""


def test_an_faq_sharing_the_questions_words_but_not_its_matter_does_not_answer(
    eddie, law, categories
):
    # An entry on wage claims mentions 法律援助 and rests on the union article; a question on
    # lawyers' legal-aid duty is answered from the legal-aid rules its own words find.
    aid = make_document(eddie, categories, body=LEGAL_AID, title="某市法律援助办法")
    entry = faq(
        categories,
        question="农民工讨薪能申请免费法律援助吗？",
        answer="可以，工会可以提供法律援助。",
        variants=(),
        segments=(law.segments.get(heading="第五条"),),
    )
    result = search("律师必须做法律援助吗？")
    hit = next(h for h in result.faq_hits if h.faq_id == entry.pk)
    assert 0.5 <= hit.similarity < 0.8, hit.similarity  # close enough to answer by itself
    assert result.faq is None
    assert result.passages[0].document_id == aid.pk
    # Worded as the question, the entry answers whatever the ranking.
    same = search("农民工讨薪能申请免费法律援助吗？").faq
    assert same is not None and same.faq_id == entry.pk


def test_an_faq_whose_article_only_its_own_bonus_ranks_first_does_not_answer(
    eddie, law, categories
):
    # The entry on the penalty is worded much like a question on the duty itself. Its bonus
    # puts its article first, but the question's own words rank three others before it: it
    # does not answer by itself (the passages still follow the ranking).
    aid = make_document(eddie, categories, body=LEGAL_AID, title="某市法律援助办法")
    penalty = aid.segments.get(heading="第二条")
    entry = faq(
        categories,
        question="律师不做法律援助会被处罚吗？",
        answer="无正当理由拒绝的，由司法行政部门给予警告。",
        variants=(),
        segments=(penalty,),
    )
    result = search("律师必须做法律援助吗？")
    hit = next(h for h in result.faq_hits if h.faq_id == entry.pk)
    assert 0.5 <= hit.similarity < 0.8, hit.similarity  # close enough to answer by itself
    assert result.passages[0].segment_id == penalty.pk  # its bonus ranks it first…
    assert penalty.pk not in result.unaided  # …not the question's own words
    assert result.faq is None
    # Asked as the entry asks it, the entry answers.
    same = search("律师拒绝做法律援助会被处罚吗？").faq
    assert same is not None and same.faq_id == entry.pk


UNION_HELP = """# 某市工会帮扶办法

<!-- INFO END -->

第一条 工会为讨要工资的农民工免费提供法律援助和其他帮助。

第二条 工会帮扶资金专款专用。
"""


def test_an_faq_that_does_not_name_the_key_concept_weighs_less(eddie, categories, monkeypatch):
    make_document(eddie, categories, body=LEGAL_AID, title="某市法律援助办法")
    union = make_document(eddie, categories, body=UNION_HELP, title="某市工会帮扶办法")
    article = union.segments.order_by("id").first()
    assert article is not None
    faq(
        categories,
        question="农民工讨薪能找工会申请免费法律援助吗？",
        answer="可以，工会为讨要工资的农民工免费提供法律援助。",
        variants=("工会能免费帮农民工打官司吗",),
        segments=(article,),
    )

    def score(question: str) -> float:
        result = search(question, k=5)
        assert max(h.similarity for h in result.faq_hits) >= 0.3  # the entry weighs in
        return next(p.score for p in result.passages if p.segment_id == article.pk)

    # 律师, what is asked about, is not in the entry: its likeness counts half.
    off_key = score("律师必须做法律援助吗？")
    monkeypatch.setattr("knowledge.retrieval.FAQ_OFF_KEY", 1.0)
    assert off_key < score("律师必须做法律援助吗？")
    # 农民工 is: the entry weighs in full.
    on_key = score("农民工找工会法律援助要钱吗？")
    monkeypatch.setattr("knowledge.retrieval.FAQ_OFF_KEY", 0.5)
    assert score("农民工找工会法律援助要钱吗？") == on_key
