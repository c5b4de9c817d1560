"""Editor pages under /knowledge/."""

from django.urls import path

from knowledge.views import accuracy as accuracy_views
from knowledge.views import analytics as analytics_views
from knowledge.views import curation as views

urlpatterns = [
    path("", views.documents, name="knowledge_documents"),
    path("documents/new/", views.document_new, name="knowledge_document_new"),
    path("documents/<int:pk>/", views.document_detail, name="knowledge_document"),
    path("documents/<int:pk>/edit/", views.document_edit, name="knowledge_document_edit"),
    path("documents/<int:pk>/status/", views.document_status, name="knowledge_document_status"),
    path("segments/<int:pk>/", views.segment_edit, name="knowledge_segment"),
    path("faq/", views.faq_list, name="knowledge_faq"),
    path("faq/new/", views.faq_edit, name="knowledge_faq_new"),
    path("faq/<int:pk>/", views.faq_edit, name="knowledge_faq_edit"),
    path("faq/<int:pk>/delete/", views.faq_delete, name="knowledge_faq_delete"),
    path("lexicon/", views.lexicon, name="knowledge_lexicon"),
    path("lexicon/<int:pk>/delete/", views.lexicon_delete, name="knowledge_lexicon_delete"),
    path("test/", views.retrieval_test, name="knowledge_test"),
    path("analytics/", analytics_views.dashboard, name="knowledge_analytics"),
    path("analytics/refresh/", analytics_views.refresh, name="knowledge_analytics_refresh"),
    path(
        "analytics/questions/<int:pk>/faq/",
        analytics_views.faq_from_question,
        name="knowledge_question_faq",
    ),
    path(
        "analytics/questions/<int:pk>/handled/",
        analytics_views.mark_handled,
        name="knowledge_question_handled",
    ),
    path(
        "analytics/questions/<int:pk>/accuracy/",
        accuracy_views.from_question,
        name="knowledge_question_accuracy",
    ),
    path("accuracy/", accuracy_views.sets, name="knowledge_accuracy"),
    path("accuracy/<int:pk>/", accuracy_views.question_set, name="knowledge_accuracy_set"),
    path("accuracy/<int:pk>/run/", accuracy_views.start, name="knowledge_accuracy_start"),
    path("accuracy/<int:pk>/delete/", accuracy_views.delete, name="knowledge_accuracy_delete"),
    path("accuracy/runs/<int:pk>/", accuracy_views.run_detail, name="knowledge_accuracy_run"),
    path(
        "accuracy/runs/<int:pk>/progress/",
        accuracy_views.progress,
        name="knowledge_accuracy_progress",
    ),
]
