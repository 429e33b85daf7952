"""Campaigns that decide: disagreement-first order, check items that catch an annotator who
answers at random, the switch that leaves them out, and the stopping rule on the campaign
page; with simulated annotators answering through the real queue."""

from __future__ import annotations

import io
import json
import random
import zipfile

import cv2
import numpy as np
import pytest
from django.core.management import call_command
from django.urls import reverse

from curation.accounts.users import user_create
from curation.evaluation.checks import annotator_checks, exclude_unreliable
from curation.evaluation.tables import Filters, table1
from curation.models import Campaign, Item, Selection
from curation.review.campaigns import campaign_create, campaign_preview
from curation.review.queue import (
    answer_record,
    item_left_is_a,
    judgments_left,
    next_item,
)
from curation.review.stopping import campaign_savings, campaign_stopping
from curation.scoring_runs.extractors import face_detector, face_embedder
from tests.integration.test_evaluation import World, judge

pytestmark = pytest.mark.django_db


def annotators(*names: str):
    return [user_create(username=n, role="annotator", password="pw-ann-1")[0] for n in names]


def pick(world: World, agreeing: int) -> None:
    """baseline picks face 0 everywhere; filtering picks face 0 on the first ``agreeing``
    clusters and face 1 on the others."""
    for index, (cluster, faces) in enumerate(world.clusters):
        Selection.objects.create(
            cluster=cluster, selector="baseline", parameters="t", face=faces[0]
        )
        side = 0 if index < agreeing else 1
        Selection.objects.create(
            cluster=cluster, selector="filtering", parameters="t", face=faces[side]
        )


def work_through(campaign: Campaign, annotator, answer) -> int:
    """Let the annotator answer every item the queue serves them; ``answer(item, served)``
    gives the answer. Returns how many they answered."""
    answered = 0
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        answer_record(
            campaign=campaign,
            annotator=annotator,
            token=served.token,
            answer=answer(served.item, served),
        )
        answered += 1
    return answered


def test_disagreement_first_asks_only_where_the_selectors_differ():
    world = World(30)
    pick(world, agreeing=12)
    options = dict(kind="grade", titles=[world.title], selectors=["baseline", "filtering"])
    random_order = campaign_create(name="random", **options)
    first = campaign_create(name="first", order=Campaign.Order.DISAGREEMENT, **options)

    assert random_order.items.filter(identical=False).count() == 12 + 18 * 2
    assert first.items.filter(identical=True).count() == 12
    assert set(first.items.filter(identical=True).values_list("cluster_id", flat=True)) == {
        cluster.pk for cluster, _ in world.clusters[:12]
    }
    assert campaign_preview(order=Campaign.Order.DISAGREEMENT, **options)["identical"] == 12
    (annotator,) = annotators("ann")
    served = work_through(first, annotator, lambda item, served: "usable")
    assert served == 36
    assert judgments_left(first) == {"left": 0, "total": 36}


def test_gold_items_catch_an_annotator_who_answers_at_random_and_the_switch_leaves_them_out(
    client, tmp_path
):
    world = World(40)
    pick(world, agreeing=0)
    marked = [faces[1] for _, faces in world.clusters[:4]]
    for face in marked:
        face.known_grade = "excellent"
        face.save(update_fields=["known_grade"])
    campaign = campaign_create(
        name="checked",
        kind="grade",
        titles=[world.title],
        selectors=["baseline", "filtering"],
        overlap=2,
        gold_share=0.5,
    )
    checks = campaign.items.exclude(gold="")
    assert checks.count() == 40  # half the 80 items
    assert checks.filter(gold_source=Item.GoldSource.ADMIN).count() == 4
    assert checks.filter(gold_source=Item.GoldSource.DEGRADED, gold="unidentifiable").count() == 36
    careful, sloppy = annotators("careful", "sloppy")
    rng = random.Random(5)

    def truthful(item: Item, served) -> str:
        return item.gold or ("excellent" if item.face_id % 2 else "usable")

    def at_random(item: Item, served) -> str:
        return rng.choice(["unidentifiable", "usable", "excellent"])

    for annotator, answer in ((careful, truthful), (sloppy, at_random)):
        work_through(campaign, annotator, answer)

    found = {c.annotator: c for c in annotator_checks(Filters(campaigns=[campaign.pk]))}
    # 40 three-way checks: answering at random gets 60 % or more right once in 2,000 times.
    assert found["careful"].gold == 40 and found["careful"].accuracy == 1.0
    assert found["sloppy"].gold == 40 and found["sloppy"].accuracy < 0.6
    # Check items go to everyone, yet never count as the selectors' judgments.
    assert judgments_left(campaign)["left"] == 0
    everyone = table1(Filters(campaigns=[campaign.pk]))[0].raw
    assert {row["n"] for row in everyone} == {40}
    # An item's grade is the lower median of its two: sloppy's random grades pull some down.
    assert any(row["unidentifiable"]["count"] for row in everyone)

    filters = exclude_unreliable(Filters(campaigns=[campaign.pk]), threshold=0.7)
    assert list(filters.excluded) == ["sloppy"]
    assert "gold" in filters.excluded["sloppy"]
    trusted = table1(filters)[0].raw
    assert {row["n"] for row in trusted} == {40}
    assert all(row["unidentifiable"]["count"] == 0 for row in trusted)

    admin = user_create(username="boss", role="admin", password="pw-admin-1")[0]
    client.force_login(admin)
    page = client.get(reverse("evaluation"), {"exclude_below": 70}).content.decode()
    assert "These tables leave out 1 annotator below 70 % on the check items: sloppy" in page
    download = client.get(reverse("evaluation-download", args=["json"]), {"exclude_below": 70})
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        checks = json.loads(archive.read("annotator_checks.json"))
    excluded = {row["annotator"]: row["excluded"] for row in checks["raw"]}
    assert excluded["careful"] == "" and excluded["sloppy"].startswith("gold")
    call_command(
        "export_tables",
        "--format",
        "md",
        "--out",
        str(tmp_path),
        "--exclude-below",
        "0.7",
        stdout=io.StringIO(),
    )
    assert "excluded: gold" in (tmp_path / "annotator_checks.md").read_text()


