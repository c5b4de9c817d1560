"""Question analytics: topics by meaning, weekly figures, the dashboard, and the editor's path
from a question the knowledge base could not answer to an FAQ entry that answers it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge.models import (
    AskedQuestion,
    Category,
    Conversation,
    Document,
    DocumentStatus,
    FaqEntry,
    FaqStatus,
    Message,
    MessageRole,
    QuestionTopic,
    QuestionWeek,
    Rating,
    Segment,
)
from knowledge.retrieval import search
from knowledge.services import analytics as service
from knowledge.services.analytics import refresh
from knowledge.services.curation import KnowledgeError
from portal.errors import NotPermitted
from portal.models import User
from tests.knowledge import questions
from tests.knowledge.conftest import make_document
from tests.knowledge.questions import HARDSHIP, HOLIDAY_WORK, WAGES, add_wage_words
from tests.waiting import wait_for

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2025, 6, 18, 12, 0, tzinfo=SHANGHAI)  # a Wednesday

# The dashboard shows the weeks up to today: every test here runs with the clock at NOW.
pytestmark = pytest.mark.time_machine(NOW)


@pytest.fixture
def wage_words(db: None) -> None:
    add_wage_words()


def ask(text: str, *, at: datetime = NOW, **fields: Any) -> AskedQuestion:
    """A question asked on NOW's day unless told otherwise (the topic tests refresh at NOW)."""
    return questions.ask(text, at=at, **fields)


def topic_of(question: AskedQuestion) -> QuestionTopic | None:
    question.refresh_from_db()
    return question.topic


def article(law: Document, heading: str) -> Segment:
    return law.segments.get(heading=heading)


def answer_holiday_question(
    editor: User, asked: AskedQuestion, law: Document, **changes: Any
) -> FaqEntry:
    """The FAQ entry an editor writes for the holiday question, citing 第三条 (which answers it)."""
    fields: dict[str, Any] = {
        "question": HOLIDAY_WORK,
        "answer": "国庆节是法定休假日，安排工作的要支付不低于工资百分之三百的工资报酬。",
        "category": law.category,
        "segment_ids": [article(law, "第三条").pk],
    }
    return service.faq_from_question(editor, asked, **(fields | changes))


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


# --- Topics ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_unpaid_wages_asked_three_ways_is_one_topic_and_hardship_aid_another(
    wage_words: None,
) -> None:
    wages = [ask(text) for text in WAGES] + [ask("公司拖欠工资怎么办？")]
    hardship = ask(HARDSHIP)

    service.refresh_question_analytics(now=NOW)

    topics = {topic_of(q) for q in wages}
    assert len(topics) == 1
    topic = topics.pop()
    assert topic is not None
    assert topic.label == "公司拖欠工资怎么办"  # asked twice: the most frequent wording
    assert topic.questions == 4
    assert {"拖欠", "劳动报酬"} <= set(topic.keywords)
    assert topic_of(hardship) not in (None, topic)


@pytest.mark.django_db
def test_answers_citing_the_same_article_group_questions_that_share_no_words(
    law: Document,
) -> None:
    holiday = article(law, "第三条")
    first = ask(HOLIDAY_WORK, segment=holiday)
    second = ask("五一值班给几倍", segment=holiday)
    other = ask(HARDSHIP, segment=article(law, "第五条"))

    service.refresh_question_analytics(now=NOW)

    assert topic_of(first) == topic_of(second)
    assert topic_of(other) != topic_of(first)


@pytest.mark.django_db
def test_the_segment_an_abstained_answer_came_near_is_no_evidence(law: Document) -> None:
    nearest = article(law, "第一条")
    one = ask("食堂饭菜太难吃", segment=nearest, abstained=True)
    other = ask("小区停车位怎么收费", segment=nearest, abstained=True)

    service.refresh_question_analytics(now=NOW)

    assert topic_of(one) != topic_of(other)


@pytest.mark.django_db
def test_a_topic_is_filed_under_the_category_most_of_its_questions_were(
    wage_words: None, categories: dict[str, Category]
) -> None:
    ask(WAGES[0], category=categories["rights"])
    ask(WAGES[1], category=categories["rights"])
    ask(WAGES[2], category=categories["legal-aid"])
    ask(WAGES[1], category=None, abstained=True)

    service.refresh_question_analytics(now=NOW)

    topic = QuestionTopic.objects.get()
    assert topic.category == categories["rights"]
    assert (topic.questions, topic.abstained) == (4, 1)


