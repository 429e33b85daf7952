"""``manage.py diff_runs A B``: what two scoring runs used differently, which picks changed, and
how people judged each run's picks."""

import json

from django.core.management.base import BaseCommand, CommandError

from curation.management.database import database_ready
from curation.models import ScoringRun
from curation.scoring_runs.diffs import RunsDiff, runs_diff
from curation.scoring_runs.judged import judged_record


class Command(BaseCommand):
    help = (
        "Compare scoring runs A and B (by id): what they used differently (code, model files, "
        "features, selector parameters, quality model), then each pick that changed, between "
        "which faces, and why; then, where people judged the runs' picks, their grades and A/B "
        "wins side by side. --json prints the same as JSON."
    )

    def add_arguments(self, parser):
        parser.add_argument("a", type=int, help="the earlier run's id")
        parser.add_argument("b", type=int, help="the later run's id")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON")

    def handle(self, *args, a: int, b: int, as_json: bool = False, **options):
        database_ready()
        runs = ScoringRun.objects.in_bulk([a, b])
        for number in (a, b):
            if number not in runs:
                raise CommandError(f"no scoring run {number}")
            if not runs[number].picks:
                raise CommandError(f"scoring run {number} recorded no picks (unfinished, or older)")
        diff = runs_diff(runs[a], runs[b])
        if as_json:
            self.stdout.write(_json(diff))
            return
        self.stdout.write(f"runs {a} → {b}: what they used")
        for line in diff.used or ["the same code, models, features and settings"]:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"{len(diff.changes)} picks changed, {diff.unchanged} the same")
        for change in diff.changes:
            self.stdout.write(
                f"  {change.cluster} / {change.selector}: face {change.face_a} → "
                f"{change.face_b}: {change.why}"
            )
        self._judged(diff, a, b)

    def _judged(self, diff: RunsDiff, a: int, b: int) -> None:
        judged = diff.judged
        self.stdout.write(f"judged picks: run {a} | run {b} | difference")
        for line in judged.not_judged:
            self.stdout.write(f"  {line}")
        for heading, rows in (("grades", judged.grades), ("A/B", judged.wins)):
            if rows:
                self.stdout.write(f"  {heading}")
            for row in rows:
                self.stdout.write(
                    f"    {row.what} / {row.measure}: {row.a} | {row.b} | {row.change}"
                )


def _json(diff: RunsDiff) -> str:
    return json.dumps(
        {
            "used": diff.used,
            "unchanged": diff.unchanged,
            "changes": [change.__dict__ for change in diff.changes],
            "judged": judged_record(diff.judged),
        },
        indent=2,
        ensure_ascii=False,
    )
