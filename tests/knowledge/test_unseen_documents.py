"""Retrieval on documents nobody wrote FAQ or lexicon entries for, and abstention on questions
whose key concept no passage names."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.test import override_settings

from knowledge import associations, faqmatch, lexicon
from knowledge.models import Category, Document, LexiconKind
from knowledge.retrieval import _kind_asked, _long_forms, asks_quantity, search
from knowledge.services import curation
from knowledge.text import segmenter
from portal.models import User
from tests.knowledge.conftest import make_document

LEAVE_RULES = """# 某市职工休假办法

<!-- INFO END -->

第一条 为保障职工休息休假的权利，制定本办法。

第二条 女职工生育享受九十八天产假，其中产前可以休假十五天。

第三条 职工患病或者非因工负伤停止工作治疗的，享受三个月到二十四个月的医疗期。

第四条 职工每日工作时间不超过八小时，平均每周工作时间不超过四十四小时。
"""


@pytest.fixture
def leave_rules(eddie: User, categories: dict[str, Category]) -> Document:
    return publish(eddie, categories, LEAVE_RULES)


def publish(eddie: User, categories: dict[str, Category], body: str) -> Document:
    """The rules in `body`, published under the title of its first line (# 某市…)."""
    return make_document(eddie, categories, body=body, title=body.splitlines()[0].lstrip("# "))


def top(question: str) -> str:
    result = search(question)
    assert not result.abstained, f"{question!r} was abstained on"
    return result.passages[0].label


# --- key-concept abstention -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_near_miss_is_not_answered_with_the_neighbouring_article(leave_rules: Document) -> None:
    # 婚假 is nowhere in the base; the 产假 article next to it shares most of the words.
    result = search("婚假一般可以休几天？")
    assert result.abstained
    assert result.concept == "婚假"
    assert top("女职工产假可以休几天？") == "《某市职工休假办法》第二条"


@pytest.mark.django_db
def test_a_question_that_is_only_a_key_concept_is_answered_or_abstained_on(
    leave_rules: Document,
) -> None:
    assert search("婚假？").abstained
    assert top("产假？") == "《某市职工休假办法》第二条"
    assert top("医疗期") == "《某市职工休假办法》第三条"


@pytest.mark.django_db
def test_a_figure_the_passages_do_not_give_is_not_answered(law: Document) -> None:
    # The law names 最低工资 nowhere with a figure, and never 北京.
    assert search("北京今年的最低工资标准具体是多少钱？").abstained
    assert not search("每月最多可以延长多少小时工作时间？").abstained


WAGE_STANDARD_RULES = """# 某市职工工资办法

<!-- INFO END -->

第一条 职工工资的具体标准，由用人单位与工会协商确定，不得低于当地最低工资标准。

第二条 用人单位应当按月以货币形式支付职工工资。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_sum_is_not_answered_by_the_article_that_says_who_sets_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, WAGE_STANDARD_RULES)
    # Everyday words only (公司, 工资: no key concept to look for), and an article on the very
    # matter that says who sets the sum, not how much it is. Abstained softly: a model, where
    # there is one, judges the article (`missed_key` is false).
    result = search("公司一个月给多少钱工资？")
    assert result.abstained and not result.missed_key
    assert result.passages[0].label == "《某市职工工资办法》第一条"
    assert top("工资是按月发吗？") == "《某市职工工资办法》第二条"
    # A figure in the story is not the one asked for.
    assert top("干了十几年了，工资是按月发吗？") == "《某市职工工资办法》第二条"
    publish(
        eddie,
        categories,
        WAGE_STANDARD_RULES.replace("某市职工工资办法", "某市职工工资标准").replace(
            "由用人单位与工会协商确定，不得低于当地最低工资标准", "为每月不低于2000元"
        ),
    )
    assert top("公司一个月给多少钱工资？") == "《某市职工工资标准》第一条"


SICK_PAY_RULES = """# 某市职工工资支付办法

<!-- INFO END -->

第一条 安排职工延长工作时间的，支付不低于工资的百分之一百五十的工资报酬。职工请病假的，应当出具\
医疗机构的证明。

第二条 社会保险经办机构应当至少每年向职工寄送一次个人权益记录。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_figure_asked_of_a_matter_is_given_in_the_sentence_that_names_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, SICK_PAY_RULES)
    # The first article names 病假 and gives a share, but the share is the overtime rate, in
    # the sentence before.
    assert search("请病假的话，病假期间按百分之几发？").abstained
    # How often: "every year" answers it, without a number of days.
    assert top("个人权益记录多久寄一次？") == "《某市职工工资支付办法》第二条"
    publish(
        eddie,
        categories,
        SICK_PAY_RULES.replace("某市职工工资支付办法", "某市职工病假办法").replace(
            "应当出具医疗机构的证明", "病假工资不低于最低工资标准的80％"
        ),
    )
    assert top("请病假的话，病假期间按百分之几发？") == "《某市职工病假办法》第一条"


RETIREMENT_RULES = """# 某市职工待遇办法

<!-- INFO END -->

第一条 职工达到法定退休年龄时累计缴费满十五年的，按月领取基本养老金。

第二条 职工探亲，每年给予探亲假二十天。

第三条 用人单位不得招用未满十六周岁的未成年人。

第四条 社会保险经办机构应当每年向职工寄送一次个人权益记录。

第五条 基本养老保险费由用人单位和职工共同缴纳。

第六条 用人单位按照全部职工工资总额的百分之二拨缴工会经费。

第七条 职工因工死亡的，其近亲属领取一次性工亡补助金。

第八条 用人单位克扣职工工资的，处2000元以上20000元以下的罚款。
"""


@pytest.mark.django_db
def test_an_age_a_number_of_times_or_points_are_answered_only_by_one(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, RETIREMENT_RULES)
    # The article names the retirement age and gives years of contributions, not an age; the
    # one on leave for family visits gives its days, not how many times it may be taken.
    assert search("法定退休年龄是多少岁？").abstained
    assert search("探亲假一年可以休几次？").abstained
    assert top("单位招用未成年人，最少要满多少岁？") == "《某市职工待遇办法》第三条"
    assert top("个人权益记录一年寄几次？") == "《某市职工待遇办法》第四条"
    # 几个点: a share. The article on pension contributions gives none; the one share in the
    # rules is of union funds.
    assert search("养老保险单位和个人各交几个点？").abstained
    assert top("工会经费按工资总额交几个点？") == "《某市职工待遇办法》第六条"
    # 一次性 is not a number of times.
    assert search("一次性工亡补助金能领几次？").abstained
    # A figure of the worker's story (好几次) is not the one asked for (多少钱).
    assert top("单位克扣了我好几次工资，要罚款多少钱？") == "《某市职工待遇办法》第八条"