@pytest.mark.django_db
def test_refreshing_twice_gives_the_same_topics(wage_words: None) -> None:
    questions = [ask(t) for t in [*WAGES, HARDSHIP, HOLIDAY_WORK]]
    questions.append(ask("怎样申请困难职工帮扶", words=False))  # an old row without its words

    service.refresh_question_analytics(now=NOW)
    first = list(QuestionTopic.objects.order_by("id").values())
    assigned = {q.pk: topic_of(q) for q in questions}
    service.refresh_question_analytics(now=NOW)

    assert list(QuestionTopic.objects.order_by("id").values()) == first
    assert {q.pk: topic_of(q) for q in questions} == assigned
    assert assigned[questions[-1].pk] == assigned[questions[3].pk]


@pytest.mark.django_db
def test_a_new_question_joins_its_topic_which_keeps_its_number(wage_words: None) -> None:
    old = ask(WAGES[1], at=NOW - timedelta(days=3))
    service.refresh_question_analytics(now=NOW - timedelta(days=2))
    topic = topic_of(old)
    assert topic is not None

    new = ask(WAGES[0], at=NOW)
    service.refresh_question_analytics(now=NOW)

    assert topic_of(new) == topic_of(old) == topic
    topic.refresh_from_db()
    assert topic.questions == 2
    assert topic.last_asked == NOW


@pytest.mark.django_db
def test_questions_older_than_half_a_year_leave_their_topics(wage_words: None) -> None:
    old = ask(WAGES[0], at=NOW - timedelta(days=service.WINDOW_DAYS + 1))
    service.refresh_question_analytics(now=NOW - timedelta(days=10))
    assert topic_of(old) is not None

    recent = ask(HARDSHIP, at=NOW)
    service.refresh_question_analytics(now=NOW)

    assert topic_of(old) is None
    assert list(QuestionTopic.objects.values_list("label", flat=True)) == [recent.text]


# --- Weekly figures --------------------------------------------------------------------------


@pytest.mark.django_db
def test_weekly_figures_count_each_monday_week_per_category(
    categories: dict[str, Category],
) -> None:
    rights = categories["rights"]
    sunday_night = datetime(2025, 6, 15, 23, 30, tzinfo=SHANGHAI)  # still the week of 9 June
    monday_morning = datetime(2025, 6, 16, 0, 30, tzinfo=SHANGHAI)
    ask("加班费怎么算", at=sunday_night, category=rights, rating=Rating.UP)
    ask("加班费怎么算", at=monday_morning, category=rights, rating=Rating.DOWN)
    ask("年假有几天", at=monday_morning, category=rights)
    ask("食堂饭菜太难吃", at=monday_morning, abstained=True)

    service.refresh_question_analytics(now=NOW)

    rows = {
        (w.week.isoformat(), w.category_id): (w.questions, w.abstained, w.up, w.down)
        for w in QuestionWeek.objects.all()
    }
    assert rows == {
        ("2025-06-09", rights.pk): (1, 0, 1, 0),
        ("2025-06-16", rights.pk): (2, 0, 0, 1),
        ("2025-06-16", None): (1, 1, 0, 0),
    }
    weeks = service.week_figures(service.Scope(weeks=4, category_id=None, today=NOW.date()))
    assert [w.week.isoformat() for w in weeks] == [
        "2025-05-26",
        "2025-06-02",
        "2025-06-09",
        "2025-06-16",
    ]
    assert [w.abstention_rate for w in weeks] == [None, None, 0.0, pytest.approx(1 / 3)]


@pytest.mark.django_db
def test_weekly_figures_are_rebuilt_not_added_to(categories: dict[str, Category]) -> None:
    ask("加班费怎么算", category=categories["rights"])
    service.refresh_question_analytics(now=NOW)
    service.refresh_question_analytics(now=NOW)
    assert list(QuestionWeek.objects.values_list("questions", flat=True)) == [1]


# --- The dashboard ---------------------------------------------------------------------------


def chart(page: str, testid: str) -> str:
    """The SVG of one chart on the page."""
    start = page.index(f'data-testid="{testid}"')
    return page[start : page.index("</svg>", start)]


@pytest.fixture
def wage_questions(wage_words: None, categories: dict[str, Category]) -> list[AskedQuestion]:
    """One wage question answered last week, two unanswered this week (the abstention line
    joins the two weeks), and a hardship question three weeks ago."""
    questions = [
        ask(WAGES[0], at=NOW - timedelta(weeks=1), category=categories["rights"]),
        ask(WAGES[1], at=NOW - timedelta(days=1), abstained=True),
        ask(WAGES[2], at=NOW, abstained=True),
        ask(HARDSHIP, at=NOW - timedelta(days=20), category=categories["hardship-aid"]),
    ]
    service.refresh_question_analytics()
    return questions


@pytest.mark.django_db
def test_editors_and_admins_see_charts_of_the_period(
    client: Client, eddie: User, ada: User, wage_questions: list[AskedQuestion]
) -> None:
    for user in (eddie, ada):
        page = logged_in(client, user).get(reverse("knowledge_analytics")).content.decode()
        assert "<rect" in chart(page, "chart-weeks")
        abstention = chart(page, "chart-abstention")
        assert "<polyline" in abstention  # last week's rate joined to this week's
        assert "2025-06-09 这周：未覆盖率 0%（0 / 1）" in abstention
        assert "2025-06-16 这周：未覆盖率 100%（2 / 2）" in abstention
        categories = chart(page, "chart-categories")
        assert "维权服务" in categories and "困难职工帮扶" in categories and "未分类" in categories
        assert WAGES[0] in chart(page, "chart-topics")
        assert "<script" not in page.split("<main", 1)[1]  # the charts are plain SVG


@pytest.mark.django_db
def test_the_period_and_category_filters_narrow_the_figures(
    client: Client,
    eddie: User,
    wage_questions: list[AskedQuestion],
    categories: dict[str, Category],
) -> None:
    logged_in(client, eddie)
    url = reverse("knowledge_analytics")

    last_weeks = client.get(url, {"weeks": 4}).content.decode()
    hardship_only = client.get(
        url, {"weeks": 12, "category": categories["hardship-aid"].pk}
    ).content.decode()

    assert "<dd>4</dd>" in last_weeks  # four questions in the last four weeks
    assert "<dd>1</dd>" in hardship_only
    assert HARDSHIP in chart(hardship_only, "chart-topics")
    assert WAGES[0] not in hardship_only
    assert 'data-testid="chart-categories"' not in hardship_only


