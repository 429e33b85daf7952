"""Inserting an import's many rows at once: by COPY on PostgreSQL, by ``bulk_create`` elsewhere.

A 40,000-face video title is about 45,000 rows. ``bulk_create`` spends most of its time building
and parsing multi-row INSERT statements; COPY streams the same rows in less than half the time
(bench/README.md, "Scale"). COPY returns no ids, so they are drawn from the table's sequence
first, and the rows carry them, as ``bulk_create`` would have set them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def rows_insert(objects: Sequence[M]) -> list[M]:
    """Insert ``objects`` (new rows of one model, without primary keys), set their primary keys
    and return them, in order, as ``bulk_create`` does."""
    objects = list(objects)
    if not objects:
        return objects
    model = type(objects[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objects, batch_size=1000)
    meta = model._meta
    fields = list(meta.concrete_fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        with cursor.copy(
            f"COPY {connection.ops.quote_name(meta.db_table)} ({columns}) FROM STDIN"
        ) as copy:
            for pk, obj in zip(ids, objects, strict=True):
                obj.pk = pk
                copy.write_row(
                    [
                        field.get_db_prep_save(field.pre_save(obj, True), connection)
                        for field in fields
                    ]
                )
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects
