"""``manage.py train_quality_model``: weak labels over all scored faces, fit, activate."""

import json

from django.core.management.base import BaseCommand, CommandError

from curation.management.database import database_ready
from curation.scoring_runs.quality_models import NotEnoughFaces, quality_model_train
from scoring.features import FEATURE_NAMES
from scoring.quality import QualityParams


class Command(BaseCommand):
    help = (
        "Train a new quality model version on every face that has features, store it and "
        "make it the active one. Older versions stay selectable in the admin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--preset",
            choices=["default", "paper"],
            default="default",
            help="default: all nine features; paper: the paper's six with its first values",
        )
        parser.add_argument(
            "--features",
            help=f"comma-separated subset to learn from (of {', '.join(FEATURE_NAMES)})",
        )

    def handle(self, *args, preset, features, **options):
        database_ready()
        params = QualityParams.paper() if preset == "paper" else QualityParams()
        try:
            if features:
                params = params.with_features(tuple(f.strip() for f in features.split(",")))
            record = quality_model_train(params=params)
        except (NotEnoughFaces, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps(
                {"version": record.version, "titles": record.titles, "summary": record.summary},
                indent=2,
            )
        )
