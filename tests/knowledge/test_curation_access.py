"""The curation services check who acts themselves, whichever page, API, admin action, command
or job calls them; search and the 命中测试 page keep their readers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from knowledge.models import Category, Document, DocumentStatus, FaqEntry, LexiconEntry
from knowledge.services import curation
from portal.errors import NotPermitted
from portal.models import AuditAction, AuditEvent, BetaProgramme, User
from portal.services import beta
from tests.knowledge.conftest import MINI_LAW


@pytest.mark.django_db
def test_a_member_may_not_create_a_document_through_the_service(
    alice: User, categories: dict[str, Category]
) -> None:
    fields = curation.DocumentFields(title="测试法", category=categories["rights"], body=MINI_LAW)
    with pytest.raises(NotPermitted):
        curation.create_document(fields, author=alice)
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_staff_may_not_publish_a_document_through_the_service(
    sam: User, eddie: User, categories: dict[str, Category]
) -> None:
    fields = curation.DocumentFields(title="测试法", category=categories["rights"], body=MINI_LAW)
    draft = curation.create_document(fields, author=eddie)
    with pytest.raises(NotPermitted):
        curation.set_status(draft, DocumentStatus.PUBLISHED, author=sam)
    draft.refresh_from_db()
    assert draft.status == DocumentStatus.DRAFT


@pytest.mark.django_db
def test_a_member_may_not_save_an_faq_through_the_service(
    alice: User, law: Document, categories: dict[str, Category]
) -> None:
    with pytest.raises(NotPermitted):
        curation.save_faq(
            question="加班费怎么算？",
            answer="按规定。",
            category=categories["rights"],
            author=alice,
        )
    assert not FaqEntry.objects.exists()


@pytest.mark.django_db
def test_staff_may_not_add_to_the_lexicon_through_the_service(sam: User) -> None:
    with pytest.raises(NotPermitted):
        curation.save_lexicon_entry(kind="term", phrase="工伤认定", author=sam)
    assert not LexiconEntry.objects.exists()


@pytest.mark.django_db
def test_a_command_or_job_acting_as_nobody_may_curate(categories: dict[str, Category]) -> None:
    fields = curation.DocumentFields(title="测试法", category=categories["rights"], body=MINI_LAW)
    assert curation.create_document(fields, author=None).pk


@pytest.mark.django_db
def test_the_search_api_refuses_a_member_who_may_not_read_with_its_published_code(
    api: Callable[[User | None], APIClient], charlie: User, law: Document
) -> None:
    response = api(charlie).post("/api/v1/knowledge/search/", {"question": "加班"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["documents/", "faq/", "lexicon/"])
def test_the_curation_api_refuses_members_and_staff_with_its_published_code(
    api: Callable[[User | None], APIClient], alice: User, sam: User, path: str
) -> None:
    for who in (alice, sam):
        response = api(who).get(f"/api/v1/knowledge/{path}")
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_the_search_api_asks_a_stranger_to_sign_in(
    api: Callable[[User | None], APIClient], law: Document
) -> None:
    response = api(None).post("/api/v1/knowledge/search/", {"question": "加班"}, format="json")
    assert response.status_code == 401


@pytest.mark.django_db
def test_a_member_who_may_use_ai_searches_through_the_api(
    api: Callable[[User | None], APIClient],
    alice: User,
    law: Document,
    open_programme: BetaProgramme,
) -> None:
    beta.enrol(alice, open_programme)
    response = api(alice).post("/api/v1/knowledge/search/", {"question": "加班"}, format="json")
    assert response.status_code == 200


@pytest.mark.django_db
def test_the_retrieval_test_page_stays_for_editors_even_for_members_who_may_search(
    client: Client, alice: User, open_programme: BetaProgramme
) -> None:
    beta.enrol(alice, open_programme)
    client.force_login(alice)
    assert client.get(reverse("knowledge_test")).status_code == 403


# --- deletions are audited -------------------------------------------------------------------


def make_faq(editor: User, categories: dict[str, Category]) -> FaqEntry:
    return curation.save_faq(
        question="加班费怎么算？",
        answer="按规定支付。",
        category=categories["rights"],
        author=editor,
    )


@pytest.mark.django_db
def test_an_editor_deleting_an_faq_leaves_an_audit_entry(
    client: Client, eddie: User, categories: dict[str, Category]
) -> None:
    faq = make_faq(eddie, categories)
    client.force_login(eddie)
    response = client.post(reverse("knowledge_faq_delete", args=[faq.pk]), REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.FAQ_DELETED)
    assert (event.actor, event.target, event.ip_address) == (eddie, "加班费怎么算？", "10.0.0.9")
    assert event.detail["answer"] == "按规定支付。"


@pytest.mark.django_db
def test_an_faq_deleted_through_the_api_leaves_an_audit_entry(
    api: Callable[[User | None], APIClient], eddie: User, categories: dict[str, Category]
) -> None:
    faq = make_faq(eddie, categories)
    assert api(eddie).delete(f"/api/v1/knowledge/faq/{faq.pk}/").status_code == 204
    event = AuditEvent.objects.get(action=AuditAction.FAQ_DELETED)
    assert (event.actor, event.target) == (eddie, "加班费怎么算？")


@pytest.mark.django_db
def test_an_admin_deleting_an_faq_in_the_admin_site_leaves_an_audit_entry(
    client: Client, ada: User, eddie: User, categories: dict[str, Category]
) -> None:
    faq = make_faq(eddie, categories)
    client.force_login(ada)
    response = client.post(f"/admin/knowledge/faqentry/{faq.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not FaqEntry.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.FAQ_DELETED)
    assert (event.actor, event.target) == (ada, "加班费怎么算？")


@pytest.mark.django_db
def test_a_member_may_not_delete_an_faq_through_the_service(
    alice: User, eddie: User, categories: dict[str, Category]
) -> None:
    faq = make_faq(eddie, categories)
    with pytest.raises(NotPermitted):
        curation.delete_faq(faq, actor=alice)
    assert FaqEntry.objects.filter(pk=faq.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.FAQ_DELETED).exists()


@pytest.mark.django_db
def test_an_editor_deleting_a_lexicon_entry_leaves_an_audit_entry(
    api: Callable[[User | None], APIClient], eddie: User
) -> None:
    entry = curation.save_lexicon_entry(
        kind="colloquial", phrase="炒鱿鱼", targets=["解除劳动合同"], author=eddie
    )
    assert api(eddie).delete(f"/api/v1/knowledge/lexicon/{entry.pk}/").status_code == 204
    event = AuditEvent.objects.get(action=AuditAction.LEXICON_DELETED)
    assert (event.actor, event.target) == (eddie, "炒鱿鱼")
    assert event.detail["targets"] == ["解除劳动合同"]


@pytest.mark.django_db
def test_deleting_lexicon_entries_in_the_admin_site_leaves_one_entry_each(
    client: Client, ada: User, eddie: User
) -> None:
    for phrase in ("炒鱿鱼", "被炒"):
        curation.save_lexicon_entry(
            kind="colloquial", phrase=phrase, targets=["解除劳动合同"], author=eddie
        )
    client.force_login(ada)
    response = client.post(
        "/admin/knowledge/lexiconentry/",
        {
            "action": "delete_selected",
            "_selected_action": list(LexiconEntry.objects.values_list("pk", flat=True)),
            "post": "yes",
        },
    )
    assert response.status_code == 302
    assert not LexiconEntry.objects.exists()
    events = AuditEvent.objects.filter(action=AuditAction.LEXICON_DELETED)
    assert {(e.actor, e.target) for e in events} == {(ada, "炒鱿鱼"), (ada, "被炒")}


@pytest.mark.django_db
def test_an_admin_deleting_documents_in_the_admin_site_leaves_an_audit_entry_each(
    client: Client, ada: User, eddie: User, categories: dict[str, Category]
) -> None:
    first = curation.create_document(
        curation.DocumentFields(title="测试法", category=categories["rights"], body=MINI_LAW),
        author=eddie,
    )
    second = curation.create_document(
        curation.DocumentFields(
            title="测试条例", category=categories["rights"], body="第一条 工会经费按月拨缴。"
        ),
        author=eddie,
    )
    client.force_login(ada)
    assert (
        client.post(f"/admin/knowledge/document/{first.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    response = client.post(
        "/admin/knowledge/document/",
        {"action": "delete_selected", "_selected_action": [second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not Document.objects.exists()
    events = AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DELETED)
    assert {(e.actor, e.target, e.detail["id"]) for e in events} == {
        (ada, "测试法", first.pk),
        (ada, "测试条例", second.pk),
    }


@pytest.mark.django_db
def test_a_member_may_not_delete_a_document_through_the_service(alice: User, law: Document) -> None:
    with pytest.raises(NotPermitted):
        curation.delete_documents([law.pk], actor=alice)
    assert Document.objects.filter(pk=law.pk).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DOCUMENT_DELETED).exists()
