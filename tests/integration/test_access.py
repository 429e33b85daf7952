"""Login is required everywhere; admin pages and the API are for admins only."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from curation.accounts.users import user_create
from curation.models import Title

pytestmark = pytest.mark.django_db

ADMIN_ONLY = ["title-list", "admin:index", "admin:curation_importjob_add"]


@pytest.fixture
def annotator(client):
    user, _ = user_create(username="ann", role="annotator", password="pw-annotator-1")
    return user


@pytest.fixture
def admin_user():
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    return user


@pytest.mark.parametrize("name", ["home", *ADMIN_ONLY])
def test_anonymous_visitors_are_sent_to_the_login_page(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert "/login/?next=" in response["Location"]


def test_the_login_page_itself_is_open(client):
    assert client.get(reverse("login")).status_code == 200


def test_an_annotator_gets_403_on_catalog_pages_and_the_api(client, annotator):
    title = Title.objects.create(name="t")
    client.force_login(annotator)
    assert client.get(reverse("title-list")).status_code == 403
    assert client.get(reverse("title-detail", args=[title.pk])).status_code == 403
    assert client.get("/api/titles/").status_code == 403
    assert client.get("/media/titles/anything.jpg").status_code == 403
    # The Django admin refuses non-staff users by sending them to its login.
    assert client.get(reverse("admin:index")).status_code == 302
    assert "review queues" in client.get(reverse("home"), follow=True).content.decode()


def test_an_admin_reaches_pages_admin_and_api(client, admin_user):
    Title.objects.create(name="t")
    client.force_login(admin_user)
    for name in ADMIN_ONLY:
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get("/api/titles/").json()["results"][0]["name"] == "t"


def test_the_api_takes_tokens_and_answers_401_without_one(client, admin_user):
    assert client.get("/api/titles/").status_code == 401
    token = Token.objects.create(user=admin_user)
    response = client.get("/api/titles/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200
    assert client.get("/api/schema/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


def test_an_empty_catalog_explains_how_to_import(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("title-list")).content.decode()
    assert "No titles yet" in page
    assert "import_title" in page


def test_the_api_scores_a_title_and_reports_its_progress(
    client, admin_user, lfw_small, celery_worker_process
):
    import time

    from curation.imports.service import title_import

    summary = title_import(source=lfw_small, name="api")
    token = Token.objects.create(user=admin_user)
    auth = {"HTTP_AUTHORIZATION": f"Token {token.key}"}

    started = client.post(f"/api/titles/{summary.title_id}/score/", **auth)
    again = client.post(f"/api/titles/{summary.title_id}/score/", **auth)

    assert started.status_code == 202
    assert again.status_code == 409
    deadline = time.monotonic() + 180
    while (run := client.get(f"/api/titles/{summary.title_id}/scoring/", **auth).json())[
        "status"
    ] not in ("done", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert run["status"] == "done", run["error"]
    picks = client.get(f"/api/titles/{summary.title_id}/selections/", **auth).json()
    assert len(picks) == 3 and all(len(by) == 4 for by in picks.values())
