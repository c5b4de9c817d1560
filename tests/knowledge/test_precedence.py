"""Precedence on near ties (上位法优于下位法, 特别法优于一般法, 新法优于旧法), and the authority
level and date an editor sets or an import guesses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from knowledge.models import AuthorityLevel, Category, Document, DocumentKind
from knowledge.precedence import Standing, beats, guess_authority, guess_date, order
from knowledge.retrieval import search
from portal.models import User
from tests.knowledge.conftest import make_document

pytestmark = pytest.mark.django_db

PROBATION = "{article} 劳动合同期限一年以上不满三年的，试用期不得超过二个月。"
QUESTION = "期限两年的，试用期不得超过几个月？"  # no word of the titles


def law_text(title: str, article: str, header: str = "") -> str:
    return (
        f"# {title}\n\n{header}\n\n第一条 为了规范用工，制定本法。\n\n"
        f"第二条 本法自公布之日起施行。\n\n{PROBATION.format(article=article)}\n"
    )


def publish(categories: dict[str, Category], title: str, article: str = "第十九条") -> Document:
    return make_document(None, categories, title=title, body=law_text(title, article))


def first_document(question: str) -> str:
    return search(question).passages[0].title


def test_the_law_comes_before_its_implementing_regulation_on_a_near_tie(categories):
    # The regulation is indexed first: on an exact tie it would win by its lower id.
    publish(categories, "中华人民共和国测试合同法实施条例", "第七条")
    publish(categories, "中华人民共和国测试合同法")
    assert first_document(QUESTION) == "中华人民共和国测试合同法"


def test_the_regulation_comes_first_when_the_question_names_it(categories):
    publish(categories, "中华人民共和国测试合同法")
    publish(categories, "中华人民共和国测试合同法实施条例", "第七条")
    law = Standing("中华人民共和国测试合同法", AuthorityLevel.LAW, None)
    regulation = Standing("中华人民共和国测试合同法实施条例", AuthorityLevel.REGULATION, None)
    assert beats(law, regulation, QUESTION)
    assert beats(regulation, law, "实施条例里试用期怎么规定？")
    assert (
        first_document("测试合同法实施条例：期限两年的，试用期不得超过几个月？")
        == "中华人民共和国测试合同法实施条例"
    )


def test_the_special_law_comes_before_the_general_one(categories):
    # 特别法优于一般法: 劳动合同法 is special to 劳动法 on a contract question.
    publish(categories, "中华人民共和国测试劳动法")
    publish(categories, "中华人民共和国测试劳动合同法")
    assert first_document(QUESTION) == "中华人民共和国测试劳动合同法"


def test_the_newer_rule_on_the_same_matter_comes_first(categories):
    title = "某市职工试用期管理规定"
    for year in (2019, 2024):  # the older one is indexed first
        make_document(
            None,
            categories,
            title=title,
            body=law_text(title, "第三条", header=f"{year}年版"),
            promulgated_on=date(year, 3, 1),
        )
    top = search(QUESTION).passages[0]
    assert Document.objects.get(pk=top.document_id).promulgated_on == date(2024, 3, 1)


PROBATION_GUIDE = """# 职工入职指南

## 试用期

合同期限两年的，试用期最长两个月。

## 服务热线

