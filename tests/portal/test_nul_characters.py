"""A NUL character (U+0000) in a request is refused with 400 before any view sees it: PostgreSQL
can neither store nor compare it in text. File contents may hold NUL bytes; only the fields
around them are checked."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from asgiref.sync import async_to_sync
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from knowledge.models import Category, Document, LexiconEntry
from knowledge.seed import ensure_categories
from knowledge.services import curation
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
def editor_api(api: Callable[[User | None], APIClient], eddie: User, categories) -> APIClient:
    return api(eddie)


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
