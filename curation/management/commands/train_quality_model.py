"""``manage.py train_quality_model``: weak labels over all scored faces, fit, activate."""

import json

from django.core.management.base import BaseCommand, CommandError

from curation.pipeline.stages import NotEnoughFaces, quality_model_train


class Command(BaseCommand):
    help = (
        "Train a new quality model version on every face that has features, store it and "
        "make it the active one. Older versions stay selectable in the admin."
    )

    def handle(self, *args, **options):
        try:
            record = quality_model_train()
        except NotEnoughFaces as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps(
                {"version": record.version, "titles": record.titles, "summary": record.summary},
                indent=2,
            )
        )