def test_ab_repeats_swap_sides_and_measure_self_consistency(client, media_root):
    world = World(30)
    world.picks({"baseline": 0, "filtering": 1})
    campaign = campaign_create(
        name="ab checked",
        kind="ab",
        titles=[world.title],
        selectors=["baseline", "filtering"],
        gold_share=0.2,
    )
    repeats = campaign.items.filter(repeat_of__isnull=False)
    degraded = campaign.items.filter(gold_source=Item.GoldSource.DEGRADED)
    assert (repeats.count(), degraded.count()) == (3, 3)
    steady, fickle = annotators("steady", "fickle")
    rng = random.Random(6)
    sides: dict[int, bool] = {}

    def prefers_b(item: Item, served) -> str:
        """Always the filtering pick (B), and the undegraded side of a gold pair (A)."""
        a_left = item_left_is_a(campaign=campaign, item=item, annotator_id=steady.pk)
        sides[item.pk] = a_left
        wants_a = item.gold == "a"
        return "left" if a_left == wants_a else "right"

    assert work_through(campaign, steady, prefers_b) == 30 + 3 + 3
    for repeat in repeats:
        assert sides[repeat.pk] != sides[repeat.repeat_of_id]
    # overlap 1: fickle gets no real item, so no check item either (their work is done).
    assert work_through(campaign, fickle, lambda item, served: rng.choice(["left", "right"])) == 0
    (found,) = annotator_checks(Filters(campaigns=[campaign.pk]))
    assert (found.repeats, found.consistent, found.gold, found.gold_right) == (3, 3, 3, 3)


def test_ab_random_answers_are_inconsistent_on_repeats():
    world = World(60)
    world.picks({"baseline": 0, "filtering": 1})
    campaign = campaign_create(
        name="ab",
        kind="ab",
        titles=[world.title],
        selectors=["baseline", "filtering"],
        gold_share=0.5,
    )
    (coin,) = annotators("coin")
    rng = random.Random(7)
    work_through(campaign, coin, lambda item, served: rng.choice(["left", "right", "equal"]))
    (found,) = annotator_checks(Filters(campaigns=[campaign.pk]))
    assert found.repeats == 15 and found.gold == 15
    assert found.consistency < 0.7 and found.accuracy < 0.7
    assert exclude_unreliable(Filters(campaigns=[campaign.pk]), 0.7).excluded.keys() == {"coin"}


