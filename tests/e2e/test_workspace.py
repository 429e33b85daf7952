"""What used to break around the review loop, in a real Chromium: a session that ends mid-review,
a campaign closed mid-review, a title that a campaign uses, and long names on a phone."""

import pytest

from curation.accounts.users import user_create
from curation.models import Campaign, Judgment, Title
from curation.review.campaigns import campaign_create
from curation.review.queue import answer_record, next_item
from tests.e2e.conftest import log_in, wait_until_seen

pytestmark = pytest.mark.django_db(transaction=True)

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]


@pytest.fixture
def grading(scored_title):
    user_create(username="ann", role="annotator", password="pw-ann-1")
    return campaign_create(name="Grade", kind="grade", titles=[scored_title], selectors=SELECTORS)


def test_a_session_that_ends_mid_review_goes_to_the_login_page_and_back(page, live_server, grading):
    log_in(page, live_server, "ann", "pw-ann-1")
    queue = f"{live_server.url}/review/{grading.pk}/"
    page.goto(queue)
    page.context.clear_cookies(name="sessionid")  # logged out elsewhere, or expired
    wait_until_seen(page)

    page.keyboard.press("2")
    page.wait_for_url("**/login/**")
    assert page.locator("#item").count() == 0  # the whole window, not a fragment
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "pw-ann-1")
    page.keyboard.press("Enter")
    page.wait_for_url(queue)
    assert page.locator("#item form[data-item]").count() == 1
    assert not Judgment.objects.exists()  # the key pressed while logged out did nothing


def test_a_page_whose_cookies_were_all_cleared_reloads_to_the_login(page, live_server, grading):
    log_in(page, live_server, "ann", "pw-ann-1")
    page.goto(f"{live_server.url}/review/{grading.pk}/")
    page.context.clear_cookies()  # the CSRF cookie too: the answer is refused, then reloaded
    wait_until_seen(page)

    page.keyboard.press("2")
    page.wait_for_url("**/login/**")
    assert not Judgment.objects.exists()


def test_a_campaign_closed_mid_review_says_so_and_links_to_the_other_tasks(
    page, live_server, grading
):
    log_in(page, live_server, "ann", "pw-ann-1")
    page.goto(f"{live_server.url}/review/{grading.pk}/")
    Campaign.objects.filter(pk=grading.pk).update(is_open=False)
    wait_until_seen(page)

    page.keyboard.press("2")
    page.wait_for_selector("text=was closed by an admin")
    page.click("text=Back to your tasks")
    page.wait_for_url(f"{live_server.url}/review/")
    assert not Judgment.objects.exists()


def test_closing_asks_first_and_can_be_undone(page, live_server, grading):
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "pw-admin-1")
    page.goto(f"{live_server.url}/campaigns/{grading.pk}/")
    page.click("text=Close campaign…")
    assert Campaign.objects.get(pk=grading.pk).is_open  # only asked so far
    page.click("button:has-text('Close campaign')")
    page.wait_for_selector("text=Reopen")
    assert not Campaign.objects.get(pk=grading.pk).is_open
    page.click("button:has-text('Reopen')")
    page.wait_for_selector("text=Close campaign…")
    assert Campaign.objects.get(pk=grading.pk).is_open


def test_deleting_a_title_that_a_campaign_uses_is_refused_naming_it(
    page, live_server, grading, scored_title
):
    annotator = user_create(username="ann2", role="annotator", password="pw-ann-2")[0]
    served = next_item(campaign=grading, annotator=annotator)
    answer_record(campaign=grading, annotator=annotator, token=served.token, answer="usable")
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "pw-admin-1")

    page.goto(f"{live_server.url}/admin/curation/title/{scored_title.pk}/delete/")
    text = page.locator("#content").inner_text()
    assert "campaign “Grade”" in text and "1 judgment on" in text
    assert page.locator("input[type=submit]").count() == 0  # nothing to confirm
    assert Title.objects.filter(pk=scored_title.pk).exists()
    assert Judgment.objects.count() == 1


