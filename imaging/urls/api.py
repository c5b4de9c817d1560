"""API routes of Draw under /api/v1/images/."""

from django.urls import path

from imaging.api import images

urlpatterns = [
    path("", images.ImageListView.as_view(), name="api_images"),
    path("<int:pk>/", images.ImageDetailView.as_view(), name="api_image"),
    path("<int:pk>/refine/", images.RefineView.as_view(), name="api_image_refine"),
    path("<int:pk>/cancel/", images.CancelView.as_view(), name="api_image_cancel"),
    path("<int:pk>/take-down/", images.TakeDownView.as_view(), name="api_image_take_down"),
    path("files/<int:pk>/", images.ImageFileView.as_view(), name="api_image_file"),
    path(
        "files/<int:pk>/thumbnail/", images.ImageThumbnailView.as_view(), name="api_image_thumbnail"
    ),
]
