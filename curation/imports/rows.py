"""Writing many rows at once: by COPY on PostgreSQL, by ``bulk_create`` and ``bulk_update``
elsewhere.

A 40,000-face video title is about 45,000 rows. ``bulk_create`` spends most of its time building
and parsing multi-row INSERT statements; COPY streams the same rows in less than half the time
(bench/README.md, "Scale"). COPY returns no ids, so they are drawn from the table's sequence
first, and the rows carry them, as ``bulk_create`` would have set them.

``bulk_update`` writes one ``CASE WHEN id = … THEN …`` per field with a branch per row, which
the database walks for every row: 20,000 faces' quality took 9.8 s in batches of 1,000. Copied
into a temporary table and joined on the id, the same took 1.1 s.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from django.db import connection, transaction
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


def rows_update(objects: Sequence[M], fields: Sequence[str]) -> None:
    """Store ``fields`` of ``objects`` (saved rows of one model), as ``bulk_update`` does."""
    objects = list(objects)
    if not objects:
        return
    model = type(objects[0])
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objects, fields, batch_size=1000)
        return
    meta, quote = model._meta, connection.ops.quote_name
    written = [f for f in meta.concrete_fields if f.primary_key or f.name in fields]
    if len(written) != len(set(fields)) + 1:
        raise ValueError(f"not all of {list(fields)} are columns of {meta.label}")
    columns = ", ".join(quote(field.column) for field in written)
    table = quote(meta.db_table)
    key = next(quote(field.column) for field in written if field.primary_key)
    assignments = ", ".join(
        f"{quote(field.column)} = changed.{quote(field.column)}"
        for field in written
        if not field.primary_key
    )
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        cursor.execute(
            f"CREATE TEMPORARY TABLE changed ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY changed ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row(
                    [
                        field.get_db_prep_save(getattr(obj, field.attname), connection)
                        for field in written
                    ]
                )
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM changed WHERE {table}.{key} = changed.{key}"
        )
        cursor.execute("DROP TABLE changed")
