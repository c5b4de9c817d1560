"""Pages of the portal: parse the request, call a service, render the result."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST, require_safe

from portal import permissions, readiness
from portal.audit import AuditOrigin
from portal.celery import app as celery_app
from portal.errors import NotPermitted, PortalError, PortalErrorCode
from portal.forms import ActivationForm, LoginForm, RegistrationForm, RosterUploadForm
from portal.models import BetaProgramme, RosterImport
from portal.permissions import Perm
from portal.services import accounts, beta, roster
from portal.tasks import run_roster_import


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 403 page (handler403): the policy's reason, and, when the AI services were refused,
    what stands in the way and where to go, in the words Ask's page uses."""
    refusal = None
    if getattr(exception, "perm", None) in (Perm.USE_AI, Perm.READ_KNOWLEDGE):
        refusal = permissions.ai_refusal(request.user)
    reason = exception.message if isinstance(exception, NotPermitted) else ""
    return render(request, "403.html", {"reason": reason, "refusal": refusal}, status=403)


def home(request: HttpRequest) -> HttpResponse:
    user = permissions.user_or_none(request)
    programme = beta.current_programme()
    state = beta.programme_state(programme, user) if programme else None
    # A signed-in member who may not use the AI services is told why, as Ask tells them.
    refusal = permissions.ai_refusal(user) if user else None
    return render(request, "portal/home.html", {"state": state, "refusal": refusal})


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """What django-axes answers once a user name and address are locked out."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = _("登录失败次数过多，账户已暂时锁定，请 %(m)d 分钟后再试。") % {"m": minutes}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": PortalErrorCode.LOCKED_OUT}, status=429)
    form = LoginForm(request)
    return render(
        request, "registration/login.html", {"form": form, "locked_message": message}, status=429
    )


def _form_errors_from(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@sensitive_post_parameters("password", "password_again", "id_number")
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("profile")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            accounts.register_member(
                accounts.Registration(
                    username=data["username"],
                    password=data["password"],
                    real_name=data["real_name"],
                    id_number=data["id_number"],
                    member_no=data["member_no"],
                    union_unit=data["union_unit"],
                    phone=data["phone"],
                ),
                origin=AuditOrigin.of(request),
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, _("注册成功。所在工会审核实名信息后即可报名内测，请登录。"))
            return redirect("login")
    return render(request, "portal/register.html", {"form": form})


@sensitive_post_parameters("password", "password_again", "id_number")
def activate(request: HttpRequest) -> HttpResponse:
    """Members imported from the roster choose their password here."""
    if request.user.is_authenticated:
        return redirect("profile")
    form = ActivationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = accounts.activate_account(
                data["member_no"],
                data["id_number"],
                data["password"],
                origin=AuditOrigin.of(request),
            )
        except accounts.ActivationRefused as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:
            form.add_error("password", exc.messages)
        else:
            messages.success(
                request, _("账户已激活，用户名是 %(u)s，请登录。") % {"u": user.username}
            )
            return redirect("login")
    return render(request, "portal/activate.html", {"form": form})


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    user = permissions.require_user(request)
    enrolments = user.beta_enrolments.select_related("programme").order_by("-created_at")
    return render(
        request,
        "portal/profile.html",
        {
            "profile": getattr(user, "member_profile", None),
            "enrolments": enrolments,
            "enrol_refusal": permissions.enrol_refusal(user),
        },
    )


def beta_page(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    programme = get_object_or_404(BetaProgramme, slug=slug) if slug else beta.current_programme()
    user = permissions.user_or_none(request)
    state = beta.programme_state(programme, user) if programme else None
    refusal = None
    if programme and user and state and state.my_status is None:
        try:
            beta.check_may_enrol(user, programme, timezone.now())
        except beta.EnrolmentRefused as exc:
            refusal = exc.message
    return render(request, "portal/beta.html", {"state": state, "refusal": refusal})


@login_required
@require_POST
def beta_enrol(request: HttpRequest, slug: str) -> HttpResponse:
    programme = get_object_or_404(BetaProgramme, slug=slug)
    try:
        result = beta.enrol(
            permissions.require_user(request), programme, origin=AuditOrigin.of(request)
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        if not result.created:
            messages.info(request, _("您已报名过本次内测。"))
        elif result.status == "accepted":
            messages.success(request, _("报名成功，您已获得内测资格！"))
        else:
            messages.warning(request, _("名额已满，您已进入候补名单，有空余名额时按顺序递补。"))
    return redirect("beta_detail", slug=programme.slug)


@login_required
def members(request: HttpRequest) -> HttpResponse:
    actor = permissions.require_user(request, Perm.VERIFY_MEMBERS)
    members = permissions.verifiable_members(actor).select_related("member_profile", "union_unit")
    pending = members.filter(member_profile__verified_at=None).order_by("date_joined")
    verified = members.exclude(member_profile__verified_at=None).order_by(
        "-member_profile__verified_at"
    )
    return render(
        request,
        "portal/members.html",
        {
            "pending": Paginator(pending, 50).get_page(request.GET.get("page")),
            "verified": verified[:20],
        },
    )


@login_required
@require_POST
def member_verify(request: HttpRequest, user_id: int) -> HttpResponse:
    actor = permissions.require_user(request, Perm.VERIFY_MEMBERS)
    member = get_object_or_404(permissions.verifiable_members(actor), pk=user_id)
    try:
        profile = accounts.verify_member(actor, member, origin=AuditOrigin.of(request))
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已认证：%(name)s") % {"name": profile.real_name})
    return redirect("members")


@login_required
def roster_upload(request: HttpRequest) -> HttpResponse:
    actor = permissions.require_user(request, Perm.IMPORT_ROSTER)
    form = RosterUploadForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows = roster.parse_roster(roster.decode(upload.read()))
        except roster.RosterInvalid as exc:
            errors = [exc.message, *(str(e) for e in exc.errors)]
        else:
            with transaction.atomic():
                job = RosterImport.objects.create(
                    uploaded_by=actor,
                    uploaded_from=AuditOrigin.of(request).address,
                    file_name=upload.name[:200],
                    rows=[r.to_json() for r in rows],
                )
                transaction.on_commit(lambda: run_roster_import.delay(job.pk))
            return redirect("roster_status", pk=job.pk)
    recent = RosterImport.objects.select_related("uploaded_by")[:10]
    return render(
        request, "portal/roster_upload.html", {"form": form, "errors": errors, "recent": recent}
    )


@login_required
@never_cache
def roster_status(request: HttpRequest, pk: int) -> HttpResponse:
    permissions.require_user(request, Perm.IMPORT_ROSTER)
    job = get_object_or_404(RosterImport, pk=pk)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse(
            {
                "status": job.status,
                "status_label": job.get_status_display(),
                "created": job.created_count,
                "updated": job.updated_count,
                "unchanged": job.unchanged_count,
                "errors": job.errors,
            }
        )
    return render(request, "portal/roster_status.html", {"job": job})


@require_safe
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin's): the portal's.
    Not a permanent redirect: browsers would keep it after the icon's hashed name changed."""
    return redirect(static("favicon.svg"))


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Readiness of the parts a request needs: the database, the broker and this process's
    retrieval (warm: `portal.readiness`). 503 with "starting" while the process warms up."""
    parts: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        parts["database"] = "ok"
    except Exception as exc:  # any failure means "down"; say which
        parts["database"] = f"error: {type(exc).__name__}"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        parts["broker"] = "ok"
    except Exception as exc:
        parts["broker"] = f"error: {type(exc).__name__}"
    warm = readiness.state()
    if warm.status == readiness.READY:
        parts["retrieval"] = "ok"
    else:
        # Not warm yet: say so (and warm up, where no server's startup has begun it).
        warm = readiness.warm_in_background()
        parts["retrieval"] = (
            f"error: {warm.detail}" if warm.status == readiness.FAILED else "warming"
        )
    healthy = all(value == "ok" for value in parts.values())
    starting = parts["retrieval"] == "warming" and all(
        value == "ok" for key, value in parts.items() if key != "retrieval"
    )
    status = "ok" if healthy else "starting" if starting else "error"
    response = JsonResponse({"status": status, **parts}, status=200 if healthy else 503)
    if starting:
        response["Retry-After"] = "1"
    return response
