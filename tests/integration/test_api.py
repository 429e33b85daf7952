"""The REST API beyond titles: imports, runs, campaigns, judgments, tables and its docs."""

import io
import zipfile

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from curation.accounts.users import user_create
from curation.models import Campaign, ImportJob, Judgment
from curation.review.queue import answer_record, next_item

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=admin).key}")
    return client


def test_campaigns_are_created_followed_closed_and_their_judgments_read(api, scored_title):
    refused = api.post(
        "/api/campaigns/",
        {"name": "x", "kind": "ab", "titles": [scored_title.pk], "selectors": ["fiqa"]},
        format="json",
    )
    assert refused.status_code == 400 and "exactly two" in refused.json()["detail"]
    created = api.post(
        "/api/campaigns/",
        {
            "name": "regression against filtering",
            "kind": "ab",
            "titles": [scored_title.pk],
            "selectors": ["regression", "filtering"],
            "overlap": 2,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    campaign = Campaign.objects.get(pk=created.json()["id"])
    assert campaign.selectors == ["regression", "filtering"]

    annotator, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    served = next_item(campaign=campaign, annotator=annotator)
    answer_record(campaign=campaign, annotator=annotator, token=served.token, answer="left")
    detail = api.get(f"/api/campaigns/{campaign.pk}/").json()
    assert detail["progress"]["done"] == 1 and detail["is_open"]
    judgments = api.get("/api/judgments/", {"campaign": campaign.pk}).json()["results"]
    assert [(j["annotator"], j["item"]) for j in judgments] == [("ann", served.item.pk)]
    assert judgments[0]["answer"] == Judgment.objects.get().answer

    assert api.post(f"/api/campaigns/{campaign.pk}/close/").json()["is_open"] is False
    assert api.post(f"/api/campaigns/{campaign.pk}/reopen/").json()["is_open"] is True
    tables = api.get("/api/tables/", {"campaign": campaign.pk}).json()
    assert [table["key"] for table in tables] == [
        "table1",
        "table1_tests",
        "table2",
        "table3",
        "agreement",
    ]


def test_an_import_is_started_by_upload_and_followed(api, media_root, lfw_small):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted((lfw_small / "Bill_Gates").iterdir())[:2]:
            out.write(path, f"Bill_Gates/{path.name}")
    archive.seek(0)
    archive.name = "title.zip"
    not_zip = io.BytesIO(b"plain text")
    not_zip.name = "title.zip"

    refused = api.post("/api/imports/", {"name": "api title", "upload": not_zip})
    assert refused.status_code == 400 and refused.json() == {"upload": ["not a valid zip file"]}
    started = api.post("/api/imports/", {"name": "api title", "upload": archive})
    assert started.status_code == 202
    job = api.get(f"/api/imports/{started.json()['id']}/").json()
    assert job["name"] == "api title" and job["status"] in {"queued", "failed"}
    assert ImportJob.objects.count() == 1
    assert api.get("/api/runs/").json()["results"] == []


def test_the_interactive_docs_need_a_login_and_load_nothing_from_elsewhere(client, api):
    assert client.get("/api/docs/").status_code in (401, 403)
    user, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    client.force_login(user)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn" not in page.lower() and "unpkg" not in page and "https://" not in page
