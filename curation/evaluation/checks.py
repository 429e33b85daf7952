"""How far each annotator can be trusted, from the check items: accuracy on gold items (whose
answer is known) and self-consistency on A/B pairs shown again with the sides swapped; and the
switch that leaves the annotators below a threshold out of the tables."""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.db.models import Count, F, OuterRef, Q, Subquery

from curation.evaluation.stats import wilson_interval
from curation.evaluation.tables import Filters, Table, filtered, live_judgments
from curation.models import Judgment
from curation.review.queue import DECISIVE

# Fewer checks than this say too little to exclude anyone: an annotator who answers at random
# gets 5 three-way gold items right by luck with probability 4.5 %.
MIN_CHECKS = 5


@dataclass
class AnnotatorChecks:
    annotator: str
    gold: int = 0
    gold_right: int = 0
    repeats: int = 0
    consistent: int = 0

    @property
    def accuracy(self) -> float | None:
        return self.gold_right / self.gold if self.gold else None

    @property
    def consistency(self) -> float | None:
        return self.consistent / self.repeats if self.repeats else None

    def shortfall(self, threshold: float) -> str:
        """Why the annotator falls below ``threshold`` on enough checks; empty when they do
        not."""
        reasons = []
        if self.gold >= MIN_CHECKS and self.gold_right / self.gold < threshold:
            reasons.append(f"gold {self.gold_right}/{self.gold} right")
        if self.repeats >= MIN_CHECKS and self.consistent / self.repeats < threshold:
            reasons.append(f"{self.consistent}/{self.repeats} repeats answered the same")
        return ", ".join(reasons)


def annotator_checks(filters: Filters) -> list[AnnotatorChecks]:
    """Per annotator with any check answered in the filters' campaigns, titles and dates,
    counted by the database (a repeat against the same annotator's live answer to the item it
    repeats, wherever and whenever that was given)."""
    live = filtered(live_judgments(Filters()), filters)
    by_name: dict[str, AnnotatorChecks] = {}
    for row in (
        live.exclude(item__gold="")
        .values("annotator__username")
        .annotate(n=Count("pk"), right=Count("pk", filter=Q(answer=F("item__gold"))))
        .order_by()
    ):
        name = row["annotator__username"]
        by_name[name] = AnnotatorChecks(name, gold=row["n"], gold_right=row["right"])
    first = Judgment.objects.filter(
        annotator=OuterRef("annotator"),
        item=OuterRef("item__repeat_of"),
        answer__in=DECISIVE,
        superseded_by__isnull=True,
    ).values("answer")[:1]
    for row in (
        live.filter(item__repeat_of__isnull=False)
        .annotate(first=Subquery(first))
        .exclude(first=None)  # the original's answer was undone since
        .values("annotator__username")
        .annotate(n=Count("pk"), same=Count("pk", filter=Q(answer=F("first"))))
        .order_by()
    ):
        name = row["annotator__username"]
        checks = by_name.setdefault(name, AnnotatorChecks(name))
        checks.repeats, checks.consistent = row["n"], row["same"]
    return sorted(by_name.values(), key=lambda c: c.annotator)


def exclude_unreliable(filters: Filters, threshold: float) -> Filters:
    """The filters with the annotators below ``threshold`` (a share) on gold accuracy or on
    self-consistency, over at least ``MIN_CHECKS`` checks, excluded, and why."""
    excluded = {
        checks.annotator: reason
        for checks in annotator_checks(replace(filters, excluded={}))
        if (reason := checks.shortfall(threshold))
    }
    return replace(filters, excluded=excluded)


def checks_table(filters: Filters, threshold: float | None = None) -> Table:
    """Per annotator: accuracy on gold and consistency on repeats, with Wilson intervals."""
    rows, raw = [], []
    for checks in annotator_checks(replace(filters, excluded={})):
        cells = []
        for right, n in ((checks.gold_right, checks.gold), (checks.consistent, checks.repeats)):
            low, high = wilson_interval(right, n)
            cells.append(
                f"{100 * right / n:.0f}% [{100 * low:.0f}, {100 * high:.0f}] ({right}/{n})"
                if n
                else "—"
            )
        reason = filters.excluded.get(checks.annotator, "")
        rows.append([checks.annotator, *cells, f"excluded: {reason}" if reason else ""])
        raw.append(
            {
                "annotator": checks.annotator,
                "gold": checks.gold,
                "gold_right": checks.gold_right,
                "accuracy": checks.accuracy,
                "repeats": checks.repeats,
                "consistent": checks.consistent,
                "consistency": checks.consistency,
                "excluded": reason,
            }
        )
    caption = "Annotators on the check items (Wilson 95 %)"
    if threshold is not None:
        caption += f"; excluded below {100 * threshold:.0f} % after {MIN_CHECKS} checks"
    return Table(
        "annotator_checks",
        caption,
        ["Annotator", "Gold answered right", "Repeats answered the same", "Excluded"],
        rows,
        raw,
        empty="" if rows else "No check items answered yet: give a campaign a share of checks.",
    )


def evaluation_tables(filters: Filters, threshold: float | None = None) -> list[Table]:
    """Every table the exports hold: the evaluation tables and their slices, counted without
    the annotators below ``threshold`` on the checks when one is given, and the checks table
    that says whom that left out."""
    from curation.evaluation.slices import slice_tables
    from curation.evaluation.tables import all_tables

    if threshold is not None:
        filters = exclude_unreliable(filters, threshold)
    return [*all_tables(filters), *slice_tables(filters), checks_table(filters, threshold)]
