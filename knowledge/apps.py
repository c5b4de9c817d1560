"""App configuration of the knowledge base."""

from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "知识库"

    def ready(self) -> None:
        from knowledge import (
            signals,  # noqa: F401
            warmup,
        )
        from portal import readiness

        readiness.register("retrieval", warmup.warm)