SHIFT_RULES = """# 某市职工作息办法

<!-- INFO END -->

第一条 为保障职工休息的权利，制定本办法。

第二条 职工每日工作时间不超过八小时，夜班工作时间不超过七小时。

第三条 本办法自公布之日起施行。
"""

MEMBER_OFFERS = """# 某市工会会员优惠办法

<!-- INFO END -->

第一条 为做好工会会员服务，制定本办法。

第二条 工会会员凭会员卡在签约超市购物，享受优惠。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rules", "question", "without", "with_figure"),
    [
        # Hours of work are not the time of day a night shift begins.
        pytest.param(
            SHIFT_RULES,
            "晚上几点以后上班算夜班？",
            "职工每日工作时间不超过八小时，夜班工作时间不超过七小时",
            "本办法所称夜班，是指当日22时至次日6时之间从事的劳动",
            id="a time of day",
        ),
        pytest.param(
            MEMBER_OFFERS,
            "会员卡在超市购物能打几折？",
            "享受优惠",
            "享受九折优惠",
            id="a discount",
        ),
    ],
)
def test_a_time_of_day_or_a_discount_is_answered_only_by_one(
    eddie: User,
    categories: dict[str, Category],
    rules: str,
    question: str,
    without: str,
    with_figure: str,
) -> None:
    publish(eddie, categories, rules)
    assert search(question).abstained
    title = rules.splitlines()[0].removeprefix("# ")
    revised = rules.replace(title, f"{title}（修订）").replace(without, with_figure)
    publish(eddie, categories, revised)
    result = search(question)
    assert not result.abstained
    assert any(with_figure in p.text for p in result.passages)


CONTRACT_RULES = """# 某市劳动合同指引

<!-- INFO END -->

第一条 为规范劳动合同的订立，制定本指引。

第二条 签订劳动合同应当注意合同期限、工作内容、劳动报酬和社会保险等条款。

第三条 本指引自公布之日起施行。
"""


@pytest.mark.django_db
def test_points_to_note_are_not_asked_as_a_time_of_day(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, CONTRACT_RULES)
    for question in ["签劳动合同要注意几点？", "签劳动合同需要注意哪几点？"]:
        assert top(question) == "《某市劳动合同指引》第二条", question


HOTLINE_RULES = """# 某市职工维权办法

<!-- INFO END -->

第一条 职工合法权益受到侵害的，可以拨打职工服务热线12351。

第二条 用人单位招用未满十六周岁的童工的，任何单位或者个人都可以向劳动保障行政部门举报。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_telephone_number_is_answered_only_by_one(
    eddie: User, categories: dict[str, Category]
) -> None:
    # A sum in five digits is no telephone number.
    publish(
        eddie,
        categories,
        HOTLINE_RULES.replace("某市", "某镇").replace(
            "拨打职工服务热线12351", "拨打职工服务热线举报，查实的奖励10000元"
        ),
    )
    assert search("某镇职工服务热线是多少？").abstained
    # A number in groups.
    publish(
        eddie, categories, HOTLINE_RULES.replace("某市", "某区").replace("12351", "400-100-1234")
    )
    assert top("某区职工服务热线是多少？") == "《某区职工维权办法》第一条"
    # In full-width digits, as notices often write them.
    publish(eddie, categories, HOTLINE_RULES.replace("12351", "１２３５１"))
    assert top("职工服务热线是多少？") == "《某市职工维权办法》第一条"
    # The article on reporting child labour gives an age, not a number to call.
    assert search("举报童工的电话是多少？").abstained
    # In ASCII digits.
    publish(eddie, categories, HOTLINE_RULES.replace("某市", "某县"))
    assert top("某县职工服务热线是多少？") == "《某县职工维权办法》第一条"


PAY_RULES = """# 某市职工报酬支付办法

<!-- INFO END -->

第一条 职工加班的，用人单位按照不低于报酬的百分之一百五十支付。

第二条 职工请病假的，应当出具医疗机构的证明。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_synonym_of_part_of_a_word_does_not_name_the_word(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, PAY_RULES)
    curation.save_lexicon_entry(
        kind=LexiconKind.SYNONYM, phrase="工资", targets=["报酬"], author=eddie
    )
    curation.save_lexicon_entry(kind=LexiconKind.TERM, phrase="病假工资", author=eddie)
    # The editors equate 工资 with 报酬, and know the word 病假工资, which no document names.
    # The overtime rate is a share of 报酬: no answer to a share of 病假工资.
    assert search("病假工资按百分之几发？").abstained
    # Asked of 工资 itself, the synonym names it.
    assert top("加班的话工资按百分之几发？") == "《某市职工报酬支付办法》第一条"


WAGE_PAYMENT_RULES = """# 某市工资支付办法

<!-- INFO END -->

第一条 安排职工延长工作时间的，支付不低于工资的百分之一百五十的工资报酬。

第二条 职工病假期间的病假工资，由用人单位按照国家有关规定支付。

第三条 本办法自公布之日起施行。
"""

HOLIDAY_RULES = """# 某市职工休假办法

<!-- INFO END -->

第一条 职工在年休假期间享受与正常工作期间相同的工资收入。
"""

CONTRACT_ENDING_RULES = """# 某市劳动合同终止办法

<!-- INFO END -->

第一条 劳动合同解除或者终止的，用人单位应当一次付清劳动者的工资。
"""

DISABLED_EMPLOYMENT_RULES = """# 某市残疾人就业办法

<!-- INFO END -->

第一条 用人单位安排残疾人就业的比例不得低于本单位在职职工总数的百分之一点五。

第二条 残疾人就业服务机构应当免费为残疾人提供职业指导。

第三条 残疾人职工享有与其他职工平等的劳动报酬。
"""


UNION_FUNDS_RULES = """# 某市工会经费办法

<!-- INFO END -->

第一条 工会经费的来源：

（一）工会会员缴纳的会费；

（二）用人单位按每月全部职工工资总额的百分之二向工会拨缴的经费；

（三）人民政府的补助。

第二条 工会经费主要用于为职工服务和工会活动。

第三条 本办法自公布之日起施行。
"""


DISMISSAL_RULES = """# 某市解除劳动合同办法