@pytest.mark.django_db
def test_a_bad_filter_value_shows_the_default_period(
    client: Client, eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    response = logged_in(client, eddie).get(reverse("knowledge_analytics"), {"weeks": "999"})
    assert response.status_code == 200
    assert response.context["scope"].weeks == 12


@pytest.mark.django_db
def test_unanswered_questions_are_listed_by_topic_newest_first(
    client: Client, eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    response = logged_in(client, eddie).get(reverse("knowledge_analytics"))
    groups = response.context["groups"]
    assert len(groups) == 1  # the two unanswered wage questions share their topic
    assert groups[0].count == 2
    assert [q.text for q in groups[0].examples] == [WAGES[2], WAGES[1]]
    assert "未覆盖的问题 2" in response.content.decode()


@pytest.mark.django_db
def test_the_lists_are_paginated(client: Client, eddie: User) -> None:
    for i in range(25):
        at = timezone.now() - timedelta(minutes=30 - i)
        ask(f"第{i}号问题关于食堂{i}号窗口", at=at, abstained=True)
    logged_in(client, eddie)
    url = reverse("knowledge_analytics")

    first = client.get(url).context
    second = client.get(url, {"page": 2}).context

    assert len(first["groups"]) == 20 and len(second["groups"]) == 5
    assert first["groups"][0].label == "第24号问题关于食堂24号窗口"
    assert second["groups"][-1].label == "第0号问题关于食堂0号窗口"


@pytest.mark.django_db
def test_the_dashboard_costs_the_same_queries_for_one_group_or_twenty(
    client: Client, eddie: User, law: Document
) -> None:
    logged_in(client, eddie)
    url = reverse("knowledge_analytics")

    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        return len(captured)

    segment = article(law, "第三条")
    ask("食堂饭菜太难吃", at=timezone.now(), abstained=True, segment=segment)
    one = queries_for_the_page()
    for i in range(19):
        ask(f"第{i}号窗口排队太久", at=timezone.now(), abstained=True, segment=segment)
    assert queries_for_the_page() == one


@pytest.mark.django_db
def test_disliked_answers_show_the_members_reason_but_not_the_member(
    client: Client, eddie: User, alice: User, law: Document
) -> None:
    conversation = Conversation.objects.create(owner=alice, title="加班")
    answer = Message.objects.create(
        conversation=conversation,
        role=MessageRole.ASSISTANT,
        text="……",
        rating=Rating.DOWN,
        reason="没说清楚周末加班怎么算",
    )
    ask(
        "周末加班工资怎么算",
        segment=article(law, "第三条"),
        rating=Rating.DOWN,
        reason="没说清楚周末加班怎么算",
        answer=answer,
        at=timezone.now(),
    )

    page = logged_in(client, eddie).get(reverse("knowledge_analytics"), {"show": "disliked"})
    text = page.content.decode()

    assert "没说清楚周末加班怎么算" in text
    assert "《中华人民共和国测试劳动法》第三条" in text
    assert "alice" not in text.split("<main", 1)[1]
    assert reverse("knowledge_segment", args=[article(law, "第三条").pk]) in text  # 编辑文档


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("get", "knowledge_analytics"),
        ("post", "knowledge_analytics_refresh"),
        ("get", "knowledge_question_faq"),
        ("post", "knowledge_question_faq"),
        ("post", "knowledge_question_handled"),
    ],
)
def test_members_and_staff_may_not_see_or_handle_questions(
    client: Client, alice: User, sam: User, method: str, name: str
) -> None:
    asked = ask(HARDSHIP, abstained=True)
    url = reverse(name, args=[asked.pk]) if "question" in name else reverse(name)
    for user in (alice, sam):
        response = getattr(logged_in(client, user), method)(url, {"answer": "x", "cites": "x"})
        assert response.status_code == 403
    asked.refresh_from_db()
    assert asked.handled_at is None and not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    asked = ask(HARDSHIP, abstained=True)
    for url in (
        reverse("knowledge_analytics"),
        reverse("knowledge_question_faq", args=[asked.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(reverse("knowledge_question_handled", args=[asked.pk]))
    assert response.status_code == 302
    asked.refresh_from_db()
    assert asked.handled_at is None


@pytest.mark.django_db
def test_members_cannot_use_the_services_directly_either(alice: User, law: Document) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True)
    with pytest.raises(NotPermitted):
        service.mark_handled(alice, asked)
    with pytest.raises(NotPermitted):
        answer_holiday_question(alice, asked, law)
    asked.refresh_from_db()
    assert asked.handled_at is None and not FaqEntry.objects.exists()


# --- From a question to an FAQ entry ---------------------------------------------------------


@pytest.mark.django_db
def test_an_faq_made_from_an_unanswered_question_answers_it_at_once(
    eddie: User, law: Document
) -> None:
    holiday = article(law, "第三条")
    before = search(HOLIDAY_WORK)
    assert before.abstained  # the knowledge base could not answer it
    asked = ask(HOLIDAY_WORK, abstained=True)

    faq = answer_holiday_question(eddie, asked, law, variants=["国庆上班怎么给钱"])

    after = search(HOLIDAY_WORK)
    assert not after.abstained
    assert after.passages[0].segment_id == holiday.pk
    assert search("国庆上班怎么给钱").passages[0].segment_id == holiday.pk
    assert faq.status == FaqStatus.PUBLISHED
    assert list(faq.segments.all()) == [holiday]
    asked.refresh_from_db()
    assert asked.faq == faq and asked.handled_at is not None


@pytest.mark.django_db
def test_the_faq_also_settles_waiting_questions_worded_like_its_variants(
    eddie: User, law: Document
) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True, at=timezone.now())
    same_words = ask("国庆上班怎么给钱？", abstained=True, at=timezone.now())
    other = ask("食堂饭菜太难吃", abstained=True, at=timezone.now())

    faq = answer_holiday_question(eddie, asked, law, variants=["国庆上班怎么给钱"])

    same_words.refresh_from_db()
    other.refresh_from_db()
    assert same_words.faq == faq and same_words.handled_at is not None
    assert other.handled_at is None
    assert not service.pending(service.Pending.UNANSWERED).exclude(pk=other.pk).exists()


@pytest.mark.django_db
def test_an_faq_needs_a_published_segment_and_nothing_is_saved_without_one(
    eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True)
    draft = make_document(
        eddie,
        categories,
        body="# 草稿规定\n\n第一条 国庆节加班按三倍计算。\n",
        title="草稿规定",
        status=DocumentStatus.DRAFT,
    )
    attempts = {
        "no_segment": [],
        "segment_not_retrievable": [draft.segments.get().pk],
        "unknown_segment": [article(law, "第三条").pk, 999_999],
    }
    for code, segment_ids in attempts.items():
        with pytest.raises(KnowledgeError) as caught:
            answer_holiday_question(eddie, asked, law, segment_ids=segment_ids)
        assert caught.value.code == code
        assert caught.value.message
    asked.refresh_from_db()
    assert asked.handled_at is None and not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_a_question_gets_one_faq_even_if_two_editors_try(
    eddie: User, ada: User, law: Document
) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True)
    answer_holiday_question(eddie, asked, law)
    stale = AskedQuestion.objects.get(pk=asked.pk)
    with pytest.raises(KnowledgeError) as caught:
        answer_holiday_question(ada, stale, law, question="国庆加班费")
    assert caught.value.code == "already_handled"
    assert FaqEntry.objects.count() == 1


