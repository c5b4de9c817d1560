"""Changing the provider configuration and the word list: the admin, the command and the seed
data all come through here, and every change is in the audit log (never a key itself)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from portal import audit, permissions
from portal.ai import clients, keys, routing, safety, sse
from portal.ai.errors import AIErrorCode
from portal.ai.models import (
    FEATURE_CAPABILITY,
    KIND_CAPABILITIES,
    AIModel,
    Capability,
    Feature,
    FeatureSetting,
    Provider,
    ProviderKind,
    Route,
    SafetyAction,
    SensitiveTerm,
)
from portal.audit import AuditOrigin
from portal.errors import PortalError
from portal.models import AuditAction, User
from portal.permissions import Perm

log = logging.getLogger("portal.ai")


@dataclass(frozen=True)
class Preset:
    kind: str
    base_url: str
    is_local: bool


# Where the usual services live; an admin still types or confirms the URL.
PRESETS: dict[str, Preset] = {
    "deepseek": Preset(ProviderKind.OPENAI_COMPATIBLE, "https://api.deepseek.com/v1", False),
    "doubao": Preset(
        ProviderKind.OPENAI_COMPATIBLE, "https://ark.cn-beijing.volces.com/api/v3", False
    ),
    "hunyuan": Preset(
        ProviderKind.OPENAI_COMPATIBLE, "https://api.hunyuan.cloud.tencent.com/v1", False
    ),
    "hunyuan-image": Preset(
        ProviderKind.HUNYUAN_IMAGE, "https://hunyuan.tencentcloudapi.com", False
    ),
    "ollama": Preset(ProviderKind.OPENAI_COMPATIBLE, "http://127.0.0.1:11434/v1", True),
    "vllm": Preset(ProviderKind.OPENAI_COMPATIBLE, "http://127.0.0.1:8000/v1", True),
    "sdwebui": Preset(ProviderKind.SDWEBUI, "http://127.0.0.1:7860", True),
    "comfyui": Preset(ProviderKind.COMFYUI, "http://127.0.0.1:8188", True),
}


class ConfigurationInvalid(PortalError):
    code = AIErrorCode.AI_CONFIGURATION_INVALID


def looks_local(base_url: str) -> bool:
    """A loopback or private address, or localhost: a server in the building."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost" or host.endswith((".local", ".internal", ".lan")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def check_base_url(base_url: str) -> None:
    """An http(s) address without credentials: it is stored and shown in clear, and a key
    belongs in the encrypted API key."""
    try:
        URLValidator(schemes=["http", "https"])(base_url)
    except ValidationError:
        raise ConfigurationInvalid(
            _("接口地址无效：%(url)s") % {"url": loggable_url(base_url)}
        ) from None
    parts = urlsplit(base_url)
    if parts.username or parts.password or parts.query:
        raise ConfigurationInvalid(
            _("接口地址里不能带用户名、密码或查询参数，请把密钥填在 API Key 中。")
        )


def loggable_url(url: str) -> str:
    """An address as the audit log and messages may show it: without a user name and password,
    a query string or a fragment (where keys and tokens travel)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _check_actor(actor: User | None) -> None:
    """Model services and the word list are for admins (None: a command or the seed data)."""
    if actor is not None:
        permissions.require(actor, Perm.MANAGE_PROVIDERS)


def config_changed() -> None:
    """Routes and clients are cached per process; drop them once the change has committed."""

    def forget() -> None:
        routing.forget()
        clients.forget()
        sse.forget()

    transaction.on_commit(forget)


def set_api_key(
    provider: Provider,
    clear: str,
    *,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """Store a new key (encrypted) and its masked hint; an empty string removes the key."""
    _check_actor(actor)
    clear = clear.strip()
    provider.api_key_encrypted = keys.encrypt(clear) if clear else ""
    provider.api_key_hint = keys.mask(clear)
    provider.save(update_fields=["api_key_encrypted", "api_key_hint", "updated_at"])
    audit.record(
        AuditAction.PROVIDER_KEY_CHANGED,
        actor=actor,
        target=provider.name,
        detail={"key": "replaced" if clear else "removed"},  # never the key, nor its hint
        origin=origin,
    )
    config_changed()


def _route_labels(setting: FeatureSetting) -> list[str]:
    routes = setting.routes.select_related("model__provider").order_by("position", "pk")
    return [str(route.model) for route in routes]


def _record_routes(setting: FeatureSetting, actor: User | None, origin: AuditOrigin) -> None:
    """The feature's routes as they now stand: whether it may leave the building at all, and
    which models serve it, in order."""
    audit.record(
        AuditAction.FEATURE_ROUTES_CHANGED,
        actor=actor,
        target=setting.feature,
        detail={
            "feature": setting.feature,
            "local_only": setting.local_only,
            "routes": _route_labels(setting),
        },
        origin=origin,
    )


def put_first(
    feature: str,
    model: AIModel,
    *,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """Make the model the first choice of the feature; the others keep their order after it."""
    _check_actor(actor)
    if FEATURE_CAPABILITY[feature] != model.capability:
        raise ConfigurationInvalid(
            _("功能“%(feature)s”需要%(capability)s模型。")
            % {
                "feature": Feature(feature).label,
                "capability": Capability(FEATURE_CAPABILITY[feature]).label,
            }
        )
    with transaction.atomic():
        setting, _created = FeatureSetting.objects.get_or_create(feature=feature)
        before = list(
            setting.routes.select_for_update()
            .order_by("position", "pk")
            .values_list("model_id", flat=True)
        )
        Route.objects.get_or_create(feature=setting, model=model)
        ordered = sorted(
            setting.routes.select_for_update(),
            key=lambda r: (r.model_id != model.pk, r.position, r.pk),
        )
        for position, route in enumerate(ordered):
            if route.position != position:
                route.position = position
                route.save(update_fields=["position"])
        if [route.model_id for route in ordered] != before:
            _record_routes(setting, actor, origin)
    config_changed()


def set_local_only(
    feature: str,
    local_only: bool,
    *,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> FeatureSetting:
    """Pin the feature to local providers, or let it use cloud ones again."""
    _check_actor(actor)
    with transaction.atomic():
        setting, _created = FeatureSetting.objects.select_for_update().get_or_create(
            feature=feature
        )
        if setting.local_only != local_only:
            setting.local_only = local_only
            setting.save(update_fields=["local_only"])
            _record_routes(setting, actor, origin)
    config_changed()
    return setting


def feature_routes_edited(
    setting: FeatureSetting, *, actor: User | None, origin: AuditOrigin = AuditOrigin.SYSTEM
) -> None:
    """After the admin saved a feature's local-only flag or its routes (in its transaction: a
    refusal here undoes the save)."""
    _check_actor(actor)
    _record_routes(setting, actor, origin)
    config_changed()


@dataclass(frozen=True)
class Configured:
    provider: Provider
    created: bool
    models: dict[str, AIModel]


def configure_provider(
    *,
    name: str,
    kind: str,
    base_url: str,
    api_key: str | None = None,
    chat_model: str | None = None,
    embedding_model: str | None = None,
    image_model: str | None = None,
    use_for: Sequence[str] = (),
    is_local: bool | None = None,
    timeout: float | None = None,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> Configured:
    """Create or update a provider with its models, and put them first for the named features."""
    _check_actor(actor)
    if kind not in ProviderKind.values:
        raise ConfigurationInvalid(
            _("未知的服务商类型：%(kind)s（可选：%(kinds)s）。")
            % {"kind": kind, "kinds": "、".join(ProviderKind.values)}
        )
    check_base_url(base_url)
    unknown = [feature for feature in use_for if feature not in Feature.values]
    if unknown:
        raise ConfigurationInvalid(
            _("未知的功能：%(features)s（可选：%(all)s）。")
            % {"features": "、".join(unknown), "all": "、".join(Feature.values)}
        )
    wanted = {
        Capability.CHAT: chat_model,
        Capability.EMBEDDING: embedding_model,
        Capability.IMAGE: image_model,
    }
    for capability, model_name in wanted.items():
        if model_name and capability not in KIND_CAPABILITIES[kind]:
            raise ConfigurationInvalid(
                _("%(kind)s 类型的服务商不提供%(capability)s模型。")
                % {"kind": kind, "capability": Capability(capability).label}
            )
    with transaction.atomic():
        provider, created = Provider.objects.select_for_update().get_or_create(
            name=name,
            defaults={
                "kind": kind,
                "base_url": base_url,
                "is_local": looks_local(base_url) if is_local is None else is_local,
            },
        )
        if not created:
            moved = provider.base_url != base_url
            provider.kind, provider.base_url = kind, base_url
            if is_local is not None:
                provider.is_local = is_local
            elif moved:  # a new address is judged again: local-only features depend on it
                provider.is_local = looks_local(base_url)
            provider.enabled = True
            provider.save(update_fields=["kind", "base_url", "is_local", "enabled", "updated_at"])
        if api_key is not None:
            set_api_key(provider, api_key, actor=actor, origin=origin)
        models: dict[str, AIModel] = {}
        for capability, model_name in wanted.items():
            if not model_name:
                continue
            model, _made = AIModel.objects.get_or_create(
                provider=provider, name=model_name, capability=capability
            )
            fields = []
            if not model.enabled:
                model.enabled = True
                fields.append("enabled")
            if timeout is not None and model.timeout != timeout:
                model.timeout = timeout
                fields.append("timeout")
            if fields:
                model.save(update_fields=fields)
            models[capability] = model
        for feature in use_for:
            model_for = models.get(FEATURE_CAPABILITY[feature])
            if model_for is None:
                raise ConfigurationInvalid(
                    _("功能“%(feature)s”需要%(capability)s模型，请一并给出。")
                    % {
                        "feature": Feature(feature).label,
                        "capability": Capability(FEATURE_CAPABILITY[feature]).label,
                    }
                )
            put_first(feature, model_for, actor=actor, origin=origin)
        audit.record(
            AuditAction.PROVIDER_CHANGED,
            actor=actor,
            target=provider.name,
            detail={
                "change": "created" if created else "updated",
                "kind": kind,
                "base_url": loggable_url(base_url),
                "is_local": provider.is_local,
                "models": {capability: model.name for capability, model in models.items()},
                "use_for": list(use_for),
            },
            origin=origin,
        )
        config_changed()
    log.info("provider %s %s (%s)", "created" if created else "updated", name, kind)
    return Configured(provider=provider, created=created, models=models)


def provider_edited(
    provider: Provider,
    *,
    created: bool,
    fields: Sequence[str],
    actor: User | None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """After the admin saved a provider or one of its models (`fields`: what changed)."""
    _check_actor(actor)
    detail: dict[str, object] = {
        "change": "created" if created else "updated",
        "fields": list(fields),
    }
    if created or "base_url" in fields:
        detail["base_url"] = loggable_url(provider.base_url)  # where the questions now go
    audit.record(
        AuditAction.PROVIDER_CHANGED,
        actor=actor,
        target=provider.name,
        detail=detail,
        origin=origin,
    )
    config_changed()


def delete_providers(
    providers: QuerySet[Provider],
    *,
    actor: User | None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """Delete providers, their models and routes with them, and record each in the same
    transaction: no deletion without its entry."""
    _check_actor(actor)
    with transaction.atomic():
        names = list(providers.order_by("name").values_list("name", flat=True))
        providers.delete()
        for name in names:
            audit.record(
                AuditAction.PROVIDER_CHANGED,
                actor=actor,
                target=name,
                detail={"change": "deleted"},
                origin=origin,
            )
        config_changed()


def delete_models(
    models: QuerySet[AIModel],
    *,
    actor: User | None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """Delete models (their routes with them), recorded as changes of their providers in the
    same transaction."""
    _check_actor(actor)
    with transaction.atomic():
        gone = list(models.select_related("provider"))
        models.delete()
        for model in gone:
            audit.record(
                AuditAction.PROVIDER_CHANGED,
                actor=actor,
                target=model.provider.name,
                detail={"change": "updated", "fields": [f"{model.name} deleted"]},
                origin=origin,
            )
        config_changed()


def save_term(
    term: str,
    *,
    category: str,
    action: str = SafetyAction.BLOCK,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> SensitiveTerm:
    _check_actor(actor)
    term = term.strip()
    if not term:
        raise ConfigurationInvalid(_("敏感词不能为空。"))
    if action not in SafetyAction.values:
        raise ConfigurationInvalid(_("处理方式只能是拦截或送审。"))
    with transaction.atomic():
        record, created = SensitiveTerm.objects.update_or_create(
            term=term, defaults={"category": category, "action": action, "enabled": True}
        )
        _record_terms("added" if created else "edited", [term], actor, origin)
    transaction.on_commit(safety.list_changed)
    return record


def terms_changed(
    change: str = "edited",
    terms: Sequence[str] = (),
    *,
    actor: User | None = None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """After the admin added or edited terms (`change`: "added" or "edited")."""
    _check_actor(actor)
    _record_terms(change, terms, actor, origin)
    transaction.on_commit(safety.list_changed)


def delete_terms(
    terms: QuerySet[SensitiveTerm],
    *,
    actor: User | None,
    origin: AuditOrigin = AuditOrigin.SYSTEM,
) -> None:
    """Delete words from the list and record them in the same transaction."""
    _check_actor(actor)
    with transaction.atomic():
        deleted = list(terms.order_by("term").values_list("term", flat=True))
        terms.delete()
        _record_terms("deleted", deleted, actor, origin)
        transaction.on_commit(safety.list_changed)


def _record_terms(
    change: str, terms: Sequence[str], actor: User | None, origin: AuditOrigin
) -> None:
    audit.record(
        AuditAction.WORD_LIST_CHANGED,
        actor=actor,
        target="、".join(terms),
        detail={"change": change, "terms": list(terms)},
        origin=origin,
    )
