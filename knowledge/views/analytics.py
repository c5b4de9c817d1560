"""Question analytics for editors under /knowledge/analytics/: charts, and the questions the
knowledge base could not answer or answered badly, each one click from the fix."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from knowledge import charts
from knowledge.forms import AnalyticsFilterForm, FaqFromQuestionForm
from knowledge.models import AskedQuestion, Segment
from knowledge.retrieval import QueryError, search
from knowledge.services import analytics, curation
from portal import permissions
from portal.errors import PortalError
from portal.models import User
from portal.permissions import Perm

GROUPS_PER_PAGE = 20


def _back(request: HttpRequest) -> str:
    """Where the dashboard was (its filters and page), or the dashboard."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("knowledge_analytics")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    permissions.require_user(request, Perm.VIEW_ANALYTICS)
    filters = AnalyticsFilterForm.from_query(request.GET)
    scope = analytics.Scope(
        weeks=filters.value("weeks"),
        category_id=filters.value("category"),
        today=timezone.localdate(),
    )
    show = analytics.Pending(filters.value("show"))
    weeks = analytics.week_figures(scope)
    groups = Paginator(analytics.pending_groups(show, scope), GROUPS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    link = reverse("knowledge_analytics") + f"?weeks={scope.weeks}&category={{key}}"
    return render(
        request,
        "knowledge/analytics.html",
        {
            "filters": filters,
            "scope": scope,
            "show": show,
            "categories_chart": charts.tally_bars(
                _("各分类提问量"), analytics.category_tallies(scope), href=link
            ),
            "topics_chart": charts.tally_bars(_("提问最多的主题"), analytics.topic_tallies(scope)),
            "questions_chart": charts.weekly_questions(weeks),
            "abstention_chart": charts.weekly_abstention(weeks),
            "totals": {
                "questions": sum(w.questions for w in weeks),
                "abstained": sum(w.abstained for w in weeks),
                "down": sum(w.down for w in weeks),
            },
            "not_yet_grouped": analytics.not_yet_grouped(scope),
            "pending_counts": analytics.pending_counts(scope),
            "uncovered": analytics.uncovered_concepts(scope),
            "page": groups,
            "groups": analytics.describe_groups(show, scope, groups.object_list),
            "here": request.get_full_path(),
        },
    )


@login_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    permissions.require_user(request, Perm.VIEW_ANALYTICS)
    analytics.schedule_refresh()
    messages.success(request, _("已开始刷新，主题和每周统计稍后更新，请过一会儿再刷新本页。"))
    return redirect(_back(request))


@login_required
@require_POST
def mark_handled(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.VIEW_ANALYTICS, Perm.CURATE_KNOWLEDGE)
    asked = get_object_or_404(AskedQuestion, pk=pk)
    try:
        count = analytics.mark_handled(editor, asked, whole_topic=bool(request.POST.get("topic")))
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已将 %(n)d 条提问标记为已处理。") % {"n": count})
    return redirect(_back(request))


@login_required
def faq_from_question(request: HttpRequest, pk: int) -> HttpResponse:
    editor = permissions.require_user(request, Perm.VIEW_ANALYTICS, Perm.CURATE_KNOWLEDGE)
    asked = get_object_or_404(
        AskedQuestion.objects.select_related("topic", "segment__document", "answer"), pk=pk
    )
    initial = {
        "question": asked.text[:300],
        "variants": "\n".join(analytics.suggested_variants(asked)),
        "category": asked.category_id or (asked.topic.category_id if asked.topic else None),
        "cites": curation.cite_label(asked.segment) if asked.segment else "",
    }
    form = FaqFromQuestionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            faq = analytics.faq_from_question(
                editor,
                asked,
                question=data["question"],
                answer=data["answer"],
                category=data["category"],
                segment_ids=[s.pk for s in curation.resolve_cites(data["cites"].splitlines())],
                variants=data["variants"].splitlines(),
            )
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("已发布常见问题“%(q)s”，职工再问时会找到它。") % {"q": faq.question},
            )
            return redirect(_back(request))
    return render(
        request,
        "knowledge/analytics_faq.html",
        {
            "form": form,
            "asked": asked,
            "cited": asked.answer.citations if asked.answer else [],
            "suggestions": _suggestions(asked, editor),
            "next": _back(request),
        },
    )


def _suggestions(asked: AskedQuestion, editor: User) -> list[tuple[str, Segment]]:
    """What the knowledge base finds for the question now, as the FAQ form names segments."""
    try:
        found = search(asked.resolved or asked.text, k=5, user=editor)
    except QueryError:
        return []
    by_id = Segment.objects.select_related("document").in_bulk(
        [p.segment_id for p in found.passages]
    )
    return [
        (curation.cite_label(by_id[p.segment_id]), by_id[p.segment_id])
        for p in found.passages
        if p.segment_id in by_id
    ]