@pytest.mark.django_db
def test_an_faq_rolled_back_with_its_transaction_answers_nothing_afterwards(
    eddie: User, law: Document
) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True)
    with transaction.atomic():
        answer_holiday_question(eddie, asked, law)
        inside = search(HOLIDAY_WORK)
        assert not inside.abstained
        assert [h.question for h in inside.faq_hits] == [HOLIDAY_WORK]  # this process's index
        transaction.set_rollback(True)

    after = search(HOLIDAY_WORK)
    assert after.abstained and after.faq_hits == []  # the index dropped it with the rollback
    asked.refresh_from_db()
    assert asked.faq is None and asked.handled_at is None


@pytest.mark.django_db
def test_new_faq_page_is_prefilled_and_publishes_from_the_list(
    client: Client, eddie: User, law: Document
) -> None:
    holiday = article(law, "第三条")
    asked = ask(
        HOLIDAY_WORK,
        category=law.category,
        segment=holiday,
        rating=Rating.DOWN,
        at=timezone.now(),
    )
    logged_in(client, eddie)
    back = reverse("knowledge_analytics") + "?show=disliked"
    assert [g.newest for g in client.get(back).context["groups"]] == [asked]
    url = reverse("knowledge_question_faq", args=[asked.pk]) + "?next=" + back

    form = client.get(url).context["form"]
    assert form.initial["question"] == HOLIDAY_WORK
    assert form.initial["cites"] == "《中华人民共和国测试劳动法》第三条"
    assert form.initial["category"] == law.category_id

    response = client.post(
        url,
        {
            "question": HOLIDAY_WORK,
            "answer": "法定休假日加班，支付不低于工资百分之三百的工资报酬。",
            "category": law.category_id,
            "cites": "《测试劳动法》第三条",
            "variants": "",
            "next": back,
        },
    )

    assert response.status_code == 302 and response["Location"] == back
    listing = client.get(back)
    assert listing.context["groups"] == []
    assert "已发布常见问题" in listing.content.decode()
    assert search(HOLIDAY_WORK).passages[0].segment_id == holiday.pk


