"""Annotators in a real Chromium: keyboard grading with undo, and blind A/B with random sides."""

import pytest
from django.core.files.storage import default_storage

from curation.accounts.users import user_create
from curation.models import Judgment, Selection
from curation.review.campaigns import campaign_create
from curation.review.queue import left_is_a, live_judgments
from tests.e2e.conftest import log_in, wait_until_seen

pytestmark = pytest.mark.django_db(transaction=True)

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]
GRADE_KEYS = {"1": "unidentifiable", "2": "usable", "3": "excellent"}
CURRENT = "document.querySelector('#item form[data-item]')?.dataset.item"


def current_item(page) -> str | None:
    return page.evaluate(CURRENT)


def press_and_wait(page, key: str) -> None:
    before = current_item(page)
    wait_until_seen(page)
    page.keyboard.press(key)
    page.wait_for_function(f"id => {CURRENT} !== id", arg=before)


def test_an_annotator_grades_ten_items_by_keyboard_and_undoes_one(page, live_server, scored_title):
    user_create(username="ann", role="annotator", password="pw-ann-1")
    campaign = campaign_create(
        name="Grade", kind="grade", titles=[scored_title], selectors=SELECTORS
    )
    assert campaign.items.count() >= 10

    log_in(page, live_server, "ann", "pw-ann-1")
    page.click("text=Start")
    page.wait_for_load_state("networkidle")
    full_pages = []
    page.on(
        "request",
        lambda r: (
            full_pages.append(r.url)
            if r.method == "POST" and "/review/" in r.url and not r.headers.get("hx-request")
            else None
        ),
    )
    expected = {}
    for n in range(10):
        key = "123"[n % 3]
        expected[int(current_item(page))] = GRADE_KEYS[key]
        press_and_wait(page, key)
    last = max(expected, key=lambda item: list(expected).index(item))
    page.keyboard.press("u")
    page.wait_for_function(f"id => {CURRENT} === id", arg=str(last))
    assert "Undone" in page.locator(".notice").inner_text()
    assert page.locator("[data-count]").inner_text() == "9"
    assert full_pages == [], "an answer went as a full page submit instead of htmx"

    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")

    del expected[last]
    assert {j.item_id: j.answer for j in live_judgments(campaign)} == expected
    assert Judgment.objects.filter(answer="undo", supersedes__item_id=last).count() == 1
    assert Judgment.objects.count() == 11
    assert all(j.seconds > 0 for j in Judgment.objects.exclude(answer="undo"))


def test_ab_answers_map_back_to_the_selector_shown_on_that_side(page, live_server, scored_title):
    user_create(username="ann", role="annotator", password="pw-ann-1")
    campaign = campaign_create(
        name="AB", kind="ab", titles=[scored_title], selectors=["filtering", "regression"]
    )
    asked = campaign.items.filter(identical=False)
    assert asked.exists()

    log_in(page, live_server, "ann", "pw-ann-1")
    page.goto(f"{live_server.url}/review/{campaign.pk}/")
    shown_left = {}
    presses = {}
    for n in range(asked.count()):
        html = page.content().lower()
        assert not any(name in html for name in SELECTORS), "a selector name reached the page"
        item = int(current_item(page))
        left_url = page.locator("#item .pair img").first.get_attribute("src")
        shown_left[item] = page.request.get(f"{live_server.url}{left_url}").body()
        presses[item] = ["ArrowLeft", "ArrowRight", "="][n % 3]
        press_and_wait(page, presses[item])

    assert "Nothing left" in page.locator("#item").inner_text()
    for judgment in live_judgments(campaign):
        item = judgment.item
        crop_a = Selection.objects.get(cluster=item.cluster, selector="filtering").crop
        with default_storage.open(crop_a) as handle:
            a_on_left = handle.read() == shown_left[item.pk]
        press = presses[item.pk]
        if press == "=":
            assert judgment.answer == "equal"
        else:
            picked_a = (press == "ArrowLeft") == a_on_left
            assert judgment.answer == ("a" if picked_a else "b"), (item.pk, press, a_on_left)
    for judgment in live_judgments(campaign):  # the side recorded is the one drawn for them
        drawn = left_is_a(
            campaign=campaign, item_id=judgment.item_id, annotator_id=judgment.annotator_id
        )
        assert judgment.left_is_a == drawn
