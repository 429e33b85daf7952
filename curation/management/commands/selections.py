"""``manage.py selections NAME``: per cluster and selector, the chosen face as JSON."""

import json

from django.core.management.base import BaseCommand

from curation.management.database import database_ready
from curation.management.titles import title_named
from curation.scoring_runs.queries import title_selections


class Command(BaseCommand):
    help = "Print JSON: per cluster and selector, the chosen face, its features, quality, crop."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the title's name")

    def handle(self, *args, name, **options):
        database_ready()
        title = title_named(name)
        self.stdout.write(json.dumps(title_selections(title), indent=2))
