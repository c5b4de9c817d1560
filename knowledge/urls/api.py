"""API routes under /api/v1/knowledge/."""

from django.urls import path

from knowledge.api import curation as api

urlpatterns = [
    path("documents/", api.DocumentListView.as_view(), name="api_documents"),
    path("documents/<int:pk>/", api.DocumentDetailView.as_view(), name="api_document"),
    path(
        "documents/<int:pk>/status/", api.DocumentStatusView.as_view(), name="api_document_status"
    ),
    path("segments/<int:pk>/", api.SegmentView.as_view(), name="api_segment"),
    path("faq/", api.FaqListView.as_view(), name="api_faq"),
    path("faq/<int:pk>/", api.FaqDetailView.as_view(), name="api_faq_detail"),
    path("lexicon/", api.LexiconListView.as_view(), name="api_lexicon"),
    path("lexicon/<int:pk>/", api.LexiconDetailView.as_view(), name="api_lexicon_detail"),
    path("search/", api.SearchView.as_view(), name="api_search"),
]
