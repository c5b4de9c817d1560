"""Django admin for the knowledge base."""

from django.contrib import admin

from knowledge.models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin[Category]):
    list_display = ("name", "slug", "position")
    list_editable = ("position",)
