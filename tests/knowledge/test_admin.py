"""The knowledge base through Django's admin site: changes go through the curation services, a
domain error is an error on the form (nothing saved), and only administrators get in."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from knowledge.ingest import MAX_SEGMENT_CHARS
from knowledge.models import (
    Category,
    Document,
    DocumentStatus,
    FaqEntry,
    LexiconEntry,
    LexiconKind,
    Posting,
    Segment,
)
from knowledge.retrieval import search
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import MINI_LAW
from tests.knowledge.test_index_integrity import assert_index_is_consistent, faq_on_third

DOCUMENTS = "/admin/knowledge/document/"
FAQ = "/admin/knowledge/faqentry/"
LEXICON = "/admin/knowledge/lexiconentry/"
SEGMENTS = "/admin/knowledge/segment/"
LAW_TITLE = "中华人民共和国测试劳动法"


def filled(client: Client, url: str, **changes: Any) -> dict[str, Any]:
    """The admin page's form as the browser would send it back, with `changes` (None drops a
    field)."""
    page = client.get(url)
    assert page.status_code == 200, page
    forms = [page.context["adminform"].form]
    for inline in page.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is not None and value is not False:
                data[form.add_prefix(name)] = "on" if value is True else value
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def admin_client(client: Client, ada: User) -> Client:
    client.force_login(ada)
    return client


def errors_of(response: Any) -> str:
    assert response.status_code == 200, f"expected the form again, got {response.status_code}"
    return str(response.content.decode())


def wording_of(segment: Segment) -> set[str]:
    return set(Posting.objects.filter(segment=segment).values_list("term__text", flat=True))


# --- documents --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ada_adds_a_document_and_it_is_split_and_revised(
    admin_client: Client, ada: User, categories: dict[str, Category]
) -> None:
    url = f"{DOCUMENTS}add/"
    data = filled(
        admin_client, url, title=LAW_TITLE, category=categories["rights"].pk, body=MINI_LAW
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    document = Document.objects.get()
    assert (document.title, document.created_by, document.status) == (LAW_TITLE, ada, "draft")
    assert document.segments.count() == 5
    assert document.revisions.get().author == ada


@pytest.mark.django_db
def test_pasting_the_text_of_an_existing_document_is_a_form_error(
    admin_client: Client, law: Document, categories: dict[str, Category]
) -> None:
    url = f"{DOCUMENTS}add/"
    data = filled(admin_client, url, title="再来一次", category=categories["rights"].pk)

    page = errors_of(admin_client.post(url, {**data, "body": MINI_LAW}))

    assert "内容相同的文档已经存在" in page and LAW_TITLE in page
    assert Document.objects.count() == 1


@pytest.mark.django_db
def test_changing_a_document_to_another_ones_text_is_a_form_error_and_changes_nothing(
    admin_client: Client, law: Document, eddie: User, categories: dict[str, Category]
) -> None:
    other = curation.create_document(
        curation.DocumentFields(
            title="另一部法", category=categories["rights"], body="第一条 工会经费按月拨缴。"
        ),
        author=eddie,
    )
    url = f"{DOCUMENTS}{other.pk}/change/"

    page = errors_of(admin_client.post(url, filled(admin_client, url, body=MINI_LAW)))

    assert "内容相同的文档已经存在" in page
    other.refresh_from_db()
    assert (other.body, other.version) == ("第一条 工会经费按月拨缴。", 1)


@pytest.mark.django_db
def test_changing_a_published_document_re_splits_and_re_indexes_it(
    admin_client: Client, law: Document
) -> None:
    url = f"{DOCUMENTS}{law.pk}/change/"
    data = filled(admin_client, url, body=MINI_LAW.replace("三十六小时", "四十小时"))

    assert admin_client.post(url, data).status_code == 302

    law.refresh_from_db()
    assert law.version == 2 and "四十小时" in law.segments.get(heading="第二条").text
    assert "四十" in wording_of(law.segments.get(heading="第二条"))
    assert_index_is_consistent()


@pytest.mark.django_db
def test_a_form_that_comes_back_invalid_after_the_document_validated_saves_nothing(
    admin_client: Client, categories: dict[str, Category]
) -> None:
    url = f"{DOCUMENTS}add/"
    data = filled(
        admin_client, url, title=LAW_TITLE, category=categories["rights"].pk, body=MINI_LAW
    )
    without_revisions = {k: v for k, v in data.items() if not k.startswith("revisions-")}

    page = errors_of(admin_client.post(url, without_revisions))

    assert "ManagementForm" in page or "管理表单" in page
    assert not Document.objects.exists() and not Segment.objects.exists()


@pytest.mark.django_db
def test_a_segment_too_long_is_a_form_error(admin_client: Client, law: Document) -> None:
    segment = law.segments.get(heading="第三条")
    url = f"{SEGMENTS}{segment.pk}/change/"

    page = errors_of(
        admin_client.post(url, filled(admin_client, url, text="长" * (MAX_SEGMENT_CHARS + 1)))
    )

    assert "片段不能超过" in page
    segment.refresh_from_db()
    assert segment.text.startswith("第三条")


# --- FAQ -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ada_adds_an_faq_entry_and_its_wording_finds_the_cited_article(
    admin_client: Client, ada: User, law: Document, categories: dict[str, Category]
) -> None:
    url = f"{FAQ}add/"
    data = filled(
        admin_client,
        url,
        question="过节上班工资怎么算",
        variants='["国庆节上班给几倍工资"]',
        answer="不低于百分之三百。",
        category=categories["rights"].pk,
        cites=f"《{LAW_TITLE}》第三条",
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    faq = FaqEntry.objects.get()
    assert [s.heading for s in faq.segments.all()] == ["第三条"] and faq.updated_by == ada
    assert search("国庆节上班给几倍工资").passages[0].heading == "第三条"
    assert_index_is_consistent()


@pytest.mark.django_db
def test_an_faq_entry_citing_an_unknown_article_is_a_form_error(
    admin_client: Client, law: Document, categories: dict[str, Category]
) -> None:
    url = f"{FAQ}add/"
    data = filled(
        admin_client,
        url,
        question="过节上班工资怎么算",
        answer="不低于百分之三百。",
        category=categories["rights"].pk,
        cites="《没有这部法》第九十九条",
    )

    assert "找不到" in errors_of(admin_client.post(url, data))
    assert not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_ada_moves_an_faq_entry_to_another_article_and_its_wording_follows(
    admin_client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    faq = faq_on_third(eddie, law, categories)
    url = f"{FAQ}{faq.pk}/change/"
    data = filled(admin_client, url)
    assert data["cites"] == f"《{LAW_TITLE}》第三条"

    response = admin_client.post(url, {**data, "cites": f"《{LAW_TITLE}》第四条"})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert [s.heading for s in faq.segments.all()] == ["第四条"]
    # The FAQ's wording now leads to the article it cites, and no longer to the first one.
    assert [h.segment_id for h in search("国庆节上班给几倍工资").faq_hits[:1]] == [
        law.segments.get(heading="第四条").pk
    ]
    assert_index_is_consistent()


@pytest.mark.django_db
def test_ada_deletes_faq_entries_one_or_several_and_the_index_follows(
    admin_client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    faq = faq_on_third(eddie, law, categories)
    second = curation.save_faq(
        question="社保不交怎么办",
        answer="可以投诉。",
        category=categories["rights"],
        segments=[law.segments.get(heading="第四条")],
        author=eddie,
    )
    third = curation.save_faq(
        question="能参加工会吗",
        answer="能。",
        category=categories["rights"],
        segments=[law.segments.get(heading="第五条")],
        author=eddie,
    )

    response = admin_client.post(f"{FAQ}{faq.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    response = admin_client.post(
        FAQ,
        {"action": "delete_selected", "_selected_action": [second.pk, third.pk], "post": "yes"},
    )
    assert response.status_code == 302

    assert not FaqEntry.objects.exists()
    assert search("国庆节上班给几倍工资").faq_hits == []
    assert_index_is_consistent()


# --- lexicon -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_ada_adds_changes_and_deletes_lexicon_entries(admin_client: Client, ada: User) -> None:
    url = f"{LEXICON}add/"
    data = filled(admin_client, url, kind=LexiconKind.COLLOQUIAL, phrase="炒鱿鱼")
    response = admin_client.post(url, {**data, "targets": '["解除劳动合同"]'})
    assert response.status_code == 302, response.content.decode()[:3000]
    entry = LexiconEntry.objects.get()
    assert (entry.phrase, entry.targets, entry.updated_by) == ("炒鱿鱼", ["解除劳动合同"], ada)

    change = f"{LEXICON}{entry.pk}/change/"
    response = admin_client.post(change, filled(admin_client, change, targets='["辞退"]'))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.targets == ["辞退"]

    assert admin_client.post(f"{LEXICON}{entry.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not LexiconEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "phrase", "targets", "message"),
    [
        (LexiconKind.TERM, "over time", "[]", "不能含空格"),
        (LexiconKind.SYNONYM, "加班费", "[]", "至少一个对应词"),
    ],
)
def test_a_lexicon_entry_the_service_refuses_is_a_form_error(
    admin_client: Client, kind: str, phrase: str, targets: str, message: str
) -> None:
    url = f"{LEXICON}add/"
    data = filled(admin_client, url, kind=kind, phrase=phrase, targets=targets)

    assert message in errors_of(admin_client.post(url, data))
    assert not LexiconEntry.objects.exists()


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_editor_may_not_use_the_admin_site(
    client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    faq = faq_on_third(eddie, law, categories)
    client.force_login(eddie)
    rights = categories["rights"].pk
    attempts = [
        (f"{DOCUMENTS}add/", {"title": "x", "category": rights, "body": "第一条 x"}),
        (f"{DOCUMENTS}{law.pk}/change/", {"title": "改", "body": "第一条 改"}),
        (f"{FAQ}add/", {"question": "q", "answer": "a", "category": rights}),
        (f"{FAQ}{faq.pk}/delete/", {"post": "yes"}),
        (f"{LEXICON}add/", {"kind": "term", "phrase": "加班费", "targets": "[]"}),
    ]
    for url, data in attempts:
        for response in (client.get(url), client.post(url, data)):
            assert response.status_code == 302 and "/admin/login/" in response["Location"], url

    law.refresh_from_db()
    assert Document.objects.count() == 1 and law.title == LAW_TITLE
    assert law.status == DocumentStatus.PUBLISHED
    assert list(FaqEntry.objects.all()) == [faq] and not LexiconEntry.objects.exists()