@pytest.mark.django_db
def test_the_faq_page_offers_the_topics_other_wordings_as_variants(
    client: Client, eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    newest = wage_questions[2]
    page = logged_in(client, eddie).get(reverse("knowledge_question_faq", args=[newest.pk]))
    assert page.context["form"].initial["variants"] == WAGES[1]


@pytest.mark.django_db
def test_a_bad_citation_on_the_page_keeps_the_question_waiting(
    client: Client, eddie: User, law: Document
) -> None:
    asked = ask(HOLIDAY_WORK, abstained=True)
    response = logged_in(client, eddie).post(
        reverse("knowledge_question_faq", args=[asked.pk]),
        {
            "question": HOLIDAY_WORK,
            "answer": "三倍。",
            "category": law.category_id,
            "cites": "《测试劳动法》第九十九条",
        },
    )
    assert response.status_code == 200
    assert "找不到" in response.content.decode()
    asked.refresh_from_db()
    assert asked.handled_at is None and not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_marking_a_topic_handled_takes_its_questions_off_the_list(
    client: Client, eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    logged_in(client, eddie)
    newest = wage_questions[2]
    response = client.post(
        reverse("knowledge_question_handled", args=[newest.pk]),
        {"topic": "1", "next": reverse("knowledge_analytics")},
    )
    assert response.status_code == 302
    page = client.get(reverse("knowledge_analytics"))
    assert page.context["groups"] == []
    assert "已将 2 条提问标记为已处理" in page.content.decode()
    # The answered wage question was never on the list and stays as it was.
    wage_questions[0].refresh_from_db()
    assert wage_questions[0].handled_at is None


@pytest.mark.django_db
def test_marking_one_question_leaves_the_rest_of_its_topic(
    eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    assert service.mark_handled(eddie, wage_questions[2]) == 1
    assert service.mark_handled(eddie, wage_questions[2]) == 0  # already handled
    waiting = service.pending(service.Pending.UNANSWERED)
    assert list(waiting.values_list("text", flat=True)) == [WAGES[1]]


# --- The background job ----------------------------------------------------------------------


def test_the_refresh_button_has_the_worker_build_the_topics(
    client: Client, celery_worker: object, eddie: User, wage_words: None
) -> None:
    ask(WAGES[0], at=timezone.now())
    ask(WAGES[1], at=timezone.now())
    logged_in(client, eddie)

    response = client.post(reverse("knowledge_analytics_refresh"))

    assert response.status_code == 302
    wait_for(QuestionTopic.objects.exists, what="the worker to group the questions")
    page = client.get(reverse("knowledge_analytics")).content.decode()
    assert WAGES[0] in page  # the topic shows among the most asked
    assert QuestionTopic.objects.get().questions == 2


def test_the_refresh_runs_every_night_at_ten_past_three() -> None:
    from celery.schedules import crontab

    from portal.celery import app

    app.loader.import_default_modules()  # what beat and the worker do when they start
    entry = settings.CELERY_BEAT_SCHEDULE["refresh-question-analytics"]
    assert entry["task"] in app.tasks
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert "<crontab: 10 3 * * *" in repr(schedule)  # minute 10, hour 3, every day
    assert str(app.conf.timezone) == "Asia/Shanghai"


@pytest.mark.django_db
def test_a_question_on_neither_list_cannot_be_marked_with_its_topic(
    eddie: User, wage_questions: list[AskedQuestion]
) -> None:
    liked = wage_questions[0]
    AskedQuestion.objects.filter(pk=liked.pk).update(abstained=False, rating="up")
    liked.refresh_from_db()
    with pytest.raises(KnowledgeError):
        service.mark_handled(eddie, liked, whole_topic=True)
    assert not AskedQuestion.objects.filter(handled_at__isnull=False).exists()


@pytest.mark.django_db
def test_clicking_refresh_again_within_a_minute_queues_no_second_refresh(
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        service.schedule_refresh()
        service.schedule_refresh()
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)  # the other refresh must see the questions
def test_a_refresh_while_another_runs_returns_at_once(wage_questions: list[AskedQuestion]) -> None:
    import threading

    from django.db import connections

    results: list[service.RefreshSummary] = []

    def refresh_elsewhere() -> None:
        try:
            results.append(service.refresh_question_analytics())
        finally:
            connections.close_all()

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [refresh._ADVISORY_LOCK])
    try:
        thread = threading.Thread(target=refresh_elsewhere)
        thread.start()
        thread.join(timeout=30)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [refresh._ADVISORY_LOCK])
    assert results and results[0].topics == 0 and results[0].questions == 0
    assert service.refresh_question_analytics().questions == len(wage_questions)
