"""The queue's hot paths read a fixed number of queries however many items and judgments the
campaign has: the same on a small campaign and on one forty times larger, half judged (a
regression to a query per item or per judgment fails here)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bench.catalogue import Spec, build
from curation.accounts.users import user_create
from curation.models import Campaign, Title
from curation.review.campaigns import campaign_create
from curation.review.queue import (
    annotator_count,
    answer_record,
    campaign_progress,
    judgments_left,
    next_item,
    undo_last,
    with_progress,
)

pytestmark = pytest.mark.django_db

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]
# A walk that finds nothing ahead of the annotator's place goes round from the first group, and
# one that finds nothing but the last answer's cluster walks again allowing it: three more.
MORE_WALKS = 3


def queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def hot_paths(client, campaign: Campaign, annotator, newcomer) -> dict[str, int]:
    """Queries of each hot path, for an annotator who has judged in the campaign, and the first
    request of one who has not."""
    counts = {"next item, first": queries(lambda: next_item(campaign=campaign, annotator=newcomer))}
    served = next_item(campaign=campaign, annotator=annotator)
    assert served is not None
    counts["next item, held"] = queries(lambda: next_item(campaign=campaign, annotator=annotator))
    answer = dict(campaign=campaign, annotator=annotator, token=served.token, answer="usable")
    counts["answer"] = queries(lambda: answer_record(**answer))
    counts["answer sent twice"] = queries(lambda: answer_record(**answer))
    counts["undo"] = queries(lambda: undo_last(campaign=campaign, annotator=annotator))
    counts["judgments left"] = queries(lambda: judgments_left(campaign))
    counts["annotator's count"] = queries(
        lambda: annotator_count(campaign=campaign, annotator=annotator)
    )
    counts["progress"] = queries(lambda: campaign_progress(campaign))
    counts["campaign list"] = queries(lambda: list(with_progress(Campaign.objects.all())))
    return counts


def walking(client, campaign: Campaign, annotator, answers: int) -> dict[str, int]:
    """The most queries of ``answers`` rounds of next item and of the answer page (which
    records the answer, leases the next item and counts)."""
    client.force_login(annotator)
    most = {"next item": 0, "answer page": 0}
    url = reverse("review-answer", args=[campaign.pk])
    for _ in range(answers):
        with CaptureQueriesContext(connection) as leasing:
            served = next_item(campaign=campaign, annotator=annotator)
        assert served is not None
        with CaptureQueriesContext(connection) as page:
            client.post(url, {"token": served.token, "answer": "usable"}, HTTP_HX_REQUEST="true")
        most["next item"] = max(most["next item"], len(leasing))
        most["answer page"] = max(most["answer page"], len(page))
        held = next_item(campaign=campaign, annotator=annotator)  # the page leased it
        assert held is not None
        answer_record(campaign=campaign, annotator=annotator, token=held.token, answer="usable")
    return most


def test_the_queue_reads_as_many_queries_on_a_campaign_forty_times_larger(client):
    built = build(
        Spec(
            faces=4_000,
            titles=2,
            campaigns=("grade",),
            grade_selectors=tuple(SELECTORS),
            judged=0.5,
            undone=0.05,
            annotators=3,
        )
    )
    large = Campaign.objects.get(pk=built.campaigns["grade"])
    small = campaign_create(
        name="small",
        kind="grade",
        titles=[Title.objects.get(pk=built.titles[0])],
        selectors=SELECTORS,
        sample_size=8,
    )
    annotators = list(get_user_model().objects.filter(pk__in=built.annotators).order_by("pk"))
    for annotator in annotators:  # half the small campaign judged, by the same annotators
        for _ in range(small.items_asked // 2 // len(annotators)):
            served = next_item(campaign=small, annotator=annotator)
            answer_record(campaign=small, annotator=annotator, token=served.token, answer="usable")
    small.refresh_from_db()
    assert large.items_asked >= 40 * small.items_asked
    assert large.judged > 500 and small.judged > 5
    newcomers = [
        user_create(username=f"new{i}", role="annotator", password="pw-new-1")[0] for i in range(2)
    ]

    on_small = hot_paths(client, small, annotators[0], newcomers[0])
    on_large = hot_paths(client, large, annotators[0], newcomers[1])

    assert on_small == on_large
    assert on_large == {
        "next item, first": 8,  # lock, held?, last answer, walk, count anew, lease
        "next item, held": 5,
        "answer": 8,  # lease and item, judgment, lease gone, item, annotator, campaign
        "answer sent twice": 4,
        "undo": 9,
        "judgments left": 1,
        "annotator's count": 1,
        "progress": 2,
        "campaign list": 1,
    }
    for campaign in (small, large):
        most = walking(client, campaign, annotators[1], answers=5)
        assert most["next item"] <= on_large["next item, first"] + MORE_WALKS
        assert most["answer page"] <= 21 + MORE_WALKS, most
