"""``manage.py export_faces NAME``: one JSON line per face."""

import json

from django.core.management.base import BaseCommand

from curation.management.database import database_ready
from curation.management.titles import title_named
from curation.scoring_runs.queries import face_record


class Command(BaseCommand):
    help = "Print one JSON line per face: source file, box, landmarks, features, quality."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the title's name")

    def handle(self, *args, name, **options):
        database_ready()
        title = title_named(name)
        faces = title.faces.select_related("frame", "cluster", "track").order_by(
            "cluster__label", "pk"
        )
        for face in faces.iterator(chunk_size=2000):
            self.stdout.write(json.dumps(face_record(face)))
