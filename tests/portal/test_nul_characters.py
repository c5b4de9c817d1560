"""A NUL character (U+0000) in a request is refused with 400 before any view sees it: PostgreSQL
can neither store nor compare it in text. File contents may hold NUL bytes; only the fields
around them are checked."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.multipartparser import MultiPartParser
from django.test import AsyncClient, Client, RequestFactory
from django.urls import URLPattern, URLResolver
from rest_framework.test import APIClient

from knowledge.models import Category, Document, LexiconEntry
from knowledge.seed import ensure_categories
from knowledge.services import curation
from portal.auth import issue_token
from portal.middleware import _refused_unread
from portal.models import User

DOCUMENTS = "/api/v1/knowledge/documents/"
LAW = "第一条 用人单位应当按时足额支付劳动者工资。\n第二条 劳动者有权参加工会。"


def refused_for_the_api(response) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "nul_character"
    assert "空字符" in body["detail"]


def refused_as_a_page(response) -> None:
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "空字符" in response.content.decode()


@pytest.fixture
def categories(db: None) -> dict[str, Category]:
    return ensure_categories()


@pytest.fixture
def editor_api(eddie: User, categories) -> APIClient:
    """Signed in with a real token: the middleware looks at the credentials a request carries
    (force_authenticate sends none)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_token(eddie).key}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"category": "rights\u0000"},
        {"title": "工资\u0000支付"},
        {"tags": ["加班", "\u0000"]},
        {"source": "\u0000"},
    ],
    ids=["category", "title", "tags", "source"],
)
def test_json_with_a_nul_anywhere_is_refused_and_nothing_is_written(
    editor_api: APIClient, fields: dict[str, object]
) -> None:
    data = {"category": "rights", "title": "工资支付", "body": LAW, **fields}
    refused_for_the_api(editor_api.post(DOCUMENTS, data, format="json"))
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_a_raw_nul_byte_in_json_is_refused(editor_api: APIClient) -> None:
    body = b'{"category": "rights", "title": "a\x00b", "body": "x"}'
    refused_for_the_api(editor_api.post(DOCUMENTS, body, content_type="application/json"))
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(editor_api: APIClient) -> None:
    title = "路径 C:\\u0000 的说明"  # a backslash, then the letters u0000
    response = editor_api.post(
        DOCUMENTS, {"category": "rights", "title": title, "body": LAW}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert Document.objects.get().title == title


@pytest.mark.django_db
@pytest.mark.parametrize("encoded", [b"phrase=%E5%8A%A0%E7%8F%AD%00", b"phrase=\x00"])
def test_a_form_with_a_nul_is_refused_and_nothing_is_written(
    client: Client, eddie: User, encoded: bytes
) -> None:
    client.force_login(eddie)
    response = client.post(
        "/knowledge/lexicon/",
        b"kind=term&" + encoded,
        content_type="application/x-www-form-urlencoded",
    )
    refused_as_a_page(response)
    assert not LexiconEntry.objects.exists()


@pytest.mark.django_db
def test_a_query_string_with_a_nul_is_refused(
    editor_api: APIClient, client: Client, eddie: User, ada: User
) -> None:
    refused_for_the_api(editor_api.get(DOCUMENTS, {"status": "\u0000"}))
    client.force_login(eddie)
    refused_as_a_page(client.get("/knowledge/?q=%00"))
    client.force_login(ada)
    refused_as_a_page(client.get("/admin/knowledge/document/?q=%00"))


@pytest.mark.django_db
def test_a_path_with_a_nul_is_refused(editor_api: APIClient, client: Client) -> None:
    refused_for_the_api(editor_api.get(f"{DOCUMENTS}%00/"))
    refused_as_a_page(client.get("/beta/%00/"))


@pytest.mark.django_db
def test_a_token_or_a_session_cookie_with_a_nul_is_refused(
    client: Client, categories: dict[str, Category]
) -> None:
    refused_for_the_api(client.get(DOCUMENTS, HTTP_AUTHORIZATION="Token abc\u0000def"))
    client.cookies["sessionid"] = "abcdefgh\u0000ijk"
    refused_as_a_page(client.get("/"))


@pytest.mark.django_db
def test_a_multipart_field_with_a_nul_is_refused_and_nothing_is_written(
    editor_api: APIClient,
) -> None:
    upload = SimpleUploadedFile("law.txt", LAW.encode())
    response = editor_api.post(
        DOCUMENTS,
        {"category": "rights", "title": "工资\u0000", "file": upload},
        format="multipart",
    )
    refused_for_the_api(response)
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_nul_bytes_inside_an_uploaded_file_are_its_content_not_a_refusal(
    editor_api: APIClient,
) -> None:
    upload = SimpleUploadedFile("law.txt", LAW.encode() + b"\x00\x00")
    response = editor_api.post(
        DOCUMENTS, {"category": "rights", "title": "工资支付", "file": upload}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    assert "\x00" not in Document.objects.get().body


@pytest.mark.django_db
def test_an_upload_past_the_limit_is_still_cut_off_with_its_own_message(
    editor_api: APIClient, settings
) -> None:
    settings.KNOWLEDGE_MAX_UPLOAD_MB = 1
    upload = SimpleUploadedFile("big.txt", b"a" * (2 * 1024 * 1024))
    response = editor_api.post(
        DOCUMENTS, {"category": "rights", "title": "大文件", "file": upload}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_the_async_ask_endpoint_refuses_a_nul_too() -> None:
    async def ask() -> tuple[int, dict[str, object]]:
        response = await AsyncClient().post(
            "/api/v1/ask/",
            json.dumps({"question": "工资\u0000怎么算"}),
            content_type="application/json",
        )
        return response.status_code, json.loads(response.content)

    status, body = async_to_sync(ask)()
    assert status == 400 and body["code"] == "nul_character"


@pytest.mark.django_db
def test_a_multipart_field_with_a_nul_is_refused_in_a_put_too(
    editor_api: APIClient, eddie: User, categories: dict[str, Category]
) -> None:
    faq = curation.save_faq(
        question="工资怎么算", answer="按劳动合同。", category=categories["rights"], author=eddie
    )
    data = {"question": "工资怎么算", "answer": "改了。", "category": "rights\u0000"}

    # Django parses the forms of POSTs only; DRF reads those of PUT and PATCH too.
    response = editor_api.put(f"/api/v1/knowledge/faq/{faq.pk}/", data, format="multipart")

    refused_for_the_api(response)
    faq.refresh_from_db()
    assert faq.answer == "按劳动合同。"
    # The same form without the NUL still reaches the view whole.
    data["category"] = "rights"
    response = editor_api.put(f"/api/v1/knowledge/faq/{faq.pk}/", data, format="multipart")
    assert response.status_code == 200, response.json()
    faq.refresh_from_db()
    assert faq.answer == "改了。"


# A file part whose base64 encoding does not decode: Django gives up half-way through the body.
BROKEN_FORM = (
    b'--x\r\nContent-Disposition: form-data; name="title"\r\n\r\nwage\r\n'
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="law.txt"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--x--\r\n"
)
BROKEN_FORM_TYPE = "multipart/form-data; boundary=x"


@pytest.mark.django_db
def test_an_unreadable_multipart_form_is_a_parse_error_in_the_api(editor_api: APIClient) -> None:
    response = editor_api.post(DOCUMENTS, BROKEN_FORM, content_type=BROKEN_FORM_TYPE)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "parse_error"
    assert "无法解析" in body["detail"]
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_an_unreadable_multipart_form_is_a_plain_400_page_elsewhere(
    client: Client, eddie: User
) -> None:
    client.force_login(eddie)
    response = client.post("/knowledge/lexicon/", BROKEN_FORM, content_type=BROKEN_FORM_TYPE)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "无法解析" in response.content.decode()
    assert not LexiconEntry.objects.exists()


@pytest.fixture
def parsed_forms(monkeypatch: pytest.MonkeyPatch) -> list[MultiPartParser]:
    """The multipart forms parsed, by the middleware, Django or DRF (all use Django's parser)."""
    parsed: list[MultiPartParser] = []
    parse = MultiPartParser.parse

    def counting(parser: MultiPartParser) -> object:
        parsed.append(parser)
        return parse(parser)

    monkeypatch.setattr(MultiPartParser, "parse", counting)
    return parsed


def a_form_with_a_nul() -> dict[str, object]:
    upload = SimpleUploadedFile("law.txt", LAW.encode())
    return {"category": "rights", "title": "工资\u0000", "file": upload}


@pytest.mark.django_db
def test_an_anonymous_multipart_post_to_the_api_is_refused_without_parsing_its_form(
    categories: dict[str, Category], parsed_forms: list[MultiPartParser]
) -> None:
    response = APIClient().post(DOCUMENTS, a_form_with_a_nul(), format="multipart")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert parsed_forms == []


@pytest.mark.django_db
def test_a_multipart_field_with_a_nul_is_refused_with_a_session_too(
    client: Client, eddie: User, categories: dict[str, Category]
) -> None:
    client.force_login(eddie)
    refused_for_the_api(client.post(DOCUMENTS, a_form_with_a_nul()))
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_an_anonymous_multipart_post_to_the_token_exchange_is_still_checked() -> None:
    form = {"username": "eddie\u0000", "password": "x"}
    refused_for_the_api(APIClient().post("/api/v1/auth/token/", form, format="multipart"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/accounts/register/", "/accounts/activate/", "/admin/login/"]
)
def test_an_anonymous_multipart_post_to_a_sign_in_form_is_still_checked(path: str) -> None:
    # Their pages send urlencoded forms, but the views read a multipart one all the same.
    form = {"username": "eddie\u0000", "member_no": "\u0000", "password": "x"}
    refused_as_a_page(Client().post(path, form))


def _api_paths(patterns: list[URLPattern | URLResolver], prefix: str) -> list[str]:
    paths = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            paths += _api_paths(pattern.url_patterns, route)
        else:
            paths.append(re.sub(r"<int:\w+>", "1", re.sub(r"<slug:\w+>", "x", route)))
    return paths


@pytest.mark.django_db
def test_every_api_view_left_unread_refuses_an_anonymous_caller_first(
    parsed_forms: list[MultiPartParser],
) -> None:
    """What the middleware relies on when it leaves an anonymous caller's form unparsed."""
    from portal.urls import api_v1

    unread = [
        path
        for path in _api_paths(api_v1, "/api/v1/")
        if _refused_unread(RequestFactory().post(path, {"title": "x"}))
    ]
    assert len(unread) > 10
    for path in unread:
        response = APIClient().post(path, a_form_with_a_nul(), format="multipart")
        assert response.status_code == 401, path
    assert parsed_forms == []
