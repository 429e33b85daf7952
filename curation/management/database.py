from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from curation.errors import first_line


def database_ready() -> None:
    """Before a command touches the database: the embedded one is migrated on first use; any
    other that is unreachable or not migrated is one line saying what to do."""
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        raise CommandError(f"cannot reach the database: {first_line(error)}") from None
    if not pending:
        return
    if settings.EMBEDDED_DATABASE:
        call_command("migrate", verbosity=0, interactive=False)
        return
    raise CommandError(
        f"the database is not set up ({len(pending)} migrations to apply): "
        "run `manage.py migrate` first"
    )
