"""Member pages of Ask under /ask/."""

from django.urls import path

from knowledge.views import ask as ask_views

urlpatterns = [
    path("", ask_views.chat, name="ask"),
    path("c/<int:pk>/", ask_views.chat, name="ask_conversation"),
    path("c/<int:pk>/delete/", ask_views.conversation_delete, name="ask_conversation_delete"),
    path("history/delete/", ask_views.history_delete, name="ask_history_delete"),
    path("documents/<int:pk>/", ask_views.document, name="ask_document"),
]
