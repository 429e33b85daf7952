"""``manage.py export_tables [--format csv|md|json|tex] [--out DIR]``: the evaluation tables."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.evaluation.checks import evaluation_tables
from curation.evaluation.export import FORMATS, write_tables
from curation.evaluation.tables import Filters
from curation.management.database import database_ready
from curation.models import Campaign, Title


class Command(BaseCommand):
    help = (
        "Write the evaluation tables (grades, paired tests, A/B, features, agreement, grades "
        "and A/B by slice, and the annotators on the check items), one file per table."
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
        parser.add_argument(
            "--exclude-below",
            type=float,
            default=None,
            metavar="SHARE",
            help="leave out annotators below this share (0-1) on gold or repeats",
        )

    def handle(self, *args, format, out, campaign, title, exclude_below, **options):
        database_ready()
        filters = Filters(
            campaigns=_ids(Campaign, campaign, "campaign"), titles=_ids(Title, title, "title")
        )
        if exclude_below is not None and not 0 <= exclude_below <= 1:
            raise CommandError("--exclude-below is a share between 0 and 1")
        tables = evaluation_tables(filters, exclude_below)
        for path in write_tables(tables, format, out):
            self.stdout.write(str(path))


def _ids(model, names: list[str], what: str) -> list[int]:
    ids = []
    for name in names:
        found = list(model.objects.filter(name=name).values_list("pk", flat=True))
        if not found:
            raise CommandError(f"no {what} named {name!r}")
        ids += found
    return ids
