"""An admin logs in and browses an imported title in a real browser."""

import os

import pytest

from curation.accounts.users import user_create
from curation.imports.service import title_import
from tests.e2e.conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_logs_in_and_browses_a_title_with_face_thumbnails(
    page, live_server, lfw_small, media_root, tmp_path
):
    user_create(username="boss", role="admin", password="pw-admin-1")
    summary = title_import(source=lfw_small, name="small")

    log_in(page, live_server, "boss", "pw-admin-1")
    assert page.locator("h1").inner_text() == "Titles"
    page.click("text=small")
    page.wait_for_load_state("networkidle")

    assert page.locator("h1").inner_text() == "small"
    assert page.locator("section.cluster").count() == 3
    thumbnails = page.locator(".strip img")
    assert thumbnails.count() == 3 * 8
    thumbnails.last.scroll_into_view_if_needed()  # thumbnails load lazily
    page.wait_for_load_state("networkidle")
    loaded = page.evaluate(
        "Array.from(document.querySelectorAll('.strip img'))"
        ".filter(img => img.complete && img.naturalWidth > 0).length"
    )
    assert loaded == thumbnails.count()
    assert summary.faces == 52
    if shots := os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=f"{shots}/title_detail.png", full_page=True)


def test_a_wrong_password_says_so_on_the_login_page(page, live_server):
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "wrong")
    assert "didn't match" in page.locator(".error").inner_text()
