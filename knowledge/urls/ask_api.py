"""API routes of Ask under /api/v1/: questions, conversations, feedback."""

from django.urls import path

from knowledge.api import ask

urlpatterns = [
    path("ask/", ask.ask, name="api_ask"),
    path("conversations/", ask.ConversationListView.as_view(), name="api_conversations"),
    path(
        "conversations/<int:pk>/",
        ask.ConversationDetailView.as_view(),
        name="api_conversation",
    ),
    path("messages/<int:pk>/feedback/", ask.FeedbackView.as_view(), name="api_feedback"),
]
