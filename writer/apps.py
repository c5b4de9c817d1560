"""App configuration of the Write service."""

from django.apps import AppConfig


class WriterConfig(AppConfig):
    name = "writer"
    verbose_name = "材料智写"