<!-- INFO END -->

第一条 用人单位解除劳动合同，应当事先将理由通知工会，并一次付清劳动者的工资。
"""

BARGAINING_RULES = """# 某市集体协商办法

<!-- INFO END -->

第一条 工会代表职工与用人单位就工资等事项进行集体协商。
"""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("documents", "unanswered", "answered", "label"),
    [
        # 病假工资 is named without a share; 工资, in every document, is beside the overtime
        # rate. Asked of 工资 itself, the common word answers.
        pytest.param(
            (WAGE_PAYMENT_RULES, HOLIDAY_RULES, CONTRACT_ENDING_RULES),
            "病假工资按工资的百分之几发？",
            "加班的话工资按百分之几发？",
            "《某市工资支付办法》第一条",
            id="a word most documents use",
        ),
        # 工会 and 工资 are in every document, 会员 and 会费 only in the first item of the funds:
        # the share in the second item is of the payroll, not of the dues. Asked of what the
        # second item names, its share answers.
        pytest.param(
            (UNION_FUNDS_RULES, DISMISSAL_RULES, BARGAINING_RULES),
            "工会会员每月交的会费是工资的百分之几？",
            "用人单位按工资总额的百分之几向工会拨缴经费？",
            "《某市工会经费办法》第一条",
            id="the next item of an enumeration",
        ),
    ],
)
def test_a_figure_asked_of_a_specific_thing_is_given_only_beside_it(
    eddie: User,
    categories: dict[str, Category],
    documents: tuple[str, ...],
    unanswered: str,
    answered: str,
    label: str,
) -> None:
    for rules in documents:
        publish(eddie, categories, rules)
    assert search(unanswered).abstained
    assert top(answered) == label


@pytest.mark.django_db
def test_a_documents_own_matter_stays_specific_however_many_of_its_articles_name_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    # 残疾人 is in every article of one document of four: the share asked of it is answered.
    for rules in (WAGE_PAYMENT_RULES, HOLIDAY_RULES, CONTRACT_ENDING_RULES):
        publish(eddie, categories, rules)
    publish(eddie, categories, DISABLED_EMPLOYMENT_RULES)
    assert top("公司至少要招多少比例的残疾人？") == "《某市残疾人就业办法》第一条"


REST_RULES = """# 某市职工休息休假办法

<!-- INFO END -->

第一条 用人单位应当按照国家规定安排职工休息。

第二条 女职工经期不得从事国家规定的第三级体力劳动强度的劳动。女职工生育享受九十八天产假。

第三条 职工加班的，用人单位按照国家规定支付加班费。

第四条 本办法未规定的，按照国家有关规定执行。
"""


@pytest.mark.django_db
def test_a_word_most_passages_use_does_not_answer_for_a_matter_no_document_names(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, REST_RULES)
    # 婚假 is in no article; 国家规定 and 用人单位 are in most, once beside the days of 产假, and
    # they make up most of the question.
    result = search("按照国家规定用人单位安排女职工休婚假能休几天？")
    assert result.abstained
    assert result.concept == "婚假"
    assert top("女职工生育能休几天产假？") == "《某市职工休息休假办法》第二条"


TRAINING_RULES = """# 某市劳动合同办法

<!-- INFO END -->

第一条 用人单位为劳动者提供专项培训费用进行专业技术培训的，可以与其约定服务期。

第二条 劳动者违反服务期约定的，应当支付违约金。违约金不得超过用人单位提供的培训费用。
"""


@pytest.mark.django_db
def test_the_most_there_can_be_is_answered_by_a_cap_without_a_figure(
    eddie: User, categories: dict[str, Category], law: Document, leave_rules: Document
) -> None:
    publish(eddie, categories, TRAINING_RULES)
    result = search("签了服务期提前走，违约金最多要赔多少？")
    assert not result.abstained
    assert result.passages[0].title == "某市劳动合同办法"
    assert "违约金不得超过用人单位提供的培训费用" in result.passages[0].text
    # Asked for the sum itself, the cap on it answers too.
    assert top("签了服务期提前走，违约金要赔多少钱？") == result.passages[0].label


CHILD_LABOUR_PENALTIES = """# 某市禁止使用童工规定

<!-- INFO END -->

第一条 为保护未成年人的身心健康，制定本规定。

第二条 用人单位使用的，由劳动保障行政部门按照每人每月处五千元罚款的标准给予处罚。

第三条 本规定自公布之日起施行。
"""

SAFETY_RULES = """# 某市劳动保护办法

<!-- INFO END -->

第一条 用人单位应当保障劳动者的劳动安全。

第二条 单位使用童工的，由劳动行政部门给予处罚。

第三条 用人单位应当按时足额支付劳动者工资。
"""


@pytest.mark.django_db
def test_on_a_near_tie_the_document_whose_title_names_the_matter_comes_first(
    eddie: User, categories: dict[str, Category], law: Document
) -> None:
    # The general rules say 童工 in their article; the rules on child labour say it in their
    # title, and are what a member asking about it wants to read.
    publish(eddie, categories, SAFETY_RULES)
    publish(eddie, categories, CHILD_LABOUR_PENALTIES)
    assert top("单位用了童工，会受到什么处罚？") == "《某市禁止使用童工规定》第二条"


@pytest.mark.django_db
def test_an_faq_does_not_carry_its_article_past_one_that_gives_the_figure_asked(
    eddie: User, categories: dict[str, Category], law: Document
) -> None:
    # An entry on the fine for child labour cites the general rules' article, which fines
    # without a sum; the rules on child labour, which nobody wrote FAQ for, give the sum.
    safety = publish(eddie, categories, SAFETY_RULES)
    publish(eddie, categories, CHILD_LABOUR_PENALTIES)
    curation.save_faq(
        question="用童工会被罚多少",
        answer="见条文。",
        category=categories["rights"],
        segments=[safety.segments.get(heading="第二条")],
        author=eddie,
    )
    assert top("厂里用了童工，罚款是多少钱？") == "《某市禁止使用童工规定》第二条"
    # Asked whether, not how much, the entry still brings its own article first.
    assert top("单位用童工要被处罚吗？") == "《某市劳动保护办法》第二条"


@pytest.mark.django_db
def test_a_question_outside_the_domain_is_abstained_on(law: Document) -> None:
    result = search("下一届世界杯在哪个国家举办？")
    assert result.abstained
    assert result.concept == "世界杯"


@pytest.mark.django_db
def test_passages_that_share_only_characters_with_the_question_do_not_answer_it(
    leave_rules: Document,
) -> None:
    # 天, 上, 时 and 间 are in the document; not one word of the question is.
    result = search("明天上海的天气怎么样")
    assert result.passages, "characters should still find passages to rank"
    assert result.abstained


AID_RULES = """# 某市职工法律援助办法

