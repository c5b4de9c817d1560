"""API tokens that expire, and the sign-in that issues them."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _drf  # DRF's messages, its catalogue
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from portal.compiled import CompiledQuery
from portal.errors import PortalErrorCode
from portal.models import User

# DRF's own lookup, reading the member's profile and union unit in the same query (the
# permission policy and Ask read both on every question), compiled once per process.
_TOKEN: CompiledQuery[Token] = CompiledQuery(
    lambda key: Token.objects.select_related(
        "user", "user__member_profile", "user__union_unit"
    ).filter(key=key)
)


def token_expired(token: Token) -> bool:
    return bool(token.created < timezone.now() - settings.API_TOKEN_TTL)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with tokens that stop working after API_TOKEN_TTL."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        found = _TOKEN.fetch(key)
        if not found:
            raise exceptions.AuthenticationFailed(_drf("Invalid token."))
        token = found[0]
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_drf("User inactive or deleted."))
        if token_expired(token):
            raise exceptions.AuthenticationFailed(
                _("令牌已过期，请重新获取令牌。"), code=PortalErrorCode.TOKEN_EXPIRED
            )
        return user, token


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
