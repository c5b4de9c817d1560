"""Export: what goes into the document (sections, citations, the AI label decided per draft),
the .docx read back, the PDF rendered by a worker and cached per revision. The layout itself is
writer.export's (the writer-export branch): those tests run once it is there."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import docx
import pypdf
import pytest
from django.core.files.storage import default_storage

from portal import aigc
from portal.jobs import JobStatus
from portal.models import User
from tests.fakes.openai import FakeOpenAI
from tests.waiting import wait_for
from tests.writer.conftest import OUTING_FORM, settled
from writer.models import Draft, DraftExport, WriterAction, WriterUsage
from writer.services import drafting, editing, exporting


def written(user: User) -> Draft:
    draft = drafting.create_draft(user, "spring-autumn-outing", OUTING_FORM)
    for section in draft.sections.all():
        drafting.run_section(section.pk)
    draft.refresh_from_db()
    return draft


def rendered(fetch: Callable[[], Any], what: str) -> Any:
    """The first answer of `fetch` that is not 202 (the PDF still being rendered)."""
    return wait_for(lambda: (r := fetch()).status_code != 202 and r, timeout=90, what=what)


@pytest.mark.django_db
def test_a_draft_written_with_no_model_carries_no_ai_label(templates: Any, sam: User) -> None:
    draft = written(sam)
    sections = list(draft.sections.all())
    assert exporting.ai_label(draft, sections, exporting.revision_key(draft, sections)) is None


@pytest.mark.django_db
def test_no_pdf_is_rendered_for_someone_who_may_no_longer_draft(
    templates: Any, sam: User, django_capture_on_commit_callbacks: Any
) -> None:
    draft = written(sam)
    with django_capture_on_commit_callbacks(execute=False):
        export = exporting.request_pdf(sam, draft.pk)
    sam.is_active = False  # disabled while the PDF waited for a worker
    sam.save(update_fields=["is_active"])

    exporting.run_pdf(export.pk)

    export.refresh_from_db()
    assert export.status == JobStatus.FAILED and export.error and not export.file


@pytest.mark.django_db(transaction=True)
def test_a_model_written_draft_carries_the_implicit_label_and_a_new_key_per_revision(
    templates: Any, sam: User, writer_model: FakeOpenAI
) -> None:
    draft = written(sam)
    sections = list(draft.sections.all())
    key = exporting.revision_key(draft, sections)
    label = exporting.ai_label(draft, sections, key)
    assert label is not None and label["Label"] == "1" and aigc.is_ours(label)
    editing.save_section(sam, draft.pk, 1, content="改过", version=sections[0].version)
    assert exporting.revision_key(draft, list(draft.sections.all())) != key


@pytest.mark.django_db
def test_the_docx_reads_back_with_title_headings_and_no_label_without_a_model(
    templates: Any, sam: User, api: Any
) -> None:
    draft = written(sam)
    response = api(sam).get(f"/api/v1/drafts/{draft.pk}/export/", {"format": "docx"})
    assert response.status_code == 200
    data = b"".join(response.streaming_content) if response.streaming else response.content
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert draft.title in text.replace("\n", "")  # the title may break across lines
    assert "一、活动目的" in text and "六、安全保障和工作要求" in text
    assert aigc.VISIBLE_TEXT not in text
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        custom = (
            package.read("docProps/custom.xml").decode()
            if "docProps/custom.xml" in package.namelist()
            else ""
        )
    assert "AIGC" not in custom
    assert WriterUsage.objects.filter(action=WriterAction.EXPORT_DOCX).count() == 1


@pytest.mark.django_db
def test_without_a_model_the_sources_are_listed_once_not_quoted_in_the_text(
    templates: Any, corpus: Any, sam: User, api: Any
) -> None:
    draft = written(sam)
    sections = list(draft.sections.order_by("position"))
    cited = [c for s in sections for c in s.citations]
    assert cited and all(c["text"] not in s.content for s in sections for c in s.citations)
    shown = api(sam).get(f"/api/v1/drafts/{draft.pk}/").json()["sections"][0]
    assert shown["citations"] and "<blockquote>" not in shown["html"]

    response = api(sam).get(f"/api/v1/drafts/{draft.pk}/export/", {"format": "docx"})

    lines = [p.text for p in docx.Document(io.BytesIO(response.content)).paragraphs]
    text = "\n".join(lines)
    assert "参考资料" not in text
    assert not any(c["text"][:30] in text for c in cited)
    # Each source once, under 附：参考依据 at the end, as a model-written draft lists them.
    labels = list(dict.fromkeys(str(c["label"]) for c in cited))
    assert all(text.count(label) == 1 for label in labels)
    sources = lines[lines.index("附：参考依据") + 1 :]
    assert sources == [f"{n}.{label}" for n, label in enumerate(labels, start=1)]


@pytest.mark.django_db(transaction=True)
def test_the_docx_of_a_model_written_draft_carries_both_labels(
    templates: Any, sam: User, api: Any, writer_model: FakeOpenAI
) -> None:
    draft = written(sam)
    response = api(sam).get(f"/api/v1/drafts/{draft.pk}/export/", {"format": "docx"})
    data = b"".join(response.streaming_content) if response.streaming else response.content
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert aigc.VISIBLE_TEXT in text
    with zipfile.ZipFile(io.BytesIO(data)) as package:
        assert "AIGC" in package.read("docProps/custom.xml").decode()


@pytest.mark.django_db(transaction=True)
def test_the_pdf_is_rendered_by_a_worker_cached_per_revision_and_labelled(
    celery_threads_worker: Any, templates: Any, sam: User, api: Any, writer_model: FakeOpenAI
) -> None:
    draft = settled(drafting.create_draft(sam, "spring-autumn-outing", OUTING_FORM).pk)
    url = f"/api/v1/drafts/{draft.pk}/export/"
    first = api(sam).get(url, {"format": "pdf"})
    assert first.status_code in (200, 202)
    response = rendered(lambda: api(sam).get(url, {"format": "pdf"}), "the PDF")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    assert reader.metadata is not None
    label = aigc.read_json(str(reader.metadata["/AIGC"]))
    assert label is not None and aigc.is_ours(label)
    assert DraftExport.objects.filter(draft=draft).count() == 1
    assert api(sam).get(url, {"format": "pdf"}).status_code == 200  # from the cache
    assert DraftExport.objects.filter(draft=draft).count() == 1
    # A cached PDF gone from the store is rendered again, never a broken download.
    default_storage.delete(DraftExport.objects.get(draft=draft).file)
    again = rendered(lambda: api(sam).get(url, {"format": "pdf"}), "the PDF rendered again")
    assert again.status_code == 200 and b"".join(again.streaming_content).startswith(b"%PDF")


@pytest.mark.django_db(transaction=True)
def test_the_pdf_page_waits_then_says_the_pdf_is_ready_and_downloads_it(
    celery_threads_worker: Any, templates: Any, sam: User, client: Any, writer_model: FakeOpenAI
) -> None:
    draft = settled(drafting.create_draft(sam, "spring-autumn-outing", OUTING_FORM).pk)
    url = f"/writer/drafts/{draft.pk}/export/pdf/"
    client.force_login(sam)
    first = client.get(url)
    # Rendering: the page asks again, as one that waits; a download would leave it as it is.
    assert first.status_code == 202 and "正在生成 PDF" in first.content.decode()
    assert f'url={url}?waiting=1"' in first.content.decode()
    ready = rendered(lambda: client.get(url, {"waiting": "1"}), "the PDF")
    page = ready.content.decode()
    # The waiting page now says the PDF is there, and its download starts from it.
    assert ready.status_code == 200 and "PDF 已生成" in page and "正在生成" not in page
    assert f'href="{url}"' in page and f'url={url}"' in page
    download = client.get(url)
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    # A .docx is never waited for: the same parameter on it still downloads the file.
    docx_file = client.get(f"/writer/drafts/{draft.pk}/export/docx/", {"waiting": "1"})
    assert docx_file["Content-Type"].startswith("application/vnd.openxmlformats")


@pytest.mark.django_db
def test_a_title_with_a_line_break_or_quotes_still_downloads(
    templates: Any, sam: User, api: Any
) -> None:
    form = {**OUTING_FORM, "unit": '虎门镇总工会\n"x"; filename=evil.html'}
    draft = drafting.create_draft(sam, "spring-autumn-outing", form)
    for section in draft.sections.all():
        drafting.run_section(section.pk)
    response = api(sam).get(f"/api/v1/drafts/{draft.pk}/export/", {"format": "docx"})
    assert response.status_code == 200
    header = response["Content-Disposition"]
    # One disposition, one quoted name, one encoded name: nothing the title held got out.
    assert "\n" not in header and "\r" not in header
    kind, plain, encoded = header.split(";")
    assert kind == "attachment" and plain.count('"') == 2 and encoded.startswith(" filename*=")


def test_citation_marks_are_renumbered_to_the_sources_listed_under_the_section() -> None:
    cited = [{"n": 3, "label": "《乙》第三条"}, {"n": 1, "label": "《甲》第一条"}]
    text, sources = exporting.numbered("先见[1]，再见[3]，未给出的[7]不动。", cited)
    assert (text, sources) == (
        "先见[1]，再见[2]，未给出的[7]不动。",
        ("《甲》第一条", "《乙》第三条"),
    )
