"""The accuracy page (命中率) under /knowledge/accuracy/: question sets, their runs in the
background, the figures overall and per category, and what changed since the run before."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from knowledge.models import AccuracyRun, AskedQuestion, QuestionSet, Segment, Verdict
from knowledge.services import accuracy
from knowledge.views.analytics import _back, _suggestions
from portal import jobs, permissions
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.permissions import Perm

RESULTS_PER_PAGE = 50
RUNS_SHOWN = 20


@login_required
def sets(request: HttpRequest) -> HttpResponse:
    """The sets with their latest figures, and the import form."""
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    error = created_error = ""
    if request.method == "POST" and request.POST.get("action") == "create":
        try:
            made = accuracy.create_set(editor, request.POST.get("name", ""))
        except PortalError as exc:
            created_error = exc.message
        else:
            messages.success(
                request,
                _("已新建问题集“%(name)s”。可在“提问分析”里把职工的提问加入。")
                % {"name": made.name},
            )
            return redirect("knowledge_accuracy_set", pk=made.pk)
    elif request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise accuracy.AccuracyError(_("请选择一个 JSONL 文件。"))
            target = request.POST.get("set", "")
            question_set = (
                get_object_or_404(QuestionSet, pk=int(target)) if target.isdigit() else None
            )
            report = accuracy.import_questions(
                editor,
                text=accuracy.decode_upload(upload.read(accuracy.MAX_FILE_BYTES + 1)),
                name=request.POST.get("name", ""),
                question_set=question_set,
            )
        except PortalError as exc:
            error = exc.message
        else:
            messages.success(request, _("已导入 %(n)d 个问题。") % {"n": report.imported})
            for number, what in report.unknown[: accuracy.MAX_REPORTED]:
                messages.warning(
                    request, _("第 %(line)d 行：%(what)s") % {"line": number, "what": what}
                )
            return redirect("knowledge_accuracy_set", pk=report.question_set.pk)
    slim = AccuracyRun.objects.order_by("-id").only(
        "id", "question_set_id", "status", "created_at", "finished_at", "figures", "done", "total"
    )
    question_sets = list(
        accuracy.sets_for_list().prefetch_related(Prefetch("runs", slim, to_attr="run_list"))
    )
    for item in question_sets:
        runs: list[AccuracyRun] = item.run_list
        item.active = next((r for r in runs if r.is_active), None)  # type: ignore[attr-defined]
        latest = next((r for r in runs if r.status == jobs.JobStatus.SUCCEEDED), None)
        item.latest = latest  # type: ignore[attr-defined]
        item.row = _row("", latest.figures) if latest else None  # type: ignore[attr-defined]
    return render(
        request,
        "knowledge/accuracy.html",
        {
            "sets": question_sets,
            "error": error,
            "created_error": created_error,
            "new_name": request.POST.get("name", "") if created_error else "",
            "max_questions": accuracy.MAX_QUESTIONS,
            "name": "" if created_error else request.POST.get("name", ""),
        },
    )


def percent(value: object) -> str:
    return f"{float(value) * 100:.1f}%" if isinstance(value, int | float) else "—"


def _row(label: str, figures: dict[str, object]) -> dict[str, object]:
    return {
        "label": label,
        "questions": figures.get("questions", 0),
        "answerable": figures.get("answerable", 0),
        **{
            key: percent(figures.get(key))
            for key in ("hit_at_1", "hit_at_3", "abstain_recall", "false_abstain")
        },
    }


def figure_rows(run: AccuracyRun) -> list[dict[str, object]]:
    """The run's figures as the table shows them: overall first, then each category."""
    rows = [_row(_("全部"), run.figures)]
    rows += [_row(name, figures) for name, figures in run.by_category.items()]
    return rows


def _run_context(run: AccuracyRun | None) -> dict[str, object]:
    if run is None or run.status != jobs.JobStatus.SUCCEEDED:
        return {"run": run, "previous": None, "changes": [], "rows": []}
    previous, changed = accuracy.changes(run)
    return {"run": run, "previous": previous, "changes": changed, "rows": figure_rows(run)}


@login_required
def question_set(request: HttpRequest, pk: int) -> HttpResponse:
    """One set: its runs (the latest with its figures and changes) and its questions."""
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    chosen = get_object_or_404(QuestionSet, pk=pk)
    runs = list(chosen.runs.order_by("-id")[:RUNS_SHOWN])
    for r in runs:
        r.row = _row("", r.figures) if r.figures else None  # type: ignore[attr-defined]
    latest = next((r for r in runs if r.status == jobs.JobStatus.SUCCEEDED), None)
    active = next((r for r in runs if r.is_active), None)
    questions = Paginator(
        chosen.questions.select_related("document").order_by("id"), RESULTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "knowledge/accuracy_set.html",
        {
            "set": chosen,
            "runs": runs,
            "active": active,
            "page": questions,
            **_run_context(latest),
        },
    )


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: its figures, its changes since the run before, and every question's outcome."""
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    run = get_object_or_404(AccuracyRun.objects.select_related("question_set"), pk=pk)
    verdict = request.GET.get("verdict", "")
    results = run.results.order_by("id")
    if verdict in Verdict.values:
        results = results.filter(verdict=verdict)
    page = Paginator(results, RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "knowledge/accuracy_run.html",
        {
            "page": page,
            "verdicts": Verdict.choices,
            "verdict": verdict,
            **_run_context(run),
        },
    )


@login_required
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    """A run's progress as JSON, for the page's polling."""
    permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    run = get_object_or_404(AccuracyRun, pk=pk)
    return JsonResponse(
        {"status": run.status, "done": run.done, "total": run.total, "percent": run.percent}
    )


@login_required
@require_POST
def start(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    chosen = get_object_or_404(QuestionSet, pk=pk)
    try:
        accuracy.start_run(editor, chosen)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("测试已开始，完成后本页显示结果。"))
    return redirect("knowledge_accuracy_set", pk=chosen.pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    chosen = get_object_or_404(QuestionSet, pk=pk)
    accuracy.delete_set(editor, chosen, origin=AuditOrigin.of(request))
    messages.success(request, _("已删除问题集“%(name)s”。") % {"name": chosen.name})
    return redirect("knowledge_accuracy")


@login_required
def from_question(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a member's question from the analytics lists to a set, with the article that
    answers it, or as one the knowledge base should decline."""
    editor = permissions.require_user(request, Perm.CURATE_KNOWLEDGE)
    asked = get_object_or_404(AskedQuestion.objects.select_related("category"), pk=pk)
    question_sets = list(QuestionSet.objects.order_by("name"))
    error = ""
    if request.method == "POST":
        target = request.POST.get("set", "")
        answer = request.POST.get("answer", "")
        chosen = next((s for s in question_sets if str(s.pk) == target), None)
        segment = (
            Segment.objects.select_related("document").filter(pk=int(answer)).first()
            if answer.isdigit()
            else None
        )
        if chosen is None:
            error = _("请选择问题集。")
        elif answer != "abstain" and segment is None:
            error = _("请选择回答这个问题的条目，或选择“知识库不应回答”。")
        else:
            try:
                accuracy.add_from_question(editor, chosen, asked, segment=segment)
            except PortalError as exc:
                error = exc.message
            else:
                messages.success(request, _("已加入问题集“%(name)s”。") % {"name": chosen.name})
                return redirect(_back(request))
    return render(
        request,
        "knowledge/accuracy_add.html",
        {
            "asked": asked,
            "sets": question_sets,
            "suggestions": _suggestions(asked, editor),
            "error": error,
            "next": _back(request),
        },
    )
