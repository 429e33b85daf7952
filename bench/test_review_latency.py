"""Key press → next item shown, in headless Chromium, against PostgreSQL.

Run on its own (it is outside the test suite's paths):

    .venv/bin/python -m pytest bench/test_review_latency.py -s

A grade campaign over a real scored title (six LFW clusters) is judged by keyboard. In the page, a
capturing keydown listener stamps the press; after htmx settles the next item, the time is taken
once its headshot has loaded and a frame has been painted. The annotator "thinks" 400 ms per item,
as a person would.
"""

import statistics

import pytest

from curation.accounts.users import user_create
from curation.review.campaigns import campaign_create
from tests.conftest import face_data, media_root, scored_title  # noqa: F401 (fixtures)
from tests.e2e.conftest import browser, log_in, page  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

STAMP = """
window.__latencies = [];
document.addEventListener("keydown", () => { window.__pressed = performance.now(); }, true);
document.addEventListener("htmx:afterSettle", () => {
  const pressed = window.__pressed;
  if (pressed === undefined) return;
  window.__pressed = undefined;
  const shown = () => requestAnimationFrame(() =>
    window.__latencies.push(performance.now() - pressed));
  const image = document.querySelector("#item .headshot-large");
  if (!image || image.complete) shown(); else image.addEventListener("load", shown, {once: true});
});
"""


def test_key_press_to_next_item(page, live_server, scored_title):  # noqa: F811
    user_create(username="ann", role="annotator", password="pw-ann-1")
    campaign = campaign_create(
        name="Latency",
        kind="grade",
        titles=[scored_title],
        selectors=["baseline", "fiqa", "filtering", "regression"],
    )
    page.add_init_script(STAMP)
    log_in(page, live_server, "ann", "pw-ann-1")
    page.goto(f"{live_server.url}/review/{campaign.pk}/")
    page.wait_for_load_state("networkidle")
    answered = campaign.items.count() - 1
    for n in range(answered):
        before = page.evaluate("document.querySelector('#item form')?.dataset.item")
        page.keyboard.press("123"[n % 3])
        page.wait_for_function("n => window.__latencies.length > n", arg=n)
        assert page.evaluate("document.querySelector('#item form')?.dataset.item") != before
        page.wait_for_timeout(400)
    server = sorted(
        page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/answer/'))"
            ".map(e => e.responseStart - e.requestStart)"
        )
    )
    print(
        f"\nserver time of an answer (request sent -> first byte): median "
        f"{statistics.median(server):.0f} ms, max {max(server):.0f} ms"
    )
    latencies = sorted(page.evaluate("window.__latencies"))
    p90 = latencies[int(0.9 * (len(latencies) - 1))]
    print(
        f"\nkey press -> next item shown, {len(latencies)} items: "
        f"median {statistics.median(latencies):.0f} ms, p90 {p90:.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )
    assert statistics.median(latencies) < 1000