<!-- INFO END -->

第一条 职工可以拨打工会服务热线电话，向法律援助机构咨询怎么办理援助。

第二条 有下列情形之一的，职工可以申请法律援助：（一）被拖欠工资的；（二）被违法解除劳动合同的。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_one_character_word_is_no_more_evidence_than_a_character(
    eddie: User, categories: dict[str, Category]
) -> None:
    # 一 of 一开机 is in the rules as a word, in (一); it says no more than the characters 电,
    # 机 and 办 that they share with the question.
    publish(eddie, categories, AID_RULES)
    result = search("电脑一开机就蓝屏怎么办？")
    assert result.passages, "characters should still find passages to rank"
    assert result.abstained
    assert top("被拖欠工资了，能申请法律援助吗？") == "《某市职工法律援助办法》第二条"


@pytest.mark.django_db
def test_a_strange_name_in_a_workers_story_does_not_make_the_question_off_topic(
    leave_rules: Document,
) -> None:
    # 小舅子 is nowhere in the base, but the question is about sick leave, which it covers.
    question = "我小舅子患病停止工作治疗，能享受多长的医疗期？"
    assert top(question) == "《某市职工休假办法》第三条"
    # 坐轮椅 shares no character with the document, but 产假, which it names, is its matter.
    assert top("我坐轮椅，产假能休几天？") == "《某市职工休假办法》第二条"
    assert search("我坐轮椅，婚假能休几天？").abstained


@pytest.mark.django_db
def test_a_workers_own_words_for_the_matter_do_not_make_a_covered_question_unanswered(
    leave_rules: Document,
) -> None:
    # No lexicon says that 厂里 and 老板 are the employer or 工友 a worker: the base has never
    # seen these words, yet each question names a thing the document covers (产假, 医疗期).
    assert top("厂里老板不让俺媳妇休产假，咋整？") == "《某市职工休假办法》第二条"
    assert top("老板说厂里忙，产假不让休满") == "《某市职工休假办法》第二条"
    assert top("工友在厂里干活得了病，老板不给医疗期咋办") == "《某市职工休假办法》第三条"
    # Everyday Chinese's commonest nouns (公司, 孩子) are the people of the story even when asked
    # for a figure: the thing asked about is 产假 or 医疗期, which the document gives.
    assert top("公司说今年忙，产假到底能休几天？") == "《某市职工休假办法》第二条"
    assert top("家里孩子小，公司给的医疗期最多几个月？") == "《某市职工休假办法》第三条"
    # Asking for a figure (多长时间) is the question's form, not a thing it asks about.
    assert top("女职工生育可以休多长时间的产假？") == "《某市职工休假办法》第二条"


# --- documents without FAQ --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_document_without_faq_wins_its_questions_over_an_faq_padded_neighbour(
    law: Document, leave_rules: Document, eddie: User, categories: dict[str, Category]
) -> None:
    # The law's articles have FAQ in workers' words (公司, 老板, 上班); the new document none.
    for heading, question, variants in [
        ("第三条", "过节上班工资怎么算", ["公司让国庆节上班给几倍工资", "老板让春节上班怎么给钱"]),
        ("第四条", "公司不给交社保怎么办", ["老板不给上社保", "上班三年公司没交社保"]),
        ("第五条", "公司不让加入工会怎么办", ["老板不准我们上班时间开工会的会"]),
        ("第二条", "公司天天让加班合法吗", ["老板让每个月加班一百个小时", "上班加班太多"]),
    ]:
        curation.save_faq(
            question=question,
            variants=variants,
            answer="见条文。",
            category=categories["rights"],
            segments=[law.segments.get(heading=heading)],
            author=eddie,
        )
    assert top("公司规定每天上班时间不超过几小时？") == "《某市职工休假办法》第四条"


def faq_on(
    document: Document, heading: str, question: str, eddie: User, category: Category
) -> None:
    curation.save_faq(
        question=question,
        answer="见条文。",
        category=category,
        segments=[document.segments.get(heading=heading)],
        author=eddie,
    )


@pytest.mark.django_db
def test_words_learned_from_the_faq_reach_documents_without_faq(
    law: Document, leave_rules: Document, eddie: User, categories: dict[str, Category]
) -> None:
    rights = categories["rights"]
    # Three FAQ entries teach that workers say 生娃 where the text says 生育; three others
    # about other articles show that 生育 is not just any article's word.
    for n in range(3):
        faq_on(leave_rules, "第二条", f"生娃以后的待遇{'一二三'[n]}", eddie, rights)
    faq_on(leave_rules, "第三条", "生病了能休多久", eddie, rights)
    faq_on(leave_rules, "第四条", "每天上班几小时", eddie, rights)
    faq_on(law, "第五条", "能不能加入工会", eddie, rights)
    assert ("生娃", "产假") in {(a.word, a.target) for a in associations.expand(["生娃"])}
    # Every document's 产假 is now searched for when a worker says 生娃: a worker's question
    # in those words reaches the article, though no FAQ was written with them for it.
    assert "产假" in search("生娃以后，可以休息多久").analysis.weights


def test_the_translation_model_learns_what_workers_say_for_the_texts_words() -> None:
    translations = associations.translate(
        [
            (
                [["老板", "不", "发", "工资"], ["老板", "欠", "工资"]],
                ["用人单位", "应当", "支付", "工资"],
            ),
            ([["老板", "不", "交", "社保"]], ["用人单位", "应当", "缴纳", "社会保险费"]),
            ([["工钱", "按月", "发"]], ["工资", "应当", "按月", "支付"]),
            ([["交", "税"]], ["应当", "缴纳", "税款"]),
        ]
    )
    assert translations["老板"][0][0] == "用人单位"
    assert translations["社保"][0][0] == "社会保险费"


