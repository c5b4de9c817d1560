"""Admin site of Draw: image requests with the provider's own words on failures (read-only:
requests change only through the services), brand kits at a glance."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from imaging.models import BrandKit, ImageRequest


class _ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ImageRequest)
class ImageRequestAdmin(_ReadOnly, admin.ModelAdmin[ImageRequest]):
    list_display = ("id", "owner", "purpose", "status", "mode", "model_name", "attempts",
                    "error", "created_at")  # fmt: skip
    list_filter = ("status", "purpose", "mode", "created_at")
    search_fields = ("owner__username", "error", "error_detail", "model_name")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    exclude = ("claim_token",)


@admin.register(BrandKit)
class BrandKitAdmin(_ReadOnly, admin.ModelAdmin[BrandKit]):
    list_display = ("unit", "organiser", "colours", "updated_by", "updated_at")
    list_select_related = ("unit", "updated_by")