@pytest.mark.parametrize("width", [390, 1440])
def test_every_page_holds_a_200_character_name_at_phone_and_desk_widths(
    browser, live_server, grading, scored_title, width
):
    long_name = "Una-película-con-un-título-larguísimo-" * 6
    Title.objects.filter(pk=scored_title.pk).update(name=long_name[:200])
    Campaign.objects.filter(pk=grading.pk).update(name=("Campaign-" * 30)[:200])
    user_create(username="boss-with-a-long-user-name-" * 3, role="admin", password="pw-admin-1")
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    log_in(page, live_server, "boss-with-a-long-user-name-" * 3, "pw-admin-1")
    pages = [
        "/titles/",
        f"/titles/{scored_title.pk}/",
        f"/clusters/{scored_title.clusters.first().pk}/",
        "/campaigns/",
        f"/campaigns/{grading.pk}/",
        "/evaluation/",
        "/review/",
        f"/review/{grading.pk}/",
    ]
    wide = {}
    for path in pages:
        page.goto(f"{live_server.url}{path}")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        if scroll > width:
            wide[path] = scroll
    context.close()
    assert not wide, f"pages wider than {width} px: {wide}"


def test_keys_typed_ahead_never_land_on_an_item_nobody_saw(page, live_server, grading):
    log_in(page, live_server, "ann", "pw-ann-1")
    page.goto(f"{live_server.url}/review/{grading.pk}/")
    wait_until_seen(page)
    first = page.evaluate("document.querySelector('#item form[data-item]').dataset.item")
    page.keyboard.press("2")
    page.keyboard.press("3")  # typed ahead: reaches the next item before it could be seen
    page.wait_for_function(
        "id => document.querySelector('#item form[data-item]')?.dataset.item !== id", arg=first
    )
    page.wait_for_timeout(600)
    judged = list(Judgment.objects.values_list("answer", "seconds"))
    assert [answer for answer, _ in judged] == ["usable"]
    assert 0.25 <= judged[0][1] < 30  # the time it was shown, not 0
    text = page.locator("#item").inner_text()
    assert "left of" in text and "you could not tell who it is" in text
    page.keyboard.press("r")  # a reference photo of the person, on request
    reference = page.locator("#item [data-extra=reference] img")
    reference.wait_for(state="visible")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=reference.element_handle()
    )


def test_an_admin_creates_an_ab_campaign_on_the_apps_page(page, live_server, scored_title):
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "pw-admin-1")
    page.goto(f"{live_server.url}/campaigns/")
    page.click("text=New campaign…")
    page.fill("input[name=name]", "Filtering against regression")
    page.check("input[name=kind][value=ab]")
    assert page.locator("fieldset[data-kind=grade]").is_hidden()
    page.check(f"input[name=titles][value='{scored_title.pk}']")
    page.select_option("select[name=selector_a]", "filtering")
    page.select_option("select[name=selector_b]", "regression")
    page.wait_for_selector("#preview strong")
    assert "item" in page.locator("#preview").inner_text()
    page.click("button:has-text('Create campaign')")
    page.wait_for_url("**/campaigns/*/")
    campaign = Campaign.objects.get()
    assert campaign.selectors == ["filtering", "regression"] and campaign.kind == "ab"
    assert "A/B" in page.locator("main").inner_text()


def test_an_admin_imports_a_zip_on_the_apps_page_and_watches_its_job_end(
    page, live_server, lfw_small, start_worker, tmp_path
):
    import zipfile

    start_worker()
    archive = tmp_path / "title.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((lfw_small / "Halle_Berry").iterdir())[:5]:
            out.write(path, f"Halle_Berry/{path.name}")
        out.writestr("Halle_Berry/readme.txt", "no picture here")
    user_create(username="boss", role="admin", password="pw-admin-1")
    log_in(page, live_server, "boss", "pw-admin-1")
    page.click("nav >> text=Imports")
    page.fill("input[name=name]", "From the page")
    page.set_input_files("input[type=file]", str(archive))
    assert "title.zip" in page.locator("[data-dropzone]").inner_text()
    page.click("button:has-text('Upload and import')")
    page.wait_for_url("**/imports/*/")
    page.wait_for_selector("h2:has-text('Imported')", timeout=120_000)  # refreshed by itself
    report = page.locator("#job-status").inner_text()
    assert "Halle_Berry/readme.txt" in report and "not an image" in report
    page.click("text=Open the title")
    assert Title.objects.get().name == "From the page"