def test_a_degraded_gold_picture_cannot_be_recognised(scored_title, client):
    """dlib's identity model, which tells people apart at a distance of 0.6, puts every
    degraded gold headshot beyond it from the same headshot undegraded."""
    campaign = campaign_create(
        name="gold",
        kind="grade",
        titles=[scored_title],
        selectors=["baseline"],
        gold_share=0.5,
    )
    (annotator,) = annotators("ann")
    client.force_login(annotator)
    pictures: dict[tuple[int, bool], np.ndarray] = {}
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        response = client.get(reverse("item-image", args=[served.item.pk, "headshot"]))
        assert response.status_code == 200
        body = b"".join(response.streaming_content) if response.streaming else response.content
        pixels = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        pictures[(served.item.face_id, bool(served.item.gold))] = pixels[:, :, ::-1].copy()
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer="usable")
    golds = [face for face, gold in pictures if gold]
    assert len(golds) == 3 and len(pictures) == 9
    detector, embedder = face_detector(), face_embedder()
    for face in golds:
        original, degraded = pictures[(face, False)], pictures[(face, True)]
        detection = max(detector.detect([original])[0], key=lambda d: d.confidence)
        box = np.array([detection.box])
        distance = np.linalg.norm(embedder(original, box)[0] - embedder(degraded, box)[0])
        assert distance > 0.6


def test_the_stopping_rule_says_enough_when_the_intervals_are_narrow(client):
    world = World(120)
    pick(world, agreeing=0)
    campaign = campaign_create(
        name="stop",
        kind="grade",
        titles=[world.title],
        selectors=["baseline"],
        target_width=0.25,
    )
    (annotator,) = annotators("ann")
    rng = random.Random(8)
    items = list(campaign.items.order_by("pk"))
    for item in items[:30]:
        judge(item, annotator, "usable" if rng.random() < 0.7 else "unidentifiable")
    early = campaign_stopping(campaign)
    assert not early.enough
    usable = next(i for i in early.intervals if i.label == "baseline: usable")
    assert usable.n == 30 and usable.needed > 0
    more = usable.needed
    for item in items[30 : 30 + more]:
        judge(item, annotator, "usable" if rng.random() < 0.7 else "unidentifiable")
    later = campaign_stopping(campaign)
    usable = next(i for i in later.intervals if i.label == "baseline: usable")
    assert usable.width <= 0.25 * 1.15
    admin = user_create(username="boss", role="admin", password="pw-admin-1")[0]
    client.force_login(admin)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert "Enough judgments?" in page and "pts" in page


def test_ab_stopping_is_enough_once_the_sign_test_decides():
    world = World(40)
    world.picks({"baseline": 0, "filtering": 1})
    campaign = campaign_create(
        name="ab",
        kind="ab",
        titles=[world.title],
        selectors=["baseline", "filtering"],
        target_width=0.05,
    )
    (annotator,) = annotators("ann")
    for item in campaign.items.order_by("pk")[:20]:
        judge(item, annotator, "b")
    stopping = campaign_stopping(campaign)
    assert stopping.enough
    assert "decided" in stopping.intervals[1].note


def test_savings_replayed_on_recorded_grades(client):
    """A random-order campaign where half the clusters agree, graded whole: replayed, the
    disagreement-first order reaches the same width with fewer judgments."""
    world = World(120)
    pick(world, agreeing=60)
    campaign = campaign_create(
        name="recorded", kind="grade", titles=[world.title], selectors=["baseline", "filtering"]
    )
    (annotator,) = annotators("ann")
    rng = random.Random(9)
    for item in campaign.items.all():
        good = 0.85 if "filtering" in item.selectors and len(item.selectors) == 1 else 0.6
        judge(item, annotator, "usable" if rng.random() < good else "unidentifiable")
    savings = campaign_savings(campaign)
    assert savings is not None and savings.saved is not None
    assert savings.disagreement < savings.random
    admin = user_create(username="boss", role="admin", password="pw-admin-1")[0]
    client.force_login(admin)
    page = client.get(reverse("campaign-detail", args=[campaign.pk])).content.decode()
    assert "fewer" in page


def test_the_campaign_form_takes_the_new_choices(client):
    world = World(10)
    pick(world, agreeing=4)
    admin = user_create(username="boss", role="admin", password="pw-admin-1")[0]
    client.force_login(admin)
    response = client.post(
        reverse("campaign-new"),
        {
            "name": "formed",
            "kind": "grade",
            "titles": [world.title.pk],
            "selectors": ["baseline", "filtering"],
            "overlap": 1,
            "seed": 0,
            "order": "disagreement",
            "gold_percent": 20,
            "target_points": 15,
            "alpha": 0.01,
            "lease_seconds": 300,
            "min_view_ms": 250,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(name="formed")
    assert (campaign.order, campaign.gold_share, campaign.target_width, campaign.alpha) == (
        "disagreement",
        0.2,
        0.15,
        0.01,
    )
    assert campaign.items.filter(identical=True).count() == 4
    assert campaign.items.exclude(gold="").count() == 3  # 20 % of 12, rounded up