# Learns from entries whose words repeat across them in many orders, as FAQ do, and prints
# every probability exactly.
_LEARN_AND_PRINT = """
import django
django.setup()
from knowledge import associations
words = ["老板", "工资", "社保", "加班", "辞退", "合同", "年假", "工伤", "赔偿", "仲裁"]
formal = ["用人单位", "劳动报酬", "社会保险费", "延长", "解除", "劳动合同", "年休假", "工伤",
          "经济补偿", "仲裁"]
entries = [
    ([[words[(n * k) % 10] for k in range(1, 5)], [words[(n + k * 3) % 10] for k in range(3)]],
     [formal[(n * k + 1) % 10] for k in range(1, 6)])
    for n in range(40)
]
table = associations.translate(entries)
print(sorted((q, [(a, p.hex()) for a, p in found]) for q, found in table.items()))
"""


def test_the_translation_model_is_the_same_in_every_process() -> None:
    # Web processes and workers each learn the model: the same question must rank the same
    # passages in the same order whichever process answers it (and an accuracy run is
    # repeatable), so nothing may depend on the order in which a set yields strings, which
    # changes from one process to the next.
    learned = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        env.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
        run = [sys.executable, "-c", _LEARN_AND_PRINT]
        done = subprocess.run(run, env=env, capture_output=True, text=True, check=True)  # noqa: S603
        learned.add(done.stdout)
    assert len(learned) == 1
    assert "用人单位" in learned.pop()


def test_the_translation_model_learns_from_every_kth_entry_beyond_its_memory_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries = [([[f"说法{n}"]], [f"条文{n}"]) for n in range(10)]  # 2 cells each
    assert len(associations.translate(entries)) == 10
    monkeypatch.setattr(associations, "CELL_BUDGET", 10)
    learned = associations.translate(entries)
    assert set(learned) == {f"说法{n}" for n in range(0, 10, 2)}
    assert learned["说法4"][0][0] == "条文4"


LEAVING_RULES = """# 某市职工进出办法

<!-- INFO END -->

第一条 企业招用职工，应当订立书面合同。

第二条 职工参加技能培训，应当提前报名。

第三条 离职的，应当提前办理工作交接，结清工资。
"""


@pytest.mark.django_db
def test_a_base_without_faq_of_its_own_learns_from_the_faq_shipped_with_the_portal(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, LEAVING_RULES)
    # No FAQ in the base: the shipped FAQ taught that a worker who 辞职 speaks of 离职 and
    # 交接; both rules say 提前, and the one on leaving comes first.
    assert top("我要辞职，要提前吗？") == "《某市职工进出办法》第三条"
    # An editor's first FAQ adds to what the shipped FAQ teach, it does not replace it.
    curation.save_faq(
        question="单位给我交医保吗",
        answer="用人单位应当缴纳基本医疗保险费。",
        category=categories["rights"],
        author=eddie,
    )
    assert "医疗保险" in dict(associations.translations()["医保"])
    assert "社会保险费" in dict(associations.translations()["社保"])
    assert top("我要辞职，要提前吗？") == "《某市职工进出办法》第三条"


RESIGNATION_FAQ_RULES = """# 某市劳动合同办法

<!-- INFO END -->

第一条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。

第二条 用人单位应当按月支付劳动报酬。

第三条 用人单位应当为劳动者缴纳社会保险费。
"""

TAUGHT = {  # article of RESIGNATION_FAQ_RULES → workers' wordings, and the editor's answer
    "第一条": (
        ["撂担子要提前多久跟老板说", "想撂担子提前几天讲"],
        "劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同。",
    ),
    "第二条": (["老板要每月发工资吗", "工钱是不是按月给"], "用人单位应当按月支付劳动报酬。"),
    "第三条": (["老板要给我交社保吗", "社保单位必须交吗"], "用人单位应当缴纳社会保险费。"),
}


@pytest.mark.django_db
def test_the_base_s_own_faq_teach_words_the_shipped_faq_do_not_know(
    eddie: User, categories: dict[str, Category]
) -> None:
    contracts = publish(eddie, categories, RESIGNATION_FAQ_RULES)
    assert "担子" not in associations.translations()  # no shipped FAQ says 撂担子
    teach_taught(eddie, categories, contracts)
    # Learned with the shipped FAQ: 撂担子 is said in words of the article its FAQ cite.
    taught = dict(associations.translations()["担子"])
    article = contracts.segments.get(heading="第一条")
    assert taught and set(taught) <= set(segmenter.tokens(f"{article.context} {article.text}"))
    assert "社会保险费" in dict(associations.translations()["社保"])


def teach_taught(eddie: User, categories: dict[str, Category], contracts: Document) -> None:
    for heading, (questions, answer) in TAUGHT.items():
        for question in questions:
            curation.save_faq(
                question=question,
                answer=answer,
                category=categories["rights"],
                segments=[contracts.segments.get(heading=heading)],
                author=eddie,
            )


@pytest.mark.django_db
def test_a_word_added_to_the_lexicon_matches_the_faq_wordings_that_use_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    contracts = publish(eddie, categories, RESIGNATION_FAQ_RULES)
    teach_taught(eddie, categories, contracts)

    def likeness() -> float:
        lexicon.current()  # as a search does: the lexicon first, then the FAQ index
        index = faqmatch.current()
        question = segmenter.tokens("撂担子要提前多久")
        hits = faqmatch.match(dict.fromkeys(question, 1.0), index=index)
        assert hits[0].question == "撂担子要提前多久跟老板说"
        return hits[0].similarity

    before = likeness()
    curation.save_lexicon_entry(kind=LexiconKind.TERM, phrase="撂担子", author=eddie)
    # The question is segmented with the new word, and so are the FAQ wordings again: the
    # entry that says it is as alike as before (not told apart by a word it no longer has).
    after = likeness()
    assert "撂担子" in segmenter.tokens("撂担子要提前多久")
    assert after == pytest.approx(before)


