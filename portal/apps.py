"""App configuration: connects the audit-log signal handlers."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "门户"

    def ready(self) -> None:
        from portal import readiness, signals  # noqa: F401

        readiness.register("urls", readiness.warm_urls)
