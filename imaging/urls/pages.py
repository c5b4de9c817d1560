"""Pages of Draw under /images/."""

from django.urls import path

from imaging.views import pages

urlpatterns = [
    path("", pages.index, name="images"),
    path("<int:pk>/", pages.detail, name="image_detail"),
    path("<int:pk>/refine/", pages.refine, name="image_refine"),
    path("<int:pk>/cancel/", pages.cancel, name="image_cancel"),
    path("<int:pk>/delete/", pages.delete, name="image_delete"),
    path("presets/", pages.presets, name="image_presets"),
    path("brand/", pages.brand_kit, name="image_brand_kit"),
    path("review/", pages.review, name="image_review"),
]
