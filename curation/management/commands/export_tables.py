"""``manage.py export_tables [--format csv|md|json|tex] [--out DIR]``: the evaluation tables."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.evaluation.export import FORMATS, write_tables
from curation.evaluation.tables import Filters, all_tables
from curation.management.database import database_ready
from curation.models import Campaign, Title


class Command(BaseCommand):
    help = (
        "Write the evaluation tables (grades, paired tests, A/B, features, agreement), one "
        "file per table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=FORMATS, default="md")
        parser.add_argument("--out", type=Path, default=Path("evaluation-tables"))
        parser.add_argument(
            "--campaign",
            action="append",
            default=[],
            help="campaign name (repeatable); default all",
        )
        parser.add_argument(
            "--title", action="append", default=[], help="title name (repeatable); default all"
        )

    def handle(self, *args, format, out, campaign, title, **options):
        database_ready()
        filters = Filters(
            campaigns=_ids(Campaign, campaign, "campaign"), titles=_ids(Title, title, "title")
        )
        for path in write_tables(all_tables(filters), format, out):
            self.stdout.write(str(path))


def _ids(model, names: list[str], what: str) -> list[int]:
    ids = []
    for name in names:
        found = list(model.objects.filter(name=name).values_list("pk", flat=True))
        if not found:
            raise CommandError(f"no {what} named {name!r}")
        ids += found
    return ids
