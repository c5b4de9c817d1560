"""API tokens that expire, and the sign-in that issues them."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from portal.models import User


def token_expired(token: Token) -> bool:
    return bool(token.created < timezone.now() - settings.API_TOKEN_TTL)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with tokens that stop working after API_TOKEN_TTL."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise exceptions.AuthenticationFailed(
                _("令牌已过期，请重新获取令牌。"), code="token_expired"
            )
        return user, token


def issue_token(user: User) -> Token:
    """The user's current token, or a fresh one when it has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and token_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token
