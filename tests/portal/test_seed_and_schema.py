"""Demo data from what the project ships, and the API's OpenAPI schema and docs page."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

from knowledge.models import Category, Document, FaqEntry, LexiconEntry
from portal import permissions
from portal.models import BetaEnrolment, User


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_gives_the_demo_member_a_place(
    settings, capsys, tmp_path
) -> None:
    settings.KNOWLEDGE_CORPUS_DIR = str(tmp_path)  # an empty corpus: quick, and no ../shared
    settings.DEMO_PASSWORD = "demo-password-for-tests"
    call_command("seed_demo")
    knowledge = (LexiconEntry.objects.count(), FaqEntry.objects.count(), Document.objects.count())
    call_command("seed_demo")
    assert knowledge == (
        LexiconEntry.objects.count(),
        FaqEntry.objects.count(),
        Document.objects.count(),
    )
    assert knowledge[0] > 1000 and knowledge[1] > 800 and knowledge[2] == 12  # the guides
    assert Category.objects.count() == 13
    assert set(User.objects.values_list("username", flat=True)) == {
        "member",
        "staff",
        "editor",
        "admin",
    }
    member = User.objects.get(username="member")
    assert member.check_password("demo-password-for-tests")
    assert BetaEnrolment.objects.get(user=member).status == "accepted"
    assert permissions.may_use_ai(member)


@pytest.mark.django_db
def test_seed_demo_prints_a_generated_password_that_works(settings, capsys, tmp_path) -> None:
    settings.KNOWLEDGE_CORPUS_DIR = str(tmp_path)
    settings.DEMO_PASSWORD = None
    call_command("seed_demo")
    out = capsys.readouterr().out
    password = out.rsplit(": ", 1)[1].strip()
    assert User.objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_the_schema_describes_the_beta_and_token_endpoints(client: Client) -> None:
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/auth/token/", "/api/v1/beta/", "/api/v1/beta/{slug}/enroll/"):
        assert path in paths


@pytest.mark.django_db
def test_the_schema_describes_asking_although_it_is_not_a_drf_view(client: Client) -> None:
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    ask = schema["paths"]["/api/v1/ask/"]["post"]
    assert "text/event-stream" in ask["responses"]["200"]["content"]
    assert set(schema["components"]["schemas"]["AskAnswer"]["properties"]) >= {
        "answer",
        "citations",
        "timings",
        "mode",
    }
    schemes = set(schema["components"]["securitySchemes"])
    assert {name for option in ask["security"] for name in option} <= schemes
    assert "/api/v1/conversations/{id}/" in schema["paths"]
    assert "/api/v1/messages/{id}/feedback/" in schema["paths"]


@pytest.mark.django_db
def test_the_docs_page_loads_its_files_from_the_portal_itself(client: Client) -> None:
    page = client.get("/api/v1/docs/").content.decode()
    assert "swagger" in page.lower()
    assert "cdn." not in page and "unpkg" not in page