职工遇到劳动纠纷，可以拨打职工服务热线12351咨询。
"""


def test_a_rules_own_article_comes_before_the_guide_that_explains_it(categories):
    publish(categories, "中华人民共和国测试合同法")
    make_document(
        None, categories, title="职工入职指南", body=PROBATION_GUIDE, kind=DocumentKind.GUIDE
    )
    # The guide says it in the question's words; the law's article is what binds.
    result = search(QUESTION)
    assert [p.title for p in result.passages[:2]] == ["中华人民共和国测试合同法", "职工入职指南"]
    # What only the guide says, it answers.
    assert search("职工服务热线电话是多少？").passages[0].label == "《职工入职指南》服务热线"


def test_precedence_breaks_near_ties_only(categories):
    publish(categories, "中华人民共和国测试合同法")
    make_document(
        None,
        categories,
        title="中华人民共和国测试合同法实施条例",
        body="# 中华人民共和国测试合同法实施条例\n\n第一条 为了实施测试合同法，制定本条例。\n\n"
        "第二条 本条例自公布之日起施行。\n\n"
        "第七条 合同签两年的，试用期不得超过几个月？不得超过二个月。\n",
    )
    # The regulation answers the question far better: relevance stands.
    assert first_document(QUESTION) == "中华人民共和国测试合同法实施条例"


def test_rules_on_different_matters_keep_their_order():
    safety = Standing("中华人民共和国安全生产法", AuthorityLevel.LAW, date(2021, 6, 10))
    contract = Standing("中华人民共和国劳动合同法", AuthorityLevel.LAW, date(2012, 12, 28))
    assert not beats(safety, contract, "试用期") and not beats(contract, safety, "试用期")
    law = Standing("中华人民共和国工会法", AuthorityLevel.LAW, None)
    injury = Standing("工伤保险条例", AuthorityLevel.REGULATION, None)
    assert not beats(law, injury, "工伤") and not beats(injury, law, "工伤")


@pytest.mark.parametrize(
    ("title", "header", "level"),
    [
        ("中华人民共和国劳动合同法", "", AuthorityLevel.LAW),
        ("中华人民共和国劳动合同法实施条例", "国务院令第535号公布", AuthorityLevel.REGULATION),
        (
            "女职工劳动保护特别规定",
            "2012年4月28日 中华人民共和国国务院令第619号公布",
            AuthorityLevel.REGULATION,
        ),
        (
            "企业职工带薪年休假实施办法",
            "人力资源和社会保障部令第1号",
            AuthorityLevel.DEPARTMENT_RULE,
        ),
        (
            "最低工资规定",
            "2003年12月30日 经劳动和社会保障部第7次部务会议通过",
            AuthorityLevel.DEPARTMENT_RULE,
        ),
        ("广东省工资支付条例", "", AuthorityLevel.LOCAL_REGULATION),
        ("最高人民法院关于审理劳动争议案件适用法律问题的解释（一）", "", AuthorityLevel.JUDICIAL),
        ("中国工会章程", "", AuthorityLevel.UNION_RULE),
        ("市总工会困难职工帮扶办法", "", AuthorityLevel.UNION_RULE),
        ("关于做好2026年春节慰问工作的通知", "", AuthorityLevel.NOTICE),
        ("职工疗休养指南", "", AuthorityLevel.OTHER),
    ],
)
def test_import_guesses_the_authority_level_from_the_title_and_header(title, header, level):
    assert guess_authority(title, f"# {title}\n\n{header}\n\n第一条 总则。\n") == level


def test_import_reads_the_latest_adoption_or_amendment_date_from_the_header():
    body = (
        "# 中华人民共和国劳动法\n\n1994年7月5日 第八届全国人民代表大会常务委员会第八次会议通过\n\n"
        "2018年12月29日 第十三届全国人民代表大会常务委员会第七次会议《关于修改〈中华人民共和国"
        "劳动法〉等七部法律的决定》第二次修正\n\n第一条 为了保护劳动者的合法权益，制定本法。"
        "\n\n第二条 2030年1月1日通过的决定不算表头。\n"
    )
    assert guess_date(body) == date(2018, 12, 29)
    assert guess_date("# 通知\n\n第一条 无日期。\n") is None


def test_a_document_saved_without_a_level_gets_the_guessed_one_and_an_editors_level_stands(
    categories,
):
    guessed = publish(categories, "中华人民共和国测试合同法")
    assert guessed.authority == AuthorityLevel.LAW
    chosen = make_document(
        None,
        categories,
        title="测试合同法释义",
        body=law_text("测试合同法释义", "第九条"),
        authority=AuthorityLevel.NOTICE,
    )
    assert chosen.authority == AuthorityLevel.NOTICE


def test_editors_set_the_level_and_date_in_the_form_and_the_api(
    client: Client,
    api: Callable[[User | None], APIClient],
    eddie: User,
    categories: dict[str, Category],
) -> None:
    client.force_login(eddie)
    client.post(
        reverse("knowledge_document_new"),
        {
            "category": categories["rights"].pk,
            "kind": "policy",
            "authority": "local_rule",
            "promulgated_on": "2025-05-01",
            "status": "published",
            "title": "某市职工工资支付办法",
            "body": law_text("某市职工工资支付办法", "第五条"),
        },
    )
    document = Document.objects.get(title="某市职工工资支付办法")
    assert (document.authority, document.promulgated_on) == ("local_rule", date(2025, 5, 1))
    page = client.get(reverse("knowledge_document", args=[document.pk])).content.decode()
    assert "地方政府规章" in page and "2025-05-01" in page
    response = api(eddie).post(
        "/api/v1/knowledge/documents/",
        {
            "category": "rights",
            "kind": "policy",
            "authority": "union_rule",
            "title": "市总工会会员管理办法",
            "body": law_text("市总工会会员管理办法", "第五条"),
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["authority"] == "union_rule"
    refused = api(eddie).post(
        "/api/v1/knowledge/documents/",
        {"category": "rights", "authority": "emperor", "title": "x", "body": "第一条 x。"},
        format="json",
    )
    assert refused.status_code == 400


@dataclass
class Ranked:
    document_id: int
    score: float
    title: str
    authority: str = ""
    dated: date | None = None


LAW = "中华人民共和国劳动合同法"
REGULATION = "中华人民共和国劳动合同法实施条例"


@pytest.mark.parametrize(
    ("scores", "question", "first"),
    [
        ((1.0, 0.97), "试用期工资最低多少？", LAW),  # near tie: the law
        ((0.97, 1.0), "试用期工资最低多少？", LAW),
        ((1.0, 0.88), "试用期工资最低多少？", LAW),
        ((0.88, 1.0), "试用期工资最低多少？", REGULATION),  # no tie: relevance stands
        ((1.0, 0.88), "实施条例对试用期工资怎么规定？", REGULATION),  # named: from further behind
        ((1.0, 0.7), "实施条例对试用期工资怎么规定？", LAW),  # …but not from any distance
    ],
)
def test_order_breaks_ties_between_a_law_and_its_regulation(scores, question, first):
    law = Ranked(1, scores[0], LAW, AuthorityLevel.LAW)
    regulation = Ranked(2, scores[1], REGULATION, AuthorityLevel.REGULATION)
    ranked = sorted([law, regulation], key=lambda p: -p.score)
    assert order(ranked, question)[0].title == first
