"""Pages of Write under /writer/."""

from django.urls import path

from writer.views import drafts, templates

urlpatterns = [
    path("", drafts.home, name="writer_home"),
    path("new/<slug:slug>/", drafts.new_draft, name="writer_new"),
    path("drafts/<int:pk>/", drafts.draft_page, name="writer_draft"),
    path("drafts/<int:pk>/export/<str:fmt>/", drafts.export, name="writer_export"),
    path("drafts/<int:pk>/share/", drafts.share, name="writer_share"),
    path("drafts/<int:pk>/sections/<int:n>/revisions/", drafts.revisions, name="writer_revisions"),
    path("drafts/<int:pk>/sections/<int:n>/restore/", drafts.restore, name="writer_restore"),
    path("preview/", drafts.preview, name="writer_preview"),
    path("templates/", templates.template_list, name="writer_templates"),
    path("templates/new/", templates.template_edit, name="writer_template_new"),
    path("templates/import/", templates.template_import, name="writer_template_import"),
    path("templates/<slug:slug>/", templates.template_edit, name="writer_template_edit"),
    path("templates/<slug:slug>/delete/", templates.template_delete, name="writer_template_delete"),
    path("templates/<slug:slug>/export/", templates.template_export, name="writer_template_export"),
]
