"""Create or update a model provider and its models, and route features to them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from portal.ai import services
from portal.ai.models import ProviderKind
from portal.errors import PortalError


class Command(BaseCommand):
    help = (
        "Create or update a provider with its models and put them first for the named features. "
        f"Presets: {', '.join(services.PRESETS)}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--kind", choices=ProviderKind.values)
        parser.add_argument("--preset", choices=sorted(services.PRESETS))
        parser.add_argument("--base-url")
        parser.add_argument(
            "--api-key",
            help="stored encrypted; prefer PORTAL_PROVIDER_API_KEY in the environment, which "
            "keeps the key out of the shell history",
        )
        parser.add_argument("--chat-model")
        parser.add_argument("--embedding-model")
        parser.add_argument("--image-model")
        parser.add_argument("--use-for", default="", help="comma-separated features")
        parser.add_argument("--timeout", type=float, help="read timeout of the models, seconds")
        local = parser.add_mutually_exclusive_group()
        local.add_argument("--local", dest="is_local", action="store_true", default=None)
        local.add_argument("--cloud", dest="is_local", action="store_false")

    def handle(self, *args: Any, **options: Any) -> None:
        import os

        preset = services.PRESETS.get(options["preset"] or "")
        kind = options["kind"] or (preset.kind if preset else None)
        base_url = options["base_url"] or (preset.base_url if preset else None)
        if not kind or not base_url:
            raise CommandError("give --kind and --base-url, or a --preset")
        is_local = options["is_local"]
        if is_local is None and preset is not None and not options["base_url"]:
            is_local = preset.is_local
        api_key = options["api_key"]
        if api_key is None:
            api_key = os.environ.get("PORTAL_PROVIDER_API_KEY")
        try:
            result = services.configure_provider(
                name=options["name"],
                kind=kind,
                base_url=base_url,
                api_key=api_key,
                chat_model=options["chat_model"],
                embedding_model=options["embedding_model"],
                image_model=options["image_model"],
                use_for=[f.strip() for f in options["use_for"].split(",") if f.strip()],
                is_local=is_local,
                timeout=options["timeout"],
            )
        except PortalError as exc:
            raise CommandError(exc.message) from None
        provider = result.provider
        models = ", ".join(f"{cap}={m.name}" for cap, m in result.models.items()) or "none"
        self.stdout.write(
            f"{'Created' if result.created else 'Updated'} provider {provider.name} "
            f"({provider.kind}, {'local' if provider.is_local else 'cloud'}), "
            f"key {provider.api_key_hint or 'not set'}, models: {models}"
        )
