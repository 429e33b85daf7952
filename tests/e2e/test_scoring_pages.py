"""An admin scores a title from its page, watches the progress, and looks at the picks."""

import os

import pytest

from curation.accounts.users import user_create
from curation.imports.service import title_import
from curation.models import ScoringRun, Selection
from scoring.selectors import DEFAULT_STAGES
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_score_button_progress_picks_and_cluster_views(
    page, live_server, lfw_small, celery_worker_process
):
    user_create(username="boss", role="admin", password="pw-admin-1")
    summary = title_import(source=lfw_small, name="small")

    log_in(page, live_server, "boss", "pw-admin-1")
    page.goto(f"{live_server.url}/titles/{summary.title_id}/")
    assert "Not scored yet" in page.locator("#scoring-progress").inner_text()
    page.click("#scoring-progress button:has-text('Score')")
    # htmx polls the progress and reloads the page when the run ends.
    page.wait_for_selector("table.picks", timeout=180_000)

    run = ScoringRun.objects.get()
    assert run.status == ScoringRun.Status.DONE
    progress = page.locator("#scoring-progress").inner_text()
    assert f"{run.faces_total}/{run.faces_total}" in progress
    assert "trained v1" in progress
    assert page.locator("table.picks tbody tr").count() == 3
    assert "FaceQNet (fiqa)" in page.locator("table.picks thead").inner_text()
    headshots = page.locator("table.picks img.headshot")
    assert headshots.count() == 12
    headshots.last.scroll_into_view_if_needed()  # they load lazily, as they come into view
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img.headshot'))"
        ".filter(img => img.complete && img.naturalWidth > 0).length == 12",
        timeout=20_000,
    )
    if shots := os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{shots}/title_scored.png", full_page=True)

    page.click("table.picks tbody tr >> nth=0 >> a")
    page.wait_for_load_state("networkidle")
    filtering = Selection.objects.filter(selector="filtering").select_related("cluster")
    cluster = min(filtering, key=lambda s: s.cluster.label).cluster
    assert page.locator("h1").inner_text() == cluster.label
    stage_cards = page.locator(".stagerow").first.locator(".facecard")
    assert stage_cards.count() == len(DEFAULT_STAGES)
    assert "1. identity" in stage_cards.first.inner_text()
    assert page.locator(".facegrid .facecard").count() == cluster.faces.count()
    chips = page.locator(".facegrid .facecard").first.inner_text()
    assert "q 0." in chips or "q 1." in chips
    for chip in ("fq 0.", "◐ ", "id 0."):
        assert chip in chips, chip
    total = cluster.faces.count()
    assert f"Identity measured on {total} of {total} faces" in page.inner_text("main")
    if shots := os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{shots}/cluster.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=f"{shots}/cluster-390.png", full_page=True)
        page.set_viewport_size({"width": 1440, "height": 900})
        page.screenshot(path=f"{shots}/cluster-1440.png", full_page=True)
