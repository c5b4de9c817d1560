"""Several ORM updates as one statement (portal.statements)."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from portal import statements
from portal.models import User

pytestmark = pytest.mark.django_db


def test_the_updates_change_exactly_the_rows_their_querysets_name(alice, bob, charlie):
    with CaptureQueriesContext(connection) as queries:
        statements.update_together(
            [
                (User.objects.filter(pk=alice.pk), {"first_name": "爱丽丝", "is_active": False}),
                (User.objects.filter(pk=bob.pk), {"last_name": "鲍勃"}),
            ]
        )
    assert len(queries) == 1
    alice.refresh_from_db()
    bob.refresh_from_db()
    charlie.refresh_from_db()
    assert (alice.first_name, alice.is_active) == ("爱丽丝", False)
    assert bob.last_name == "鲍勃" and bob.first_name == ""
    assert (charlie.first_name, charlie.last_name, charlie.is_active) == ("", "", True)


def test_an_expression_is_compiled_as_update_compiles_it(alice, bob):
    statements.update_together(
        [
            (User.objects.filter(pk=alice.pk), {"last_name": F("username")}),
            (User.objects.filter(pk=bob.pk), {"first_name": F("username")}),
        ]
    )
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.last_name, bob.first_name) == ("alice", "bob")


def test_when_one_update_fails_none_is_made(alice, bob):
    with pytest.raises(IntegrityError), transaction.atomic():
        statements.update_together(
            [
                (User.objects.filter(pk=alice.pk), {"first_name": "爱丽丝"}),
                (User.objects.filter(pk=bob.pk), {"username": None}),  # NOT NULL
            ]
        )
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.first_name == "" and bob.username == "bob"


def test_insert_sql_writes_what_save_writes_and_computed_columns(alice):
    from knowledge.models import Conversation, Message

    conversation = Conversation(owner=alice, title="问")
    first = Message(conversation=conversation, role="user", text="一", citations=[{"n": 1}])
    second = Message(conversation=conversation, role="assistant", text="二")
    opened, params = statements.insert_sql([conversation], "default")
    written, more = statements.insert_sql(
        [first, second], "default", computed={"conversation": '(SELECT "id" FROM c)'}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f'WITH c AS ({opened}), m AS ({written}) SELECT "id" FROM m ORDER BY "id"',  # noqa: S608
            [*params, *more],
        )
        ids = [row[0] for row in cursor.fetchall()]
    assert conversation.created_at is not None  # auto_now_add, as save() sets it
    stored = Conversation.objects.get(owner=alice)
    assert (stored.title, stored.created_at) == ("问", conversation.created_at)
    rows = list(Message.objects.filter(pk__in=ids).order_by("id"))
    assert [(m.text, m.citations, m.conversation_id) for m in rows] == [
        ("一", [{"n": 1}], stored.pk),
        ("二", [], stored.pk),
    ]


def test_insert_sql_refuses_a_saved_instance(alice):
    with pytest.raises(ValueError):
        statements.insert_sql([alice], "default")
