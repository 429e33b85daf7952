"""``manage.py train_learned_model``: the learned selector's model, on people's judgments."""

import json

from django.core.management.base import BaseCommand, CommandError

from curation.management.database import database_ready
from curation.scoring_runs.learned_models import LearnedTrainingRefused, learned_model_train
from scoring.preference import NotEnoughJudgments


class Command(BaseCommand):
    help = (
        "Train the learned selector's model on the grades and A/B answers of campaigns, on top "
        "of the active weak-label quality model; store it and make it the active learned model. "
        "Prints what it learned from and how it and the weak model order held-out pairs."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--campaigns",
            help="comma-separated campaign ids to learn from (default: every campaign)",
        )

    def handle(self, *args, campaigns, **options):
        database_ready()
        try:
            ids = [int(part) for part in campaigns.split(",") if part.strip()] if campaigns else []
        except ValueError:
            raise CommandError(f"--campaigns: comma-separated ids, got {campaigns!r}") from None
        try:
            record = learned_model_train(campaigns=ids)
        except (LearnedTrainingRefused, NotEnoughJudgments) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps(
                {
                    "version": record.version,
                    "campaigns": record.campaigns,
                    "prior": record.params["prior"],
                    "summary": record.summary,
                },
                indent=2,
            )
        )
