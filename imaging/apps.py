"""App configuration of the Draw service."""

from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "视觉智创"
