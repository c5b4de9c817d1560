"""URL map of the whole portal."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import api, views
from portal.ai import api as ai_api

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", api.TokenView.as_view(), name="api_token"),
    path("me/", api.MeView.as_view(), name="api_me"),
    path("beta/", api.CurrentBetaView.as_view(), name="api_beta"),
    path("beta/<slug:slug>/enroll/", api.enrol, name="api_beta_enrol"),
    path("knowledge/", include("knowledge.urls.api")),
    path("", include("knowledge.urls.ask_api")),
    path("", include("writer.urls.api")),
    path("images/", include("imaging.urls.api")),
    path("ai/features/", ai_api.FeatureStatusView.as_view(), name="api_ai_features"),
    path("ai/providers/", ai_api.ProviderListView.as_view(), name="api_ai_providers"),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]

handler403 = views.permission_denied

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/register/", views.register, name="register"),
    path("accounts/activate/", views.activate, name="activate"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(success_url="/me/"),
        name="password_change",
    ),
    path("me/", views.profile, name="profile"),
    path("beta/", views.beta_page, name="beta"),
    path("beta/<slug:slug>/", views.beta_page, name="beta_detail"),
    path("beta/<slug:slug>/enrol/", views.beta_enrol, name="beta_enrol"),
    path("members/", views.members, name="members"),
    path("members/<int:user_id>/verify/", views.member_verify, name="member_verify"),
    path("members/roster/", views.roster_upload, name="roster_upload"),
    path("members/roster/<int:pk>/", views.roster_status, name="roster_status"),
    path("ask/", include("knowledge.urls.ask")),
    path("knowledge/", include("knowledge.urls.curation")),
    path("writer/", include("writer.urls.pages")),
    path("images/", include("imaging.urls.pages")),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]
