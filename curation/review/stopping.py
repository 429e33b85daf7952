"""Whether a campaign has judged enough: each interval's width against the campaign's target,
the judgments still needed, and what disagreement-first order saves (the estimates are
documented in ``curation.evaluation.planning``)."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Max

from curation.evaluation import aggregates
from curation.evaluation.planning import (
    MIN_TRIALS,
    ClusterOutcome,
    Savings,
    decisive_to_decide,
    full_width,
    order_savings,
    trials_for_width,
)
from curation.evaluation.stats import sign_test, wilson_interval
from curation.evaluation.tables import Filters, counted_items
from curation.models import SELECTOR_ITEMS, Campaign, Judgment

OUTCOMES = (
    ("unidentifiable", lambda rank: rank == 0),
    ("usable", lambda rank: rank >= 1),
    ("excellent", lambda rank: rank == 2),
)


@dataclass(frozen=True)
class Interval:
    """One interval of the campaign: what it measures, its width now, and the judgments it
    still needs (0: enough; None: this campaign's items cannot get it there)."""

    label: str
    count: int
    n: int
    width: float
    needed: int | None
    note: str = ""

    @property
    def enough(self) -> bool:
        return self.needed == 0


@dataclass(frozen=True)
class Stopping:
    """A grade campaign has enough when every interval is narrow enough; an A/B campaign when
    its interval is, or when its sign test is decided."""

    target: float
    judgments: int
    intervals: list[Interval]
    enough: bool


def _more(judgments: int, n: int, needed_n: int) -> int:
    """Judgments still needed for ``needed_n`` trials when ``judgments`` gave ``n``."""
    return max(0, math.ceil(judgments * needed_n / n) - judgments)


def campaign_stopping(campaign: Campaign) -> Stopping:
    """Read from the campaign's counters and its items' (a few aggregates), never from its
    judgments."""
    judgments = Campaign.objects.values_list("judged", flat=True).get(pk=campaign.pk)
    if campaign.kind == Campaign.Kind.AB:
        intervals = _ab_intervals(campaign, judgments)
        enough = any(i.enough for i in intervals)
    else:
        intervals = _grade_intervals(campaign, judgments)
        enough = bool(intervals) and all(i.enough for i in intervals)
    return Stopping(campaign.target_width, judgments, intervals, enough)


def _grade_intervals(campaign: Campaign, judgments: int) -> list[Interval]:
    items = counted_items(Filters(campaigns=[campaign.pk]), Campaign.Kind.GRADE)
    asked = aggregates.credited_items(items.filter(identical=False))
    graded: dict[str, Counter] = defaultdict(Counter)
    for found, count in aggregates.selector_grades(None, items, campaign.selectors):
        for selector, rank in zip(campaign.selectors, found, strict=True):
            if rank is not None:
                graded[selector][rank] += count
    intervals = []
    for selector in campaign.selectors:
        ranks = graded[selector]
        for outcome, hit in OUTCOMES:
            count = sum(n for rank, n in ranks.items() if hit(rank))
            intervals.append(
                _interval(
                    f"{selector}: {outcome}",
                    count,
                    ranks.total(),
                    asked[selector],
                    judgments,
                    campaign.target_width,
                )
            )
    return intervals


def _interval(
    label: str, count: int, n: int, capacity: int, judgments: int, target: float
) -> Interval:
    """The interval of ``count`` of ``n``, and the judgments it needs to be ``target`` wide
    when at most ``capacity`` trials can be had."""
    low, high = wilson_interval(count, n) if n else (0.0, 1.0)
    width = high - low
    if n == 0:
        return Interval(label, count, n, width, None, "no judgments yet")
    needed_n = trials_for_width(count / n, target, start=n)
    if needed_n <= n:
        return Interval(label, count, n, width, 0)
    if needed_n > capacity:
        low, high = wilson_interval(round(count / n * capacity), capacity)
        return Interval(
            label,
            count,
            n,
            width,
            None,
            f"this campaign's {capacity} clusters end near {100 * (high - low):.0f} points",
        )
    return Interval(label, count, n, width, _more(judgments, n, needed_n))


def _ab_intervals(campaign: Campaign, judgments: int) -> list[Interval]:
    items = counted_items(Filters(campaigns=[campaign.pk]), Campaign.Kind.AB)
    outcome: Counter = Counter()
    for (_, _, answer), count in aggregates.ab_outcomes(None, items).items():
        outcome[answer] += count
    wins_a, wins_b = outcome[Judgment.Answer.A], outcome[Judgment.Answer.B]
    decisive, judged = wins_a + wins_b, outcome.total()
    a, b = campaign.selectors
    label = f"{a} better than {b}, of the decisive clusters"
    asked = items.filter(identical=False).count()
    # The decisive clusters the rest of the campaign can give, at the rate seen so far.
    capacity = round(asked * decisive / judged) if judged else asked
    width_interval = _interval(label, wins_a, decisive, capacity, judgments, campaign.target_width)
    if decisive == 0:
        return [width_interval]
    p = sign_test(wins_a, wins_b)
    test = f"sign test at α = {campaign.alpha:g}"
    if p < campaign.alpha:
        return [width_interval, Interval(test, wins_a, decisive, 0.0, 0, f"decided: p = {p:.2g}")]
    needed_n = decisive_to_decide(wins_a / decisive, campaign.alpha)
    if needed_n is None or needed_n > capacity:
        note = f"p = {p:.2g}: not decided within this campaign if the share stays"
        return [width_interval, Interval(test, wins_a, decisive, 0.0, None, note)]
    more = _more(judgments, decisive, needed_n)
    return [width_interval, Interval(test, wins_a, decisive, 0.0, more, f"p = {p:.2g}")]


def cluster_outcomes(campaign: Campaign) -> list[ClusterOutcome]:
    """The clusters of a grade campaign with two or more selectors whose items are all judged
    (an agreeing cluster needs none: it adds 0 to every difference), for the savings replay."""
    if campaign.kind != Campaign.Kind.GRADE or len(campaign.selectors) < 2:
        return []
    items = campaign.items.filter(SELECTOR_ITEMS)
    pairs = list(itertools.combinations(range(len(campaign.selectors)), 2))
    outcomes = []
    for n, every_judged, usable, count in aggregates.cluster_usable(items, campaign.selectors):
        if n == 1:
            outcomes += [ClusterOutcome(1, True, tuple(0 for _ in pairs))] * count
        elif every_judged:
            differences = tuple((usable[s] or 0) - (usable[t] or 0) for s, t in pairs)
            outcomes += [ClusterOutcome(n, False, differences)] * count
    return outcomes


def campaign_savings(campaign: Campaign) -> Savings | None:
    """What disagreement-first order saves against random order to reach the width random
    order reaches with every recorded cluster judged (None: not a grade campaign of two or more
    selectors, or too few judged clusters). The replays take a moment on a large campaign, so
    the result is kept until the campaign has a new judgment (an undo is one too)."""
    latest = Judgment.objects.filter(item__campaign=campaign).aggregate(latest=Max("pk"))
    key = f"campaign-savings:{campaign.pk}:{latest['latest']}"
    if (kept := cache.get(key)) is not None:
        return kept or None
    outcomes = cluster_outcomes(campaign)
    savings = None
    if len(outcomes) >= 2 * MIN_TRIALS:
        # The replays spend one judgment an item; each item takes the campaign's overlap.
        savings = order_savings(outcomes, full_width(outcomes)).times(campaign.overlap)
    cache.set(key, savings or False, timeout=24 * 3600)
    return savings
