"""The filter tuner on a real scored title, with judgments recorded through the real queue: the
search on a real worker, its page, and activating a candidate as a new filter config."""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest
from django.urls import reverse

from curation.accounts.users import user_create
from curation.models import Campaign, FilterConfig, Item, Selection
from curation.review.campaigns import campaign_create
from curation.review.queue import answer_record, next_item
from curation.scoring_runs.tuning import tuning_activate, tuning_read, tuning_run, tuning_start
from scoring.selectors import DEFAULT_STAGES
from tests.integration.concurrency import at_once
from tests.integration.test_evaluation import World, judge

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]


@pytest.fixture
def admin_client(client):
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    return client


@pytest.fixture
def in_use():
    """A hand-made active filter config: the default stages."""
    return FilterConfig.objects.create(
        name="hand-made", stages=[asdict(stage) for stage in DEFAULT_STAGES], is_active=True
    )


def judged_campaign(title) -> Campaign:
    """A grade campaign on the title judged through the queue by an annotator who finds the
    filtering selector's pick excellent and every other pick unidentifiable."""
    annotator, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    campaign = campaign_create(name="grade", kind="grade", titles=[title], selectors=SELECTORS)
    filtering = set(
        Selection.objects.filter(cluster__title=title, selector="filtering").values_list(
            "face_id", flat=True
        )
    )
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        grade = "excellent" if served.item.face_id in filtering else "unidentifiable"
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer=grade)
    return campaign