@pytest.mark.django_db(transaction=True)  # the learning thread reads the FAQ as committed
@override_settings(KNOWLEDGE_RELEARN_IN_BACKGROUND=True)
def test_after_an_faq_edit_questions_are_answered_while_the_model_is_learned_again(
    eddie: User, categories: dict[str, Category], monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = publish(eddie, categories, RESIGNATION_FAQ_RULES)
    associations.settle()
    assert "担子" not in associations.translations()
    # Learning again takes as long as it takes; here, until the test lets it go on.
    go_on = threading.Event()
    build = associations._build

    def held_build(version: tuple[object, ...]) -> associations._Model:
        assert go_on.wait(30), "the test never let the learning go on"
        return build(version)

    monkeypatch.setattr(associations, "_build", held_build)
    teach_taught(eddie, categories, contracts)
    try:
        # Asked meanwhile: answered at once, with what the FAQ taught before the edit.
        assert "担子" not in associations.translations()
        assert top("辞职要提前多久说？") == "《某市劳动合同办法》第一条"
        learning = associations._thread
        assert learning is not None and learning.is_alive()
    finally:
        go_on.set()
    learning.join(30)
    assert not learning.is_alive(), "the new model was never learned"
    # Learned by that thread: the next question finds it there.
    assert set(dict(associations.translations()["担子"])) <= set(
        segmenter.tokens(contracts.segments.get(heading="第一条").text)
        + segmenter.tokens(contracts.title)
    )


@pytest.mark.django_db
def test_the_clause_that_asks_for_a_figure_names_what_it_is_asked_about(
    leave_rules: Document,
) -> None:
    # 奶茶店 is where she works, not what she asks about: the figure is asked of 产假.
    assert top("我在奶茶店上班，怀孕了，产假一共能休几天？") == "《某市职工休假办法》第二条"
    # Still abstained when the clause asks a figure of a thing nobody wrote about…
    assert search("我在奶茶店上班，婚假一共能休几天？").abstained
    # …or when the story names a place: the figure asked is that place's.
    assert search("我在上海上班，产假一共能休几天？").abstained


UNION_RULES = """# 某市基层工会工作办法

<!-- INFO END -->

第一条 职工二百人以上的企业，可以设专职工会主席。

第二条 工会主席任期未满时，不得随意调动其工作。

第三条 工会会员大会每年至少召开一次。
"""


@pytest.mark.django_db
def test_a_head_count_is_a_figure(eddie: User, categories: dict[str, Category]) -> None:
    publish(eddie, categories, UNION_RULES)
    assert top("多少人的企业可以配专职工会主席？") == "《某市基层工会工作办法》第一条"


WORKSHOP_RULES = "# 某市车间劳动保护办法\n\n<!-- INFO END -->\n\n" + "\n\n".join(
    f"第{number}条 {text}"
    for number, text in zip(
        ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二"],
        [
            "高温天气作业的，用人单位应当采取防暑降温措施。",
            "从事夜班劳动的职工，每月发给夜班津贴二百元。",
            "车间应当配备急救药品。",
            "职工每日工作时间不超过八小时。",
            "女职工在孕期不得从事繁重体力劳动。",
            "用人单位应当为职工提供劳动防护用品。",
            "新进职工应当接受安全培训。",
            "职工发现事故隐患应当立即报告。",
            "用人单位应当定期组织职业健康检查。",
            "用人单位应当公示规章制度。",
            "职工有权拒绝违章指挥。",
            "本办法自公布之日起施行。",
        ],
        strict=True,
    )
)


@pytest.mark.django_db
def test_two_things_the_documents_never_name_together_are_not_a_figure_they_give(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, WORKSHOP_RULES)
    # 高温 and 津贴 are both in the documents, never together: the heat allowance is not.
    assert search("夏天车间里高温津贴每个月发多少？").abstained
    assert top("上夜班的夜班津贴每个月发多少？") == "《某市车间劳动保护办法》第二条"


def test_a_figure_told_in_the_story_is_not_a_figure_asked_for() -> None:
    assert asks_quantity("产假能休几天？")
    assert asks_quantity("加班费按工资的百分之几算？")
    assert not asks_quantity("申请仲裁好几个月了一直没结果，能直接去法院吗？")
    assert not asks_quantity("我爸去世请了几天丧假，单位说不发工资，对吗")
    assert not asks_quantity("来例假那几天，班长还让我进冷库干活，可以这样吗？")
    assert not asks_quantity("我十几岁就出来打工了，以前的工龄怎么算？")
    # 几个点 asks for a share; 哪几个点 for points to heed.
    assert asks_quantity("企业年金公司一般交几个点？")
    assert not asks_quantity("签劳动合同要注意哪几个点？")
    # A standard is usually a rule (按上年度职工月平均工资), not a figure.
    assert not asks_quantity("经济困难的标准是谁来定的？")


@pytest.mark.django_db
def test_a_matter_named_by_a_verbal_noun_is_a_key_concept(leave_rules: Document) -> None:
    # 仲裁 (jieba: a noun made of a verb) is nowhere in the leave rules: their 工作时间 article
    # does not say how long an arbitration takes.
    result = search("劳动仲裁的工作时间一般要多少天？")
    assert result.abstained
    assert result.concept == "仲裁"


@pytest.mark.django_db
def test_a_phrase_the_lexicon_maps_to_several_words_is_named_by_all_of_them(
    leave_rules: Document, eddie: User
) -> None:
    # 陪产假 is leave for the spouse around a birth: the 产假 article speaks of 生育 only.
    curation.save_lexicon_entry(
        kind="colloquial", phrase="陪产假", targets=["配偶", "生育"], author=eddie
    )
    curation.save_lexicon_entry(kind="colloquial", phrase="坐月子", targets=["产假"], author=eddie)
    result = search("陪产假？")
    assert result.abstained
    assert result.concept == "陪产假"
    assert not search("坐月子？").abstained  # one word: the lexicon equates it


EMPLOYMENT_RULES = """# 某市用工管理办法

<!-- INFO END -->

第一条 用人单位不得招用童工。用人单位使用童工的，每使用一名童工每月处三千元罚款。

第二条 用人单位安排残疾人就业的比例不得低于本单位在职职工总数的百分之一点五。

第三条 职工连续工作满一年的，享受带薪年休假。年休假可以集中安排，也可以分段安排。
"""


@pytest.fixture
def employment_rules(eddie: User, categories: dict[str, Category]) -> Document:
    return publish(eddie, categories, EMPLOYMENT_RULES)


@pytest.mark.django_db
def test_a_term_the_segmenter_takes_for_a_name_is_a_thing_when_documents_use_it(
    employment_rules: Document,
) -> None:
    # jieba's dictionary tags 童工 as a personal name; 厂里 ("in the factory") is where the
    # story happens. The figure is asked of 童工, which the first article gives.
    assert top("厂里用童工罚多少钱？") == "《某市用工管理办法》第一条"
    assert top("村里小作坊用童工，一个月罚多少？") == "《某市用工管理办法》第一条"


@pytest.mark.django_db
def test_a_figure_clause_of_everyday_words_leaves_the_question_its_things(
    employment_rules: Document,
) -> None:
    # "能算进公司的比例里吗" names only 公司: the thing asked about is the story's 残疾 (员工).
    assert top("我们公司招来的残疾员工，能算进公司的比例里吗？") == "《某市用工管理办法》第二条"


@pytest.mark.django_db
def test_a_short_form_cut_into_characters_still_names_its_long_form(
    employment_rules: Document,
) -> None:
    # jieba cuts 年假 into 年 and 假 (or 休年 and 假); the article says 年休假.
    assert top("公司说今年忙，年假挪到明年再休，这个要不要我点头？") == "《某市用工管理办法》第三条"
    assert top("老板不让休年假怎么办？") == "《某市用工管理办法》第三条"
    assert search("婚假一般可以休几天？").abstained


CONTRIBUTION_RULES = """# 某市参保缴费办法

<!-- INFO END -->

第一条 社区组织保障居民生活。

第二条 用人单位应当按月申报并缴纳社会保险费。未按时足额缴纳社会保险费的，责令限期缴纳。

第三条 职工连续工作满一年的，享受带薪年休假。
"""


@pytest.fixture
def contribution_rules(eddie: User, categories: dict[str, Category]) -> Document:
    return publish(eddie, categories, CONTRIBUTION_RULES)


@pytest.mark.django_db
@pytest.mark.parametrize("in_memory", [True, False])
def test_a_workers_short_form_is_searched_for_as_the_terms_it_abbreviates(
    contribution_rules: Document, in_memory: bool
) -> None:
    # 社保 and 社保费 are in no document and no lexicon: the first article holds their
    # characters in a shorter text (社区, 保障), the second the long form 社会保险费. The
    # long forms are read from the index in memory or, for a large base, from the database.
    with override_settings(KNOWLEDGE_MEMORY_INDEX_SEGMENTS=1000 if in_memory else 0):
        assert top("公司一直不给交社保怎么办？") == "《某市参保缴费办法》第二条"
        assert top("社保费拖着不交会怎样？") == "《某市参保缴费办法》第二条"
        # 今年的年假: jieba cuts 年假 into 年 and 假 here.
        assert top("今年的年假公司不让休怎么办？") == "《某市参保缴费办法》第三条"


def test_a_short_form_stands_for_the_shortest_terms_it_abbreviates() -> None:
    df = {"社会保险": (1, 9), "社会保险费": (2, 7), "社会保障": (3, 2), "社区": (4, 5)}
    assert _long_forms("社保", df) == ["社会保险", "社会保障"]
    assert _long_forms("社保费", df) == ["社会保险费"]
    assert _long_forms("社区", df) == []  # the word itself is no long form of it


def test_only_a_name_or_a_rare_noun_may_be_a_short_form() -> None:
    assert segmenter.may_abbreviate("社保")  # jieba tags it an abbreviation
    assert segmenter.may_abbreviate("年假")  # not in jieba's dictionary
    assert segmenter.may_abbreviate("个体户")  # a rare noun: 个体工商户
    assert not segmenter.may_abbreviate("工地")  # a common noun in its own right: no 工作地点
    assert not segmenter.may_abbreviate("上班")  # a verb


CHILD_LABOUR_RULES = """# 某市禁止使用童工办法

<!-- INFO END -->

第一条 用人单位使用童工的，由劳动行政部门责令改正，处以罚款；童工不得从事有毒有害的劳动。

第二条 违反本办法使用童工的，由劳动保障行政部门按照每人每月5000元的标准给予处罚。

第三条 职业介绍机构不得为不满16周岁的未成年人介绍就业。
"""


@pytest.mark.django_db
def test_a_question_asking_for_a_figure_prefers_the_article_that_gives_one(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, CHILD_LABOUR_RULES)
    # The first article names child labour and its fine; only the second says how much.
    assert top("厂里用童工罚多少钱？") == "《某市禁止使用童工办法》第二条"


DISPUTE_RULES = """# 某市劳动争议处理办法

<!-- INFO END -->

第一条 劳动争议仲裁委员会收到仲裁材料和证据之日起五日内，认为符合受理条件的，应当受理。

第二条 劳动争议由劳动合同履行地或者用人单位所在地的劳动争议仲裁委员会管辖。

第三条 职工被开除发生争议，拿不准的，可以先行协商。

第四条 职工被开除发生争议的，用人单位负举证责任。

第五条 童工受伤的，治疗费用应当及时结算。

第六条 童工受伤的，治疗费用由用人单位承担。

第七条 职工工资被拖欠的，可以先行协商。

第八条 职工工资被拖欠的，可以向劳动行政部门投诉。

第九条 职工申请工伤认定的，应当提交工伤认定申请表。

第十条 职工申请工伤认定的，应当自受伤之日起一年内提出。
"""


@pytest.mark.django_db
def test_a_question_asking_where_who_pays_who_proves_or_which_body_prefers_the_article_that_says_it(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, DISPUTE_RULES)
    # In each pair the first article holds as much of the question's words or more; the second
    # says what is asked: where (所在地), who proves (举证), who pays (由…承担), which body, a
    # time limit (之日起…内).
    assert top("我想申请劳动仲裁，该去哪里申请？") == "《某市劳动争议处理办法》第二条"
    assert top("被开除了发生争议，该谁拿出证据？") == "《某市劳动争议处理办法》第四条"
    assert top("童工受伤的治疗费用谁出？") == "《某市劳动争议处理办法》第六条"
    assert top("工资被拖欠，该找谁？") == "《某市劳动争议处理办法》第八条"
    assert top("受伤了想申请工伤认定，现在还来得及吗？") == "《某市劳动争议处理办法》第十条"
    # What money is spent on, a difference, a mistake: no place asked for; and the story's
    # 期限 (营业期限到了) is no time limit asked for.
    for question in (
        "单位交的钱最后都花在哪里了？",
        "两种合同的区别在哪里？",
        "我哪里做错了？",
        "公司营业期限到了就不干了，员工能拿补偿吗？",
    ):
        assert _kind_asked(question) is None


WAGE_RULES = """# 某市职工工资支付办法

<!-- INFO END -->

第一条 职工停止工作治疗期间，用人单位应当照发工资。

第二条 工资应当以货币形式按月支付。

第三条 本办法自公布之日起施行。
"""

SICK_LEAVE_RULES = """# 某市职工医疗期规定

<!-- INFO END -->

第一条 职工患病停止工作治疗的，享受三个月到二十四个月的医疗期。

第二条 医疗期内不得解除劳动合同。

第三条 本规定自公布之日起施行。
"""


@pytest.fixture
def wages_with_faq(eddie: User, categories: dict[str, Category]) -> Document:
    """Two documents: the wage rules with FAQ written in workers' words, the rules on sick
    leave with none."""
    wages = publish(eddie, categories, WAGE_RULES)
    publish(eddie, categories, SICK_LEAVE_RULES)
    for question in ["生病住院工资照发吗", "停工看病单位给钱吗", "治疗那段时间的工资"]:
        faq_on(wages, "第一条", question, eddie, categories["rights"])
    return wages


@pytest.mark.django_db
def test_words_no_faq_uses_keep_faq_wording_from_carrying_a_question_on_another_matter(
    wages_with_faq: Document,
) -> None:
    # The FAQ speak of wages during treatment; 医疗期, 患病 and 享受 are the other rules' words,
    # which no FAQ uses: what the FAQ share with the question (停止, 工作, 治疗) is not its matter.
    assert top("职工患病停止工作治疗，享受多长医疗期") == "《某市职工医疗期规定》第一条"
    assert top("看病那段时间工资照发吗") == "《某市职工工资支付办法》第一条"


@pytest.mark.django_db
def test_an_article_whose_own_words_hold_the_question_competes_with_faq_wording(
    wages_with_faq: Document,
) -> None:
    # In workers' words (生病 for 患病), the question shares as much with the FAQ as with the
    # rules on sick leave, whose own words hold most of it.
    assert top("生病停止工作治疗，医疗期有多长？") == "《某市职工医疗期规定》第一条"


INJURY_RULES = """# 某市工伤职工待遇办法

<!-- INFO END -->

第一条 职工因工作遭受事故伤害需要暂停工作接受工伤医疗的，在停工留薪期内，原工资福利待遇\
不变，由所在单位按月支付。停工留薪期一般不超过12个月。

第二条 工伤职工评定伤残等级后，停发原待遇，按照有关规定享受伤残待遇。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_word_the_segmenter_cut_across_the_workers_words_is_not_what_is_asked(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, INJURY_RULES)
    # jieba reads 在家养着 as 在 / 家养 / 着 (livestock): not a thing of the question, whose
    # figure is asked of the paid leave the first article gives.
    assert top("受了工伤在家养着，工资照发吗？最长能养多久？") == "《某市工伤职工待遇办法》第一条"


MATERNITY_RULES = """# 某市女职工保护办法

<!-- INFO END -->

第一条 女职工生育休假期间，用人单位按月发给生育津贴800元。

第二条 女职工生育的，享受产假98天；难产的，增加产假15天。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_a_figure_asked_in_days_is_given_in_days(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, MATERNITY_RULES)
    # Both articles give a figure; the question asks for days, which only the second gives.
    assert top("女职工生育休假能休几天？") == "《某市女职工保护办法》第二条"
    assert top("女职工生育休假期间每月发多少钱？") == "《某市女职工保护办法》第一条"


RESIGNATION_RULES = """# 某市劳动合同管理办法

<!-- INFO END -->

第一条 劳动者提前三十日以书面形式通知用人单位，可以解除劳动合同；在试用期内提前三日通知\
用人单位，可以解除劳动合同。

第二条 公司制企业应当依法建立工会组织。

第三条 本办法自公布之日起施行。
"""


@pytest.mark.django_db
def test_an_everyday_word_a_document_uses_rarely_is_not_what_is_asked(
    eddie: User, categories: dict[str, Category]
) -> None:
    publish(eddie, categories, RESIGNATION_RULES)
    # 公司 is the rarest word the documents share with the question, and only the worker's
    # story: what is asked is the notice after 试用期, which the first article gives.
    assert top("过了试用期想辞职，要提前多久跟公司打招呼？") == "《某市劳动合同管理办法》第一条"


OVERTIME_RULES = "# 某市职工工作时间办法\n\n<!-- INFO END -->\n\n" + "\n\n".join(
    f"第{number}条 {text}"
    for number, text in enumerate(
        [
            "为保障职工的休息权利，根据国家有关规定，制定本办法。",
            "本办法适用于本市行政区域内的企业和个体经济组织。",
            "职工每日工作八小时，每周工作四十小时。",
            "用人单位不得擅自延长职工工作时间。因生产经营需要延长的，应当与工会和劳动者协商。",
            "在特殊条件下从事劳动需要适当缩短工作日的，按照国家有关规定执行。",
            "因工作性质不能实行标准工时的企业，经批准可以实行综合计算工时。",
            "用人单位应当保证职工每周至少休息一日。",
            "法定节假日安排职工工作的，支付不低于工资百分之三百的报酬。",
            "休息日安排职工工作又不能安排补休的，支付不低于工资百分之二百的报酬。",
            "职工连续工作一年以上的，享受带薪年休假。",
            "女职工生育享受九十八天产假。",
            "职工患病医疗期内停工治疗的，病假工资不得低于最低工资标准的百分之八十。",
            "约定竞业限制的，用人单位在解除劳动合同后按月给予劳动者经济补偿，月经济补偿不低于"
            "劳动者离职前十二个月平均工资的百分之三十。",
            "劳动行政部门对本办法的执行情况进行监督检查。",
            "用人单位违反本办法的，由劳动行政部门责令改正，给予警告。",
            "本办法自公布之日起施行。",
        ],
        start=1,
    )
)


@pytest.mark.django_db
def test_a_question_told_in_everyday_words_the_documents_never_use_is_still_answered(
    eddie: User, categories: dict[str, Category]
) -> None:
    # A base of some size (a word no document uses weighs as the rarest there is).
    for rules in (
        OVERTIME_RULES,
        WORKSHOP_RULES,
        LEAVE_RULES,
        TRAINING_RULES,
        INJURY_RULES,
        MATERNITY_RULES,
        RESIGNATION_RULES,
        WAGE_RULES,
        SICK_LEAVE_RULES,
        UNION_RULES,
        EMPLOYMENT_RULES,
        CONTRIBUTION_RULES,
        CHILD_LABOUR_RULES,
        SAFETY_RULES,
    ):
        publish(eddie, categories, rules)
    # Most of the question is the worker's story in everyday words no article uses (老板, 今晚,
    # 大家, 再说): they count as the documents' common words, and the passages that name the
    # matter (延长) cover enough of the rest to answer.
    question = "老板说今晚大家都别走，干到十点再说，这样随便延长吗？"
    assert top(question) == "《某市职工工作时间办法》第4条"
    # Everyday words still count in full where the question may be about another matter.
    assert search("周末带孩子去哪儿爬山比较好？").abstained
