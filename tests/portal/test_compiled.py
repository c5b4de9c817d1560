"""ORM reads compiled once and run with new values (portal.compiled)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from portal.compiled import CompiledQuery
from portal.models import User

pytestmark = pytest.mark.django_db


def _tokens() -> CompiledQuery[Token]:
    return CompiledQuery(
        lambda key: Token.objects.select_related(
            "user", "user__member_profile", "user__union_unit"
        ).filter(key=key)
    )


def test_it_returns_what_the_queryset_returns_with_its_related_objects(alice, bob):
    alice_key = Token.objects.create(user=alice).key
    Token.objects.create(user=bob)
    tokens = _tokens()
    with CaptureQueriesContext(connection) as queries:
        (token,) = tokens.fetch(alice_key)
        user = token.user
        assert (user.pk, user.member_profile.pk, user.union_unit) == (
            alice.pk,
            alice.member_profile.pk,
            alice.union_unit,
        )
    assert len(queries) == 1
    assert token.created == Token.objects.get(key=alice_key).created
    assert not token._state.adding and token._state.db == "default"
    assert tokens.fetch("no-such-key") == []


def test_it_compiles_once(alice):
    key = Token.objects.create(user=alice).key
    tokens = _tokens()
    tokens.fetch(key)
    with mock.patch.object(SQLCompiler, "as_sql", side_effect=AssertionError("compiled again")):
        assert [t.user for t in tokens.fetch(key)] == [alice]


def test_a_value_that_is_not_one_plain_parameter_is_refused():
    query = CompiledQuery(lambda name: User.objects.filter(username__contains=name))
    with pytest.raises(ValueError):
        query.fetch("ali")
