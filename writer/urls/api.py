"""API routes of Write under /api/v1/."""

from django.urls import path

from writer.api import drafts as api
from writer.api import tools

urlpatterns = [
    path("templates/", api.TemplateListView.as_view(), name="api_writer_templates"),
    path("templates/<slug:slug>/", api.TemplateExportView.as_view(), name="api_writer_template"),
    path("drafts/", api.DraftListView.as_view(), name="api_drafts"),
    path("drafts/<int:pk>/", api.DraftDetailView.as_view(), name="api_draft"),
    path("drafts/<int:pk>/export/", api.ExportView.as_view(), name="api_draft_export"),
    path("drafts/<int:pk>/sections/<int:n>/", api.SectionView.as_view(), name="api_section"),
    path(
        "drafts/<int:pk>/sections/<int:n>/regenerate/",
        api.RegenerateView.as_view(),
        name="api_section_regenerate",
    ),
    path("writer/tools/<str:tool>/", tools.tool_view, name="api_writer_tool"),
]
