"""Several ORM writes sent to PostgreSQL as one statement.

A transaction of two small UPDATEs costs four round trips (BEGIN, each UPDATE, COMMIT), and each
round trip costs the web process a wake-up as well as the wait. On PostgreSQL the same updates go
as one statement, each but the last in a data-modifying `WITH`: one round trip, atomic by
itself. Django compiles each UPDATE exactly as `QuerySet.update()` would; SQLite (no
data-modifying `WITH`) runs them one after another in a transaction. `insert_sql()` writes the
INSERT of new instances with the values their save() would write, for such a statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql import UpdateQuery


def update_sql(queryset: QuerySet[Any], values: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE that `queryset.update(**values)` runs, with its parameters (for a statement
    of several parts: `update_together`, or a `WITH` that reads what it `RETURNING`s)."""
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(dict(values))
    compiler = query.get_compiler(queryset.db)
    compiler.pre_sql_setup()
    sql, params = compiler.as_sql()
    return sql, tuple(params)


def update_together(updates: Sequence[tuple[QuerySet[Any], Mapping[str, Any]]]) -> None:
    """`queryset.update(**values)` for each pair, all or none. The querysets must filter
    their own table only (a filter across a relation makes Django read the rows first), and no
    two may name the same row (PostgreSQL makes only one of two changes of a row in one
    statement)."""
    if not updates:
        return
    using = updates[0][0].db
    if any(queryset.db != using for queryset, _values in updates):
        raise ValueError("updates of one statement share one database")
    connection = connections[using]
    if connection.vendor != "postgresql" or len(updates) == 1:
        with transaction.atomic(using=using):
            for queryset, values in updates:
                queryset.update(**values)
        return
    statements = [update_sql(queryset, values) for queryset, values in updates]
    *first, (last_sql, last_params) = statements
    ctes = ", ".join(f"u{i} AS ({sql})" for i, (sql, _params) in enumerate(first))
    params = [p for _sql, ps in first for p in ps] + list(last_params)
    with transaction.mark_for_rollback_on_error(using=using), connection.cursor() as cursor:
        cursor.execute(f"WITH {ctes} {last_sql}", params)


def insert_sql(
    instances: Sequence[Model], using: str, computed: Mapping[str, str] | None = None
) -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (…) VALUES (…), … RETURNING <pk>` of new `instances` of one model, one
    row each in their order, with the values their save() would write (`pre_save`: auto_now_add
    sets the instance's own attribute too), except the fields named in `computed`, whose value is
    that SQL (another part of the statement: `"(SELECT id FROM c)"`). The primary keys come
    from the database: set them from what the statement returns."""
    model = type(instances[0])
    meta = model._meta
    connection = connections[using]
    quote = connection.ops.quote_name
    computed = computed or {}
    fields = [f for f in meta.local_concrete_fields if f is not meta.auto_field]
    if any(hasattr(f, "get_placeholder") or f.generated for f in fields):
        raise ValueError(f"{meta.label} has a field that Django writes its own way")
    rows, params = [], []
    for instance in instances:
        if type(instance) is not model or instance.pk is not None:
            raise ValueError("new instances of one model")
        marks = []
        for f in fields:
            if f.name in computed:
                marks.append(computed[f.name])
                continue
            value = f.get_db_prep_save(f.pre_save(instance, add=True), connection)
            if hasattr(value, "as_sql"):
                raise ValueError(f"{meta.label}.{f.name} holds an expression")
            marks.append("%s")
            params.append(value)
        rows.append(f"({', '.join(marks)})")
    columns = ", ".join(quote(f.column) for f in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join(rows)}"  # noqa: S608
        f" RETURNING {quote(meta.pk.column)}"
    )
    return sql, params
