"""An admin uploads a video in a real browser, a real worker turns it into actors, and the admin
curates a cluster from its page: tracks on a timeline, a split into a new cluster, undo."""

import os

import pytest

from curation.accounts.users import user_create
from curation.models import Cluster, ClusterEdit, Selection, Title
from tests.conftest import face_data
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_video_is_uploaded_clustered_and_curated_on_the_pages(page, live_server, start_worker):
    clip = face_data("video", "hamilton_short.mp4")
    start_worker()
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "pw-admin-1")
    page.click("nav >> text=Imports")
    page.fill("input[name=name]", "Stage")
    page.set_input_files("input[type=file]", str(clip))
    page.click("button:has-text('Upload and import')")
    page.wait_for_url("**/imports/*/")
    page.wait_for_selector("h2:has-text('Imported')", timeout=180_000)
    report = page.locator("#job-status").inner_text()
    assert "FRAMES DECODED\n275" in report.upper() and "TRACKS\n11" in report.upper()
    page.click("text=Open the title")
    page.wait_for_load_state("networkidle")
    title = Title.objects.get(name="Stage")
    assert "unassigned" in page.locator("main").inner_text()
    page.click("#scoring-progress button:has-text('Score')")
    page.wait_for_selector("table.picks", timeout=180_000)  # the page reloads when it ends
    picked = set(Selection.objects.values_list("cluster__role", flat=True).distinct())
    assert picked == {Cluster.Role.ACTOR}  # the unassigned faces get no pick
    if shots := os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{shots}/video_title.png", full_page=True)

    actor = Cluster.objects.filter(title=title, role=Cluster.Role.ACTOR).order_by("label").first()
    page.click(f"section.cluster >> text={actor.label}")
    page.wait_for_load_state("networkidle")
    segments = page.locator(".timeline .segment")
    assert segments.count() == page.locator("table.tracks tbody tr").count() >= 1
    assert "frame " in page.locator(".facecard .frametime").first.inner_text()
    if shots:
        page.screenshot(path=f"{shots}/video_cluster.png", full_page=True)
    before = actor.faces.count()
    page.locator("table.tracks input[name=track]").first.check()
    page.fill("#split-label", "Guest")
    page.click("#split-form button:has-text('Move')")
    page.wait_for_load_state("networkidle")
    assert "to new cluster Guest" in page.locator(".messages").inner_text()
    guest = Cluster.objects.get(title=title, label="Guest")
    assert guest.faces.count() + actor.faces.count() == before and guest.faces.exists()

    page.click(f"text=← {title.name}")
    assert "2 clusters changed since their picks were made" in page.locator("main").inner_text()
    untouched = set(Selection.objects.exclude(cluster__in=[actor, guest]).values_list("pk"))
    page.click("button:has-text('Recompute their picks')")
    page.wait_for_selector("table.picks >> text=Guest", timeout=180_000)
    assert set(Selection.objects.exclude(cluster__in=[actor, guest]).values_list("pk")) == untouched
    assert Selection.objects.filter(cluster=guest).count() == 4

    page.click("button:has-text('Undo')")
    page.wait_for_load_state("networkidle")
    assert actor.faces.count() == before and not Cluster.objects.filter(label="Guest").exists()
    assert ClusterEdit.objects.filter(title=title, made_by__username="boss").count() == 2
