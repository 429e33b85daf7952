"""The annotation queue on PostgreSQL: leases, overlap, double submits, undo, sides, roles."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.urls import reverse

from curation.accounts.users import user_create
from curation.models import ANSWER_SLOT, Campaign, Judgment, Selection
from curation.review.campaigns import CampaignInvalid, campaign_create
from curation.review.queue import (
    GRADES,
    StaleAnswer,
    answer_record,
    campaign_recount,
    left_is_a,
    live_judgments,
    next_item,
    open_items,
    undo_last,
)
from tests.integration.concurrency import at_once

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]


@pytest.fixture
def annotators():
    return [
        user_create(username=f"ann{i}", role="annotator", password="pw-ann-1")[0] for i in range(2)
    ]


def grade_campaign(title, **options) -> Campaign:
    return campaign_create(
        name="grade", kind="grade", titles=[title], selectors=SELECTORS, **options
    )


def test_grade_items_are_distinct_picks_credited_to_each_selector(scored_title):
    campaign = grade_campaign(scored_title)
    for item in campaign.items.all():
        picked_by = set(
            Selection.objects.filter(cluster=item.cluster, face=item.face).values_list(
                "selector", flat=True
            )
        )
        assert set(item.selectors) == picked_by
    assert sum(len(item.selectors) for item in campaign.items.all()) == 4 * 6


def test_ab_items_record_identical_picks_as_ties_and_never_serve_them(scored_title, annotators):
    campaign = campaign_create(
        name="ab", kind="ab", titles=[scored_title], selectors=["filtering", "regression"]
    )
    identical = set(campaign.items.filter(identical=True).values_list("pk", flat=True))
    served = set()
    while (item := next_item(campaign=campaign, annotator=annotators[0])) is not None:
        served.add(item.item.pk)
        answer_record(campaign=campaign, annotator=annotators[0], token=item.token, answer="left")
    assert served.isdisjoint(identical)
    assert len(served) + len(identical) == 6


def test_a_double_submit_records_one_judgment(scored_title, annotators):
    campaign = grade_campaign(scored_title)
    served = next_item(campaign=campaign, annotator=annotators[0])
    first = answer_record(
        campaign=campaign, annotator=annotators[0], token=served.token, answer="usable"
    )
    again = answer_record(
        campaign=campaign, annotator=annotators[0], token=served.token, answer="excellent"
    )
    assert first.pk == again.pk
    assert Judgment.objects.count() == 1
    assert first.seconds >= 0


def test_ab_sides_are_drawn_at_random_per_item_and_annotator():
    campaign = Campaign(seed=7)
    draws = [
        left_is_a(campaign=campaign, item_id=item, annotator_id=annotator)
        for item in range(1, 201)
        for annotator in (1, 2)
    ]
    assert 0.4 < sum(draws) / len(draws) < 0.6
    per_annotator = list(zip(draws[::2], draws[1::2], strict=True))
    assert sum(a != b for a, b in per_annotator) > 60  # two annotators see different sides
    assert draws == [
        left_is_a(campaign=campaign, item_id=item, annotator_id=annotator)
        for item in range(1, 201)
        for annotator in (1, 2)
    ]  # the same on every visit


def test_a_refresh_serves_the_same_item_until_it_is_answered(scored_title, annotators):
    campaign = grade_campaign(scored_title)
    one = next_item(campaign=campaign, annotator=annotators[0])
    two = next_item(campaign=campaign, annotator=annotators[0])
    assert (one.item.pk, one.token) == (two.item.pk, two.token)


def test_undo_supersedes_and_hands_the_item_back(scored_title, annotators):
    campaign = grade_campaign(scored_title)
    served = next_item(campaign=campaign, annotator=annotators[0])
    judged = answer_record(
        campaign=campaign, annotator=annotators[0], token=served.token, answer="usable"
    )
    judged.item.refresh_from_db()
    assert judged.item.judged == 1
    undo = undo_last(campaign=campaign, annotator=annotators[0])

    assert undo.supersedes == judged
    assert live_judgments(campaign).count() == 0
    judged.item.refresh_from_db()
    assert judged.item.judged == 0
    assert next_item(campaign=campaign, annotator=annotators[0]).item == judged.item
    assert Judgment.objects.count() == 2  # append-only


def test_a_skip_is_recorded_counts_for_nothing_and_leaves_the_item_to_others(
    scored_title, annotators
):
    first, second = annotators
    campaign = grade_campaign(scored_title, overlap=1)
    served = next_item(campaign=campaign, annotator=first)
    skipped = answer_record(campaign=campaign, annotator=first, token=served.token, answer="skip")

    assert skipped.answer == Judgment.Answer.SKIP
    served.item.refresh_from_db()
    assert served.item.judged == 0 and live_judgments(campaign).count() == 0
    assert not open_items(campaign, first).filter(pk=served.item.pk).exists()  # not again
    assert open_items(campaign, second).filter(pk=served.item.pk).exists()  # still open
    undo = undo_last(campaign=campaign, annotator=first)
    assert undo.supersedes == skipped
    served.item.refresh_from_db()
    assert served.item.judged == 0


def test_an_expired_lease_frees_the_item_for_someone_else(scored_title, annotators):
    campaign = grade_campaign(scored_title, overlap=1)
    campaign.lease_seconds = 0
    campaign.save()
    first = next_item(campaign=campaign, annotator=annotators[0])
    assert open_items(campaign, annotators[1]).filter(pk=first.item.pk).exists()
    campaign.lease_seconds = 300
    campaign.save()
    held = next_item(campaign=campaign, annotator=annotators[0])
    assert not open_items(campaign, annotators[1]).filter(pk=held.item.pk).exists()


def test_invalid_campaigns_are_refused_with_a_reason(scored_title):
    with pytest.raises(CampaignInvalid, match="exactly two"):
        campaign_create(name="x", kind="ab", titles=[scored_title], selectors=["baseline"])
    with pytest.raises(CampaignInvalid, match="unknown selectors"):
        campaign_create(name="x", kind="grade", titles=[scored_title], selectors=["magic"])


@pytest.mark.parametrize("people, overlap", [(2, 1), (2, 2), (5, 2), (5, 3)])
def test_concurrent_annotators_reach_the_overlap_exactly_and_no_leased_answer_is_refused(
    scored_title, annotators, people, overlap
):
    assert connection.vendor == "postgresql"
    annotators = annotators + [
        user_create(username=f"more{i}", role="annotator", password="pw-ann-1")[0]
        for i in range(people - len(annotators))
    ]
    campaign = grade_campaign(scored_title, overlap=overlap)
    errors = []

    def work(annotator):
        try:
            while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
                answer_record(
                    campaign=campaign, annotator=annotator, token=served.token, answer="usable"
                )
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(a,)) for a in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors
    per_item = Counter(live_judgments(campaign).values_list("item", flat=True))
    assert set(per_item) == set(campaign.items.values_list("pk", flat=True))
    assert set(per_item.values()) == {overlap}
    pairs = list(live_judgments(campaign).values_list("item", "annotator"))
    assert len(pairs) == len(set(pairs))  # nobody judged an item twice
    counted = dict(campaign.items.values_list("pk", "judged"))
    assert counted == dict(per_item)  # the live counters agree with the judgments


def test_annotators_get_403_on_admin_pages_and_never_see_selector_names(
    client, scored_title, annotators
):
    campaign = campaign_create(
        name="filtering vs regression",
        kind="ab",
        titles=[scored_title],
        selectors=["filtering", "regression"],
    )
    client.force_login(annotators[0])
    for url in (
        reverse("campaign-list"),
        reverse("campaign-detail", args=[campaign.pk]),
        reverse("title-list"),
        "/api/titles/",
    ):
        assert client.get(url).status_code == 403, url
    page = client.get(reverse("review-queue", args=[campaign.pk])).content.decode().lower()
    home = client.get(reverse("review-home")).content.decode().lower()
    assert "left headshot" in page
    for name in SELECTORS:
        assert name not in page
        assert name not in home


def test_an_admin_creates_campaigns_in_the_admin_form(client, scored_title):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    url = reverse("admin:curation_campaign_add")
    form = {
        "name": "AB",
        "kind": "ab",
        "titles": [scored_title.pk],
        "overlap": 2,
        "seed": 3,
        "lease_seconds": 45,
    }

    refused = client.post(url, form | {"selectors": ["filtering"]})
    created = client.post(url, form | {"selectors": ["filtering", "regression"]})

    assert "exactly two selectors" in refused.content.decode()
    campaign = Campaign.objects.get()
    assert created["Location"] == reverse("campaign-detail", args=[campaign.pk])
    assert (campaign.kind, campaign.overlap, campaign.selectors, campaign.lease_seconds) == (
        "ab",
        2,
        ["filtering", "regression"],
        45,
    )
    assert campaign.items.count() == 6
    page = client.get(created["Location"]).content.decode()
    assert "0 / " in page and "No judgments yet" in page


def test_item_images_are_only_for_the_lease_holder_and_reveal_no_side(
    client, scored_title, annotators
):
    campaign = campaign_create(
        name="ab", kind="ab", titles=[scored_title], selectors=["filtering", "regression"]
    )
    holder, other = annotators
    served = next_item(campaign=campaign, annotator=holder)
    item = served.item

    def image(slot):
        return client.get(reverse("item-image", args=[item.pk, slot]))

    # Someone who never held the item sees none of its images.
    client.force_login(other)
    for slot in ("left", "right", "headshot", "face", "frame", "reference"):
        assert image(slot).status_code == 404, slot
    # The holder sees the two sides, never selector A's face by another slot name.
    client.force_login(holder)
    for slot in ("headshot", "face", "frame"):
        assert image(slot).status_code == 404, slot
    for slot in ("left", "right", "reference"):
        response = image(slot)
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'inline; filename="{slot}.jpg"'
        b"".join(response.streaming_content)
    # Having judged it, the holder may still look at it (undo shows it again).
    answer_record(campaign=campaign, annotator=holder, token=served.token, answer="left")
    assert image("left").status_code == 200
    # A grade item shows its face, frame and headshot to its holder, by slot names only.
    grade = grade_campaign(scored_title)
    served = next_item(campaign=grade, annotator=holder)
    for slot in ("headshot", "face", "frame"):
        response = client.get(reverse("item-image", args=[served.item.pk, slot]))
        assert response.status_code == 200, slot
        assert f'filename="{slot}.' in response["Content-Disposition"]
        assert "face-" not in response["Content-Disposition"]
    assert client.get(reverse("item-image", args=[served.item.pk, "left"])).status_code == 404


def test_an_answer_refused_because_the_item_filled_up_frees_the_annotator(scored_title, annotators):
    from curation.models import Lease

    holder, other = annotators
    campaign = grade_campaign(scored_title, overlap=1)
    served = next_item(campaign=campaign, annotator=holder)
    # The item was filled behind the holder's back (as an earlier race could do).
    Judgment.objects.create(
        item=served.item, annotator=other, answer="usable", seconds=1, token="f" * 32
    )
    type(served.item).objects.filter(pk=served.item.pk).update(judged=1)
    with pytest.raises(StaleAnswer, match="already has all its judgments"):
        answer_record(campaign=campaign, annotator=holder, token=served.token, answer="usable")
    assert not Lease.objects.filter(annotator=holder).exists()
    assert next_item(campaign=campaign, annotator=holder).item != served.item


def test_the_same_answer_sent_twice_at_once_is_recorded_once_and_both_hear_so(
    scored_title, annotators
):
    campaign = grade_campaign(scored_title)
    served = next_item(campaign=campaign, annotator=annotators[0])
    results = at_once(
        lambda _: (
            answer_record(
                campaign=campaign, annotator=annotators[0], token=served.token, answer="usable"
            ).pk
        ),
        2,
    )
    assert len(results) == 2 and results[0] == results[1], results
    assert Judgment.objects.count() == 1


def test_rescoring_during_an_open_campaign_changes_nothing_an_annotator_sees(
    client, scored_title, annotators
):
    from curation.evaluation.tables import Filters, table3

    campaign = campaign_create(
        name="ab", kind="ab", titles=[scored_title], selectors=["filtering", "regression"]
    )
    assert all(item.crop and item.crop_b for item in campaign.items.all())
    holder = annotators[0]
    served = next_item(campaign=campaign, annotator=holder)
    client.force_login(holder)

    def shown():
        return {
            slot: b"".join(
                client.get(reverse("item-image", args=[served.item.pk, slot])).streaming_content
            )
            for slot in ("left", "right")
        }

    def table():  # as JSON: an unmeasured feature's NaN equals itself there
        return json.dumps(table3(Filters(campaigns=[campaign.pk])).raw, sort_keys=True)

    before, table_before = shown(), table()
    # Scoring again picks other faces, with new headshot files.
    for selection in Selection.objects.filter(cluster__title=scored_title):
        selection.face = selection.cluster.faces.exclude(pk=selection.face_id).first()
        selection.crop = ""
        selection.save()
    assert shown() == before
    assert table() == table_before


def test_one_annotator_asking_twice_at_once_holds_one_lease(scored_title, annotators):
    from curation.models import Lease

    campaign = grade_campaign(scored_title)

    def ask(_):
        got = next_item(campaign=campaign, annotator=annotators[0])
        return got.item.pk, got.token

    served = at_once(ask, 4)
    assert len(set(served)) == 1 and len(served) == 4
    assert Lease.objects.filter(annotator=annotators[0]).count() == 1


def test_each_annotator_gets_a_shuffled_order_and_one_person_twice_only_when_nothing_else_is_left(
    scored_title,
):
    campaign = grade_campaign(scored_title)
    annotators = [
        user_create(username=f"order{i}", role="annotator", password="pw-order-1")[0]
        for i in range(2)
    ]
    orders = []
    for annotator in annotators:
        items, clusters = [], []
        while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
            items.append(served.item.pk)
            clusters.append(served.item.cluster_id)
            answer_record(campaign=campaign, annotator=annotator, token=served.token, answer="skip")
        for at in range(1, len(clusters)):
            if clusters[at] == clusters[at - 1]:
                assert set(clusters[at:]) == {clusters[at]}, clusters  # only that person left
        orders.append(items)
    assert (
        sorted(orders[0])
        == sorted(orders[1])
        == sorted(campaign.items.values_list("pk", flat=True))
    )
    assert orders[0] != orders[1]
    assert sorted(orders[0]) not in (orders[0], orders[1])


def test_an_answer_before_the_minimum_viewing_time_is_not_taken(scored_title, annotators):
    from curation.review.queue import TooQuick

    campaign = grade_campaign(scored_title)
    served = next_item(campaign=campaign, annotator=annotators[0])
    with pytest.raises(TooQuick):
        answer_record(
            campaign=campaign,
            annotator=annotators[0],
            token=served.token,
            answer="usable",
            viewed_ms=40,
        )
    assert not Judgment.objects.exists()
    again = next_item(campaign=campaign, annotator=annotators[0])
    assert (again.item, again.token) == (served.item, served.token)  # still theirs
    judged = answer_record(
        campaign=campaign,
        annotator=annotators[0],
        token=served.token,
        answer="usable",
        viewed_ms=1200,
    )
    assert 0 <= judged.seconds <= 1.2  # the time shown, capped by the time since served


def test_items_carry_a_reference_face_of_the_person_that_no_selector_picked(scored_title):
    campaign = grade_campaign(scored_title)
    picked = set(Selection.objects.values_list("face_id", flat=True))
    for item in campaign.items.select_related("reference"):
        assert item.reference is not None
        assert item.reference.cluster_id == item.cluster_id
        assert item.reference_id not in picked


def test_an_admin_creates_an_ab_campaign_in_the_app_choosing_a_and_b_by_name(client, scored_title):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    page = client.get(reverse("campaign-new")).content.decode()
    assert f"{scored_title.name} (6 clusters)" in page and "A/B" in page
    form = {
        "name": "B first",
        "kind": "ab",
        "titles": [scored_title.pk],
        "selector_a": "regression",
        "selector_b": "baseline",
        "overlap": 2,
        "seed": 1,
        "lease_seconds": 120,
        "min_view_ms": 400,
    }
    preview = client.get(reverse("campaign-preview"), form).content.decode()
    identical = sum(
        Selection.objects.get(cluster=c, selector="regression").face_id
        == Selection.objects.get(cluster=c, selector="baseline").face_id
        for c in scored_title.clusters.all()
    )
    asked = 6 - identical
    assert f"<strong>{asked}</strong> item" in preview
    assert f"{asked * 2} judgment" in preview

    same = client.post(reverse("campaign-new"), form | {"selector_b": "regression"})
    assert "must differ" in same.content.decode()
    created = client.post(reverse("campaign-new"), form)
    campaign = Campaign.objects.get()
    assert created["Location"] == reverse("campaign-detail", args=[campaign.pk])
    assert campaign.selectors == ["regression", "baseline"]  # A, then B, as chosen
    assert (campaign.overlap, campaign.lease_seconds, campaign.min_view_ms) == (2, 120, 400)
    assert campaign.items.filter(identical=False).count() == asked
    assert campaign.items.filter(identical=True).count() == identical


def test_the_campaign_page_offers_only_scored_titles(client, scored_title):
    from curation.models import Title

    Title.objects.create(name="imported only", status=Title.Status.IMPORTED)
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    page = client.get(reverse("campaign-new")).content.decode()
    assert "imported only" not in page and f"{scored_title.name} (6 clusters)" in page


def counters(campaign: Campaign) -> dict[int, tuple[int, int, int, int]]:
    return {
        pk: tuple(counts)
        for pk, *counts in campaign.items.values_list(
            "pk", "judged", "answers_0", "answers_1", "answers_2"
        )
    }


@pytest.mark.parametrize("kind", ["grade", "ab"])
def test_each_answers_counters_follow_answers_skips_and_undos_as_the_judgments_say(
    scored_title, annotators, kind
):
    """What the evaluation counts without reading judgments: the live judgments of each answer
    per item, kept by the queue, equal to a recount from the judgments."""
    if kind == "grade":
        campaign, answers = grade_campaign(scored_title, overlap=2), GRADES
    else:
        campaign = campaign_create(
            name="ab", kind="ab", titles=[scored_title], selectors=SELECTORS[:2], overlap=2
        )
        answers = ["left", "right", "equal"]
    rng = random.Random(5)
    for step in range(40):
        annotator = annotators[step % 2]
        served = next_item(campaign=campaign, annotator=annotator)
        if served is None:
            break
        answer = "skip" if rng.random() < 0.1 else rng.choice(answers)
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer=answer)
        if rng.random() < 0.25:
            undo_last(campaign=campaign, annotator=annotator)
    kept = counters(campaign)
    assert sum(judged for judged, *_ in kept.values()) > 5
    expected = {pk: [0, 0, 0, 0] for pk in kept}
    for item, answer in live_judgments(campaign).values_list("item", "answer"):
        expected[item][0] += 1
        expected[item][1 + ANSWER_SLOT[answer]] += 1
    assert kept == {pk: tuple(counts) for pk, counts in expected.items()}
    campaign_recount(campaign)
    assert counters(campaign) == kept
