"""Editor pages and the knowledge API: editors curate, nobody else may."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from knowledge.models import (
    Category,
    Document,
    DocumentRevision,
    DocumentStatus,
    FaqEntry,
    LexiconEntry,
    Segment,
)
from knowledge.services import curation
from portal.models import User
from tests.knowledge.conftest import MINI_LAW

EDITOR_PAGES = [
    "knowledge_documents",
    "knowledge_document_new",
    "knowledge_faq",
    "knowledge_faq_new",
    "knowledge_lexicon",
    "knowledge_test",
]


def logged_in(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("page", EDITOR_PAGES)
def test_members_and_staff_may_not_open_editor_pages(
    client: Client, alice: User, sam: User, page: str
) -> None:
    for user in (alice, sam):
        assert logged_in(client, user).get(reverse(page)).status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_log_in(client: Client) -> None:
    response = client.get(reverse("knowledge_documents"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("page", EDITOR_PAGES)
def test_editors_and_admins_open_editor_pages(
    client: Client, eddie: User, ada: User, page: str
) -> None:
    for user in (eddie, ada):
        assert logged_in(client, user).get(reverse(page)).status_code == 200


@pytest.mark.django_db
def test_members_cannot_change_knowledge_by_posting_either(
    client: Client, alice: User, law: Document
) -> None:
    logged_in(client, alice)
    segment = law.segments.first()
    assert segment is not None
    responses = [
        client.post(reverse("knowledge_document_status", args=[law.pk]), {"status": "archived"}),
        client.post(reverse("knowledge_segment", args=[segment.pk]), {"text": "改掉"}),
        client.post(reverse("knowledge_lexicon"), {"kind": "term", "phrase": "坏词"}),
    ]
    assert [r.status_code for r in responses] == [403, 403, 403]
    law.refresh_from_db()
    assert law.status == DocumentStatus.PUBLISHED
    assert not LexiconEntry.objects.exists()


@pytest.mark.django_db
def test_an_editor_uploads_a_law_and_it_is_split_and_revised(
    client: Client, eddie: User, categories: dict[str, Category]
) -> None:
    logged_in(client, eddie)
    response = client.post(
        reverse("knowledge_document_new"),
        {
            "category": categories["rights"].pk,
            "kind": "law",
            "status": "published",
            "file": SimpleUploadedFile("测试法.md", MINI_LAW.encode()),
        },
    )
    document = Document.objects.get()
    assert response.status_code == 302
    assert document.title == "中华人民共和国测试劳动法"  # its own first line, not the file's name
    assert document.segments.count() == 5
    assert DocumentRevision.objects.filter(document=document, author=eddie).count() == 1
    page = client.get(reverse("knowledge_document", args=[document.pk]))
    assert "第三条" in page.content.decode()


@pytest.mark.django_db
def test_uploading_the_same_text_twice_is_refused_and_adds_nothing(
    client: Client, eddie: User, categories: dict[str, Category], law: Document
) -> None:
    logged_in(client, eddie)
    response = client.post(
        reverse("knowledge_document_new"),
        {
            "title": "重复",
            "category": categories["rights"].pk,
            "kind": "law",
            "status": "draft",
            "body": MINI_LAW,
        },
    )
    assert response.status_code == 200
    assert "内容相同的文档已经存在" in response.content.decode()
    assert Document.objects.count() == 1


@pytest.mark.django_db
def test_a_too_large_upload_is_cut_off_with_a_message(
    client: Client, eddie: User, categories: dict[str, Category], settings
) -> None:
    settings.KNOWLEDGE_MAX_UPLOAD_MB = 1
    logged_in(client, eddie)
    big = SimpleUploadedFile("big.txt", b"a" * (2 * 1024 * 1024))
    response = client.post(
        reverse("knowledge_document_new"),
        {"category": categories["rights"].pk, "kind": "other", "status": "draft", "file": big},
    )
    assert "文件太大" in response.content.decode()
    assert not Document.objects.exists() and not Segment.objects.exists()


@pytest.mark.django_db
def test_a_pasted_html_page_is_stored_without_its_scripts(
    api: Callable[[User | None], APIClient], eddie: User
) -> None:
    page = SimpleUploadedFile(
        "notice.html", "<p>工会会员大会将于周五召开。</p><script>alert(1)</script>".encode()
    )
    response = api(eddie).post(
        "/api/v1/knowledge/documents/",
        {"category": "member-services", "kind": "other", "file": page},
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = Document.objects.get().body
    assert "工会会员大会将于周五召开。" in body and "alert" not in body


@pytest.mark.django_db
def test_the_api_refuses_a_duplicate_with_409_and_the_existing_id(
    api: Callable[[User | None], APIClient], eddie: User, law: Document
) -> None:
    response = api(eddie).post(
        "/api/v1/knowledge/documents/",
        {"category": "rights", "kind": "law", "title": "再来一次", "body": MINI_LAW},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_document"
    assert response.json()["existing_id"] == law.pk


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/knowledge/documents/"),
        ("post", "/api/v1/knowledge/documents/"),
        ("get", "/api/v1/knowledge/faq/"),
        ("post", "/api/v1/knowledge/lexicon/"),
    ],
)
def test_the_curation_api_is_for_editors_only(
    api: Callable[[User | None], APIClient], alice: User, sam: User, method: str, path: str
) -> None:
    for user in (None, alice, sam):
        response = getattr(api(user), method)(path, {}, format="json")
        assert response.status_code in (401, 403), (user, response.status_code)


@pytest.mark.django_db
def test_an_editor_moves_a_document_through_review_to_publication(
    api: Callable[[User | None], APIClient], eddie: User, categories: dict[str, Category]
) -> None:
    client = api(eddie)
    created = client.post(
        "/api/v1/knowledge/documents/",
        {"category": "rights", "kind": "law", "title": "测试法", "body": MINI_LAW},
        format="json",
    ).json()
    assert created["status"] == "draft"
    for status in ("review", "published"):
        response = client.post(
            f"/api/v1/knowledge/documents/{created['id']}/status/",
            {"status": status},
            format="json",
        )
        assert response.json()["status"] == status
    found = client.post(
        "/api/v1/knowledge/search/", {"question": "法定休假日加班工资"}, format="json"
    ).json()["passages"][0]
    assert found["heading"] == "第三条"
    # The words it shares with the question, not the characters it was also searched by.
    assert "工资" in found["matched"] and not any("@" in w for w in found["matched"])
    bad = client.post(
        f"/api/v1/knowledge/documents/{created['id']}/status/", {"status": "review"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "bad_transition"


@pytest.mark.django_db
def test_search_api_gives_a_precise_error_for_a_bad_question(
    api: Callable[[User | None], APIClient], eddie: User, law: Document
) -> None:
    response = api(eddie).post("/api/v1/knowledge/search/", {"question": "……？？"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "no_words"


@pytest.mark.django_db
def test_members_without_a_beta_place_may_not_search_through_the_api(
    api: Callable[[User | None], APIClient], charlie: User, law: Document
) -> None:
    response = api(charlie).post("/api/v1/knowledge/search/", {"question": "加班"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_an_editor_adds_an_faq_citing_an_article_by_name(
    client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    logged_in(client, eddie)
    response = client.post(
        reverse("knowledge_faq_new"),
        {
            "question": "过节上班工资怎么算",
            "variants": "国庆上班几倍工资\n春节值班给多少钱",
            "answer": "不低于百分之三百。",
            "category": categories["rights"].pk,
            "cites": "《测试劳动法》第三条",
            "status": "published",
        },
    )
    assert response.status_code == 302
    faq = FaqEntry.objects.get()
    assert faq.variants == ["国庆上班几倍工资", "春节值班给多少钱"]
    assert [s.heading for s in faq.segments.all()] == ["第三条"]


@pytest.mark.django_db
def test_the_faq_list_shows_the_entry_just_saved_first_and_says_when_a_search_finds_none(
    client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    for n in range(35):  # more than a page, in a category listed before the new entry's
        curation.save_faq(
            question=f"第{n}个问题",
            answer="答。",
            category=categories["rights"],
            author=eddie,
        )
    logged_in(client, eddie)
    client.post(
        reverse("knowledge_faq_new"),
        {
            "question": "刚刚新增的问题",
            "answer": "新的解答。",
            "category": max(categories.values(), key=lambda c: c.pk).pk,
            "status": "published",
        },
    )
    listing = client.get(reverse("knowledge_faq")).content.decode()
    assert listing.index("刚刚新增的问题") < listing.index("第34个问题")
    searched = client.get(reverse("knowledge_faq"), {"q": "没有这个词"}).content.decode()
    assert "没有找到包含“没有这个词”的常见问题" in searched


@pytest.mark.django_db
def test_an_faq_citing_an_unknown_article_is_refused(
    client: Client, eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    logged_in(client, eddie)
    response = client.post(
        reverse("knowledge_faq_new"),
        {
            "question": "问题",
            "answer": "解答。",
            "category": categories["rights"].pk,
            "cites": "《测试劳动法》第九十九条",
            "status": "published",
        },
    )
    assert "找不到" in response.content.decode()
    assert not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_the_retrieval_test_page_shows_passages_scores_and_synonyms(
    client: Client, eddie: User, law: Document
) -> None:
    logged_in(client, eddie)
    client.post(
        reverse("knowledge_lexicon"),
        {"kind": "colloquial", "phrase": "国庆", "targets": "法定休假日"},
    )
    page = client.get(
        reverse("knowledge_test"), {"question": "国庆上班工资怎么算"}
    ).content.decode()
    assert "国庆 → 法定休假日" in page
    assert "《中华人民共和国测试劳动法》第三条" in page
    assert "得分" in page


@pytest.mark.django_db
def test_the_retrieval_test_page_shows_matched_words_not_index_characters(
    client: Client, eddie: User, law: Document
) -> None:
    logged_in(client, eddie)

    page = client.get(reverse("knowledge_test"), {"question": "延长工作时间每月最多多少小时"})

    passage = page.content.decode().split('data-testid="passage"')[1]
    matched = re.findall(r'<span class="tag">([^<]*)</span>', passage)
    assert "小时" in matched
    assert not [t for t in matched if t.startswith("@")], matched


@pytest.mark.django_db
def test_members_and_staff_may_not_use_any_curation_endpoint(
    client: Client,
    api: Callable[[User | None], APIClient],
    alice: User,
    sam: User,
    eddie: User,
    law: Document,
    categories: dict[str, Category],
) -> None:
    segment = law.segments.get(heading="第三条")
    faq = FaqEntry.objects.create(question="问", answer="答", category=categories["rights"])
    entry = LexiconEntry.objects.create(kind="term", phrase="职工之家")
    pages = [
        reverse("knowledge_document_new"),
        reverse("knowledge_document_edit", args=[law.pk]),
        reverse("knowledge_faq_edit", args=[faq.pk]),
        reverse("knowledge_faq_delete", args=[faq.pk]),
        reverse("knowledge_lexicon_delete", args=[entry.pk]),
    ]
    calls = [
        ("get", f"/api/v1/knowledge/documents/{law.pk}/"),
        ("post", f"/api/v1/knowledge/documents/{law.pk}/status/"),
        ("patch", f"/api/v1/knowledge/segments/{segment.pk}/"),
        ("put", f"/api/v1/knowledge/faq/{faq.pk}/"),
        ("delete", f"/api/v1/knowledge/faq/{faq.pk}/"),
        ("delete", f"/api/v1/knowledge/lexicon/{entry.pk}/"),
    ]
    for user in (alice, sam):
        logged_in(client, user)
        for page in pages:
            assert client.post(page, {"question": "改", "text": "改"}).status_code == 403, page
        for method, path in calls:
            response = getattr(api(user), method)(
                path, {"status": "archived", "text": "改"}, format="json"
            )
            assert response.status_code == 403, (user.username, method, path)
    law.refresh_from_db()
    segment.refresh_from_db()
    assert law.status == DocumentStatus.PUBLISHED and segment.text.startswith("第三条 法定")
    assert (
        FaqEntry.objects.filter(pk=faq.pk).exists()
        and LexiconEntry.objects.filter(pk=entry.pk).exists()
    )


@pytest.mark.django_db
def test_an_edited_segment_is_a_revision_of_its_document_with_its_author(
    client: Client, eddie: User, law: Document
) -> None:
    logged_in(client, eddie)
    third = law.segments.get(heading="第三条")
    edited = "法定休假日安排劳动者工作的，支付不低于工资的百分之三百的工资报酬，并另行安排补休。"

    form = {"text": edited, "enabled": "on"}
    response = client.post(reverse("knowledge_segment", args=[third.pk]), form)
    assert response.status_code == 302
    client.post(reverse("knowledge_segment", args=[third.pk]), form)  # nothing changes

    law.refresh_from_db()
    latest = law.revisions.order_by("-version").first()
    assert latest is not None and latest.author == eddie
    assert latest.note == "修改片段“第三条”"
    assert latest.version == law.version == 2 and "另行安排补休" in latest.body
    page = client.get(reverse("knowledge_document", args=[law.pk])).content.decode()
    assert "v2" in page and "修改片段" in page


@pytest.mark.django_db
def test_of_two_documents_of_one_name_a_cite_and_a_question_set_mean_the_published_one(
    eddie: User, law: Document, categories: dict[str, Category]
) -> None:
    from knowledge.services import accuracy
    from tests.knowledge.conftest import make_document

    draft = make_document(
        eddie,
        categories,
        body=MINI_LAW.replace("制定本法。", "制定本法（草稿）。"),
        status=DocumentStatus.DRAFT,
    )
    assert draft.title == law.title

    [cited] = curation.resolve_cites([f"《{law.title}》第三条"])
    assert cited.document_id == law.pk
    found = accuracy.find_documents([law.title])
    assert found[law.title].pk == law.pk
