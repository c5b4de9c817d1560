"""Admin pages for providers, models, feature routes, the meter and the sensitive-word list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal import permissions
from portal.ai import services
from portal.ai.models import (
    AIModel,
    FeatureSetting,
    Outcome,
    Provider,
    Route,
    SensitiveTerm,
    Usage,
)
from portal.audit import AuditOrigin


class ProviderForm(forms.ModelForm[Provider]):
    base_url = forms.URLField(label=_("接口地址"), max_length=300, assume_scheme="https")
    # Write-only: the stored key is never sent back to the browser.
    api_key = forms.CharField(
        label=_("新的API密钥"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("留空则保留现有密钥。混元生图填写 SecretId:SecretKey。"),
    )
    clear_api_key = forms.BooleanField(label=_("清除现有密钥"), required=False)

    class Meta:
        model = Provider
        fields = ("name", "kind", "base_url", "is_local", "enabled", "connect_timeout", "options")

    def clean_base_url(self) -> str:
        base_url: str = self.cleaned_data["base_url"]
        try:
            services.check_base_url(base_url)
        except services.ConfigurationInvalid as exc:
            raise forms.ValidationError(exc.message) from None
        return base_url


class AIModelInline(admin.TabularInline[AIModel, Provider]):
    model = AIModel
    extra = 0
    fields = (
        "name",
        "capability",
        "enabled",
        "timeout",
        "max_retries",
        "max_output_tokens",
        "batch_size",
    )


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin[Provider]):
    form = ProviderForm
    list_display = ("name", "kind", "base_url", "is_local", "enabled", "api_key_hint")
    list_filter = ("kind", "is_local", "enabled")
    readonly_fields = ("api_key_hint",)
    fields = (
        "name",
        "kind",
        "base_url",
        "api_key_hint",
        "api_key",
        "clear_api_key",
        "is_local",
        "enabled",
        "connect_timeout",
        "options",
    )
    inlines = [AIModelInline]

    def save_model(
        self, request: HttpRequest, obj: Provider, form: ModelForm[Provider], change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        actor, origin = permissions.user_or_none(request), AuditOrigin.of(request)
        if form.cleaned_data.get("clear_api_key"):
            services.set_api_key(obj, "", actor=actor, origin=origin)
        elif form.cleaned_data.get("api_key"):
            services.set_api_key(obj, form.cleaned_data["api_key"], actor=actor, origin=origin)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # One entry for the provider and its models; a new key has an entry of its own.
        fields = [f for f in form.changed_data if f not in ("api_key", "clear_api_key")]
        if any(formset.has_changed() for formset in formsets):
            fields.append("models")
        if fields or not change:
            services.provider_edited(
                form.instance,
                created=not change,
                fields=fields,
                actor=permissions.user_or_none(request),
                origin=AuditOrigin.of(request),
            )
        else:
            services.config_changed()

    def delete_model(self, request: HttpRequest, obj: Provider) -> None:
        self.delete_queryset(request, Provider.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        services.delete_providers(
            queryset, actor=permissions.user_or_none(request), origin=AuditOrigin.of(request)
        )


@admin.register(AIModel)
class AIModelAdmin(admin.ModelAdmin[AIModel]):
    list_display = ("name", "provider", "capability", "enabled", "timeout", "max_retries")
    list_filter = ("capability", "enabled", "provider")
    search_fields = ("name", "provider__name")

    def save_model(self, request: HttpRequest, obj: AIModel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.provider_edited(
            obj.provider,
            created=False,
            fields=[f"{obj.name}.{field}" for field in form.changed_data] or [obj.name],
            actor=permissions.user_or_none(request),
            origin=AuditOrigin.of(request),
        )

    def delete_model(self, request: HttpRequest, obj: AIModel) -> None:
        self.delete_queryset(request, AIModel.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AIModel]) -> None:
        services.delete_models(
            queryset, actor=permissions.user_or_none(request), origin=AuditOrigin.of(request)
        )


class RouteInline(admin.TabularInline[Route, FeatureSetting]):
    model = Route
    extra = 1
    fields = ("position", "model")
    ordering = ("position",)


@admin.register(FeatureSetting)
class FeatureSettingAdmin(admin.ModelAdmin[FeatureSetting]):
    list_display = ("feature", "local_only", "models_in_order")
    inlines = [RouteInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[FeatureSetting]:
        return super().get_queryset(request).prefetch_related("routes__model__provider")

    @admin.display(description=_("候选模型（按顺序）"))
    def models_in_order(self, obj: FeatureSetting) -> str:
        routes = sorted(obj.routes.all(), key=lambda r: (r.position, r.pk))
        return " → ".join(str(route.model) for route in routes) or "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # one setting per feature; its routes are removed in the inline

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Whether member questions may go to a cloud provider, and to which: audited like a
        # provider change, and only for admins.
        if form.has_changed() or any(formset.has_changed() for formset in formsets) or not change:
            services.feature_routes_edited(
                form.instance,
                actor=permissions.user_or_none(request),
                origin=AuditOrigin.of(request),
            )
        else:
            services.config_changed()


@admin.register(SensitiveTerm)
class SensitiveTermAdmin(admin.ModelAdmin[SensitiveTerm]):
    list_display = ("term", "category", "action", "enabled", "updated_at")
    list_filter = ("category", "action", "enabled")
    list_editable = ("action", "enabled")
    search_fields = ("term", "category")

    def save_model(self, request: HttpRequest, obj: SensitiveTerm, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        services.terms_changed(
            "edited" if change else "added",
            [obj.term],
            actor=permissions.user_or_none(request),
            origin=AuditOrigin.of(request),
        )

    def delete_model(self, request: HttpRequest, obj: SensitiveTerm) -> None:
        self.delete_queryset(request, SensitiveTerm.objects.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SensitiveTerm]) -> None:
        services.delete_terms(
            queryset, actor=permissions.user_or_none(request), origin=AuditOrigin.of(request)
        )


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin[Usage]):
    list_display = (
        "created_at",
        "user",
        "feature",
        "provider_name",
        "model_name",
        "tokens_in",
        "tokens_out",
        "images",
        "latency_ms",
        "ttft_ms",
        "outcome",
        "error_code",
    )
    list_filter = ("outcome", "feature", "provider_name", "streamed", "created_at")
    search_fields = ("model_name", "provider_name", "user__username", "error_code")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    change_list_template = "admin/ai/usage_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        summary = path(
            "summary/", self.admin_site.admin_view(self.summary_view), name="ai_usage_summary"
        )
        return [summary, *super().get_urls()]

    def summary_view(self, request: HttpRequest) -> HttpResponse:
        try:
            days = max(1, min(366, int(request.GET.get("days", "30"))))
        except ValueError:
            days = 30
        since = timezone.now() - timedelta(days=days)
        rows = (
            Usage.objects.filter(created_at__gte=since)
            .annotate(day=TruncDate("created_at"))
            .values("day", "feature", "provider_name", "model_name")
            .annotate(
                calls=Count("id"),
                failures=Count("id", filter=~Q(outcome=Outcome.OK)),
                tokens_in=Sum("tokens_in"),
                tokens_out=Sum("tokens_out"),
                images=Sum("images"),
                latency=Avg("latency_ms"),
                ttft=Avg("ttft_ms"),
            )
            .order_by("-day", "feature", "model_name")
        )
        context = {
            **self.admin_site.each_context(request),
            "title": _("调用统计"),
            "opts": self.model._meta,
            "rows": rows,
            "days": days,
        }
        return TemplateResponse(request, "admin/ai/usage_summary.html", context)