def finished(search_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (record := tuning_read(search_id))["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, f"search still {record['status']}"
        time.sleep(0.2)
    return record


def test_a_search_on_a_worker_scores_the_config_in_use_by_its_real_picks(
    scored_title, celery_worker_process, in_use, admin_client
):
    campaign = judged_campaign(scored_title)
    response = admin_client.post(
        reverse("tuning"), {"configs": 12, "seed": 3, "campaigns": [campaign.pk]}
    )
    search_id = response.url.rstrip("/").rsplit("/", 1)[-1]
    assert response.url == reverse("tuning-search", args=[search_id])

    record = finished(search_id)

    assert record["status"] == "done", record.get("error")
    result = record["result"]
    assert result["campaigns"] == [campaign.pk]
    assert result["clusters"] == {"search": 3, "held_out": 3}
    assert result["active"] == {"name": "hand-made", "id": in_use.pk}
    assert len(result["candidates"]) == 12 and result["compared"][0] == 0
    first = next(c for c in result["candidates"] if c["index"] == 0)
    assert first["stages"] == in_use.stages
    # The tuner's picks for the config in use are the filtering selector's own picks on every
    # cluster: all judged, all excellent. Nothing can score higher, so it stays recommended.
    for half in ("search", "held_out"):
        assert first[half]["mean"] == 1.0
        assert first[half]["covered"] == first[half]["clusters"] == 3
    assert result["chosen"] == 0
    filtering = dict(
        Selection.objects.filter(selector="filtering").values_list("cluster_id", "face_id")
    )
    for row in result["sample"]:
        assert row["picks"][0] == filtering[row["cluster"]]
        assert row["labels"][str(row["picks"][0])] == "excellent"
    assert record["progress"] == {"done": 16, "total": 16}

    page = admin_client.get(reverse("tuning-search", args=[search_id])).content.decode()
    assert "Keep the config in use" in page
    for row in result["sample"]:
        for face in row["picks"]:
            assert reverse("face-crop", args=[face]) in page
    for index in result["compared"][1:]:
        assert reverse("tuning-activate", args=[search_id, index]) in page
    assert reverse("tuning-activate", args=[search_id, 0]) not in page  # it is in use
    listing = admin_client.get(reverse("tuning")).content.decode()
    assert reverse("tuning-search", args=[search_id]) in listing
    fragment = admin_client.get(reverse("tuning-progress", args=[search_id]) + "?watching=1")
    assert fragment["HX-Refresh"] == "true"


def test_activating_a_candidate_makes_a_new_active_config_once(scored_title, in_use, admin_client):
    judged_campaign(scored_title)
    search_id = tuning_start(configs=8, seed=5, campaigns=[])["id"]
    tuning_run(search_id=search_id)  # here, as the worker would
    record = tuning_read(search_id)
    result = record["result"]
    candidate = result["compared"][1]
    url = reverse("tuning-activate", args=[record["id"], candidate])

    first = admin_client.post(url, follow=True)
    again = admin_client.post(url, follow=True)

    made = FilterConfig.objects.get(is_active=True)
    assert FilterConfig.objects.count() == 2
    in_use.refresh_from_db()
    assert not in_use.is_active
    entry = next(c for c in result["candidates"] if c["index"] == candidate)
    assert made.stages == entry["stages"]
    assert made.name == f"tuned {record['created_at'][:10]} #{candidate}"
    tuning = made.tuning
    assert (tuning["search"], tuning["candidate"], tuning["seed"]) == (record["id"], candidate, 5)
    assert tuning["held_out_score"] == entry["held_out"]
    assert tuning["compared_with"]["name"] == "hand-made"
    assert tuning["compared_with"]["held_out_score"]["mean"] == 1.0
    assert tuning["recommended"] is False
    assert "is now the active filter config" in first.content.decode()
    assert "was already made" in again.content.decode()
    # Two submits at the very same time still make one config.
    other = result["compared"][2]
    made_at_once = at_once(
        lambda _: tuning_activate(search_id=record["id"], candidate=other)[0].pk, 2
    )
    assert made_at_once[0] == made_at_once[1]
    assert FilterConfig.objects.count() == 3
    assert FilterConfig.objects.get(is_active=True).pk == made_at_once[0]
    # A candidate never checked on the held-out clusters cannot be activated.
    unchecked = next(i for i in range(8) if i not in result["compared"])
    page = admin_client.post(
        reverse("tuning-activate", args=[record["id"], unchecked]), follow=True
    ).content.decode()
    assert "was not checked on the held-out clusters" in page
    assert FilterConfig.objects.count() == 3


@pytest.mark.django_db
def test_without_judgments_the_page_says_what_to_do(admin_client, media_root):
    dashboard = admin_client.get(reverse("evaluation")).content.decode()
    assert reverse("tuning") in dashboard
    page = admin_client.get(reverse("tuning")).content.decode()
    assert "No judgments yet" in page
    assert reverse("campaign-new") in page
    response = admin_client.post(reverse("tuning"), {"configs": 10, "seed": 0}, follow=True)
    assert "no judgments yet: run a grade or A/B campaign first" in response.content.decode()


@pytest.mark.django_db
def test_the_tuner_is_for_admins_only(client, media_root):
    annotator, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    client.force_login(annotator)
    assert client.get(reverse("tuning")).status_code == 403
    assert client.post(reverse("tuning-activate", args=["0" * 32, 1])).status_code == 403


@pytest.mark.django_db
def test_judgments_on_one_cluster_fail_the_search_with_one_line(media_root):
    world = World(1)
    campaign = Campaign.objects.create(name="g", kind="grade", selectors=["filtering"])
    cluster, faces = world.clusters[0]
    item = Item.objects.create(
        campaign=campaign, cluster=cluster, face=faces[0], selectors=["filtering"]
    )
    judge(item, user_create(username="ann", role="annotator", password="pw-ann-1")[0], "usable")
    search_id = tuning_start(configs=5, seed=0, campaigns=[])["id"]

    tuning_run(search_id=search_id)

    record = tuning_read(search_id)
    assert record["status"] == "failed"
    assert record["error"] == (
        "judgments label faces of 1 cluster(s) with a choice to make: tuning needs at least 2, "
        "one to search on and one to check on"
    )
    tuning_run(search_id=search_id)  # delivered again: an ended search is left alone
    assert tuning_read(search_id) == record
