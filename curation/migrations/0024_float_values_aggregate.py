"""``float_values(double precision)``: the values as an array, in no order. Table 3 collects the
values near each median with it (``curation.evaluation.aggregates``); unlike ``array_agg`` before
PostgreSQL 16, its partial results combine, so parallel workers can share the scan. Built from
PostgreSQL's own ``array_append`` and ``array_cat``. SQLite sorts Table 3's values in Python and
needs none."""

from django.db import migrations

CREATE = (
    "CREATE AGGREGATE float_values(double precision) ("
    "sfunc = array_append, stype = double precision[], combinefunc = array_cat,"
    " parallel = safe)"
)
DROP = "DROP AGGREGATE IF EXISTS float_values(double precision)"


def _on_postgresql(statement):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("curation", "0023_item_answer_counts")]
    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
