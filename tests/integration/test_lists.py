"""The app's lists: search, sorting both ways, pages."""

import pytest
from django.urls import reverse

from curation.accounts.users import user_create
from curation.listing import PER_PAGE
from curation.models import Campaign, Title

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(user)
    return client


def names(response, key: str) -> list[str]:
    return [getattr(row, "name", None) or row["campaign"].name for row in response.context[key]]


def test_the_title_list_searches_sorts_and_pages(admin_client):
    Title.objects.bulk_create(Title(name=f"title {i:03d}") for i in range(PER_PAGE + 5))
    Title.objects.create(name="Casablanca")
    url = reverse("title-list")

    assert names(admin_client.get(url, {"q": "casa"}), "titles") == ["Casablanca"]
    ascending = names(admin_client.get(url, {"sort": "name"}), "titles")
    assert ascending[0] == "Casablanca" and ascending == sorted(ascending)
    descending = names(admin_client.get(url, {"sort": "-name"}), "titles")
    assert descending[0] == f"title {PER_PAGE + 4:03d}"
    last = admin_client.get(url, {"sort": "name", "page": 2})
    assert len(last.context["titles"]) == 6 and "Page 2 of 2" in last.content.decode()
    assert names(admin_client.get(url, {"sort": "password"}), "titles")  # unknown: the default
    empty = admin_client.get(url, {"q": "nothing like it"}).content.decode()
    assert "No title matches" in empty


def test_the_campaign_and_import_lists_search(admin_client):
    Campaign.objects.create(name="Spring grading", kind="grade", selectors=["baseline"])
    Campaign.objects.create(name="Autumn A/B", kind="ab", selectors=["fiqa", "regression"])
    found = admin_client.get(reverse("campaign-list"), {"q": "spring"})
    assert names(found, "rows") == ["Spring grading"]
    page = admin_client.get(reverse("import-list"), {"q": "x"}).content.decode()
    assert "No imports yet" in page


def test_the_title_page_searches_and_pages_its_clusters(admin_client):
    from curation.models import Cluster

    title = Title.objects.create(name="many")
    Cluster.objects.bulk_create(
        Cluster(title=title, label=f"actor {i:03d}") for i in range(PER_PAGE + 3)
    )
    url = reverse("title-detail", args=[title.pk])
    first = admin_client.get(url)
    assert len(first.context["rows"]) == PER_PAGE and first.context["cluster_count"] == PER_PAGE + 3
    second = admin_client.get(url, {"page": 2})
    assert [row["cluster"].label for row in second.context["rows"]] == [
        f"actor {i:03d}" for i in range(PER_PAGE, PER_PAGE + 3)
    ]
    found = admin_client.get(url, {"q": "actor 007"})
    assert [row["cluster"].label for row in found.context["rows"]] == ["actor 007"]


def test_score_again_asks_first_while_an_open_campaign_uses_the_title(admin_client, scored_title):
    from curation.models import ScoringRun
    from curation.review.campaigns import campaign_create

    ScoringRun.objects.filter(title=scored_title).update(status=ScoringRun.Status.DONE)
    url = reverse("title-detail", args=[scored_title.pk])
    assert "data-confirm" not in admin_client.get(url).content.decode()
    campaign_create(name="Spring", kind="grade", titles=[scored_title], selectors=["baseline"])
    page = admin_client.get(url).content.decode()
    assert "data-confirm=" in page and "Open campaigns use this title: Spring" in page
