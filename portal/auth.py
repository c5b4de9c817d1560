"""API tokens that expire, and the sign-in that issues them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _drf  # DRF's messages, its catalogue
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from portal.compiled import CompiledQuery
from portal.errors import PortalErrorCode
from portal.models import User


def _tokens() -> QuerySet[Token]:
    # DRF's own lookup, reading the member's profile and union unit in the same query (the
    # permission policy and Ask read both on every question).
    return Token.objects.select_related("user", "user__member_profile", "user__union_unit")


# One token's lookup, compiled once per process.
_TOKEN: CompiledQuery[Token] = CompiledQuery(lambda key: _tokens().filter(key=key))


def token_expired(token: Token) -> bool:
    return bool(token.created < timezone.now() - settings.API_TOKEN_TTL)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with tokens that stop working after API_TOKEN_TTL. With
    `known` (tokens_named()'s answer for a batch of requests), a key found there is not read
    again."""

    def __init__(self, known: Mapping[str, Token | None] | None = None) -> None:
        self.known = known or {}

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        if key in self.known:
            token = self.known[key]
        else:
            found = _TOKEN.fetch(key)
            token = found[0] if found else None
        if token is None:
            raise exceptions.AuthenticationFailed(_drf("Invalid token."))
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_drf("User inactive or deleted."))
        if token_expired(token):
            raise exceptions.AuthenticationFailed(
                _("令牌已过期，请重新获取令牌。"), code=PortalErrorCode.TOKEN_EXPIRED
            )
        return user, token


class _KeyOfHeader(TokenAuthentication):
    """DRF's reading of the Authorization header, answering the key it would look up."""

    def authenticate_credentials(self, key: str) -> tuple[str, None]:
        return key, None


def tokens_named(requests: Iterable[HttpRequest]) -> dict[str, Token | None]:
    """The tokens the requests' Authorization headers name, read in one query as ExpiringToken-
    Authentication reads one (None: no such token), for ExpiringTokenAuthentication(known=…).
    A header DRF refuses names none: its request is refused as before."""
    keys = set()
    reader = _KeyOfHeader()
    for request in requests:
        try:
            given = reader.authenticate(request)  # type: ignore[arg-type]  # reads META
        except exceptions.AuthenticationFailed:
            continue
        # A key with a NUL, which PostgreSQL's text refuses, would fail the others' query.
        if given is not None and "\x00" not in given[0]:
            keys.add(given[0])
    if not keys:
        return {}
    found = {token.key: token for token in _tokens().filter(key__in=keys)}
    return {key: found.get(key) for key in keys}


def issue_token(user: User) -> Token:
    """The user's current token, or a fresh one when it has expired."""
    with transaction.atomic():
        # Lock the user row so two sign-ins at once agree on one token.
        User.objects.select_for_update().filter(pk=user.pk).first()
        token = Token.objects.filter(user=user).first()
        if token is not None and not token_expired(token):
            return token
        if token is not None:
            token.delete()
        return Token.objects.create(user=user)


def revoke_token(token: Token) -> None:
    """The token stops working at once (a sign-in issues a new one)."""
    Token.objects.filter(pk=token.pk).delete()
