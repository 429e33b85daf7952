"""Pages and lists that do not slow down as titles grow: their query counts stay the same at two
sizes, and their keyset pages give every row once, in order, even while rows are added."""

from __future__ import annotations

import base64
import html
import io
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curation.accounts.users import user_create
from curation.clusters import queries as cluster_queries
from curation.listing import PER_PAGE
from curation.models import (
    Campaign,
    Cluster,
    Face,
    Frame,
    ImportJob,
    Judgment,
    ScoringRun,
    Selection,
    Title,
    Track,
)
from curation.review.campaigns import campaign_create

pytestmark = pytest.mark.django_db

NEXT = re.compile(r'href="\?([^"]+)" rel="next"')
PREVIOUS = re.compile(r'href="\?([^"]+)" rel="prev"')
TRACK_FACES = 10


@pytest.fixture
def admin(client):
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(user)
    return client


def video_title(name: str, sizes: list[int]) -> Title:
    """A scored title of a video with a cluster of each size in ``sizes``: qualities with ties
    and some faces unscored, tracks of ``TRACK_FACES`` faces, every selector's pick and the
    filtering pick's stages."""
    title = Title.objects.create(name=name, status=Title.Status.SCORED, seconds=max(sizes) / 10)
    frames = Frame.objects.bulk_create(
        Frame(title=title, index=i, time=i / 10, source_name=f"f{i}", width=640, height=480)
        for i in range(max(sizes))
    )
    run = ScoringRun.objects.create(
        title=title, status=ScoringRun.Status.DONE, finished_at=datetime.now(UTC)
    )
    for k, size in enumerate(sizes):
        cluster = Cluster.objects.create(title=title, label=f"actor {k:03d}")
        tracks = Track.objects.bulk_create(
            Track(title=title, number=k * 10_000 + j, shot=j, start=j / 10, end=(j + 9) / 10)
            for j in range(0, size, TRACK_FACES)
        )
        faces = Face.objects.bulk_create(
            Face(
                title=title,
                cluster=cluster,
                frame=frames[j],
                track=tracks[j // TRACK_FACES],
                box_x=10,
                box_y=10,
                box_w=100,
                box_h=120,
                landmarks=[[40, 50], [80, 50], [60, 70], [45, 95], [75, 95]],
                confidence=0.99,
                quality=None if j % 17 == 5 else ((j * 37 + k * 11) % 23) / 23,
                identity=0.6 if j % 3 else None,
            )
            for j in range(size)
        )
        best = max(faces, key=lambda face: (face.quality or -1, -face.pk))
        stages = [
            {"feature": feature, "survivors": size // (n + 2), "best_face": faces[n].pk}
            for n, feature in enumerate(("resolution", "yaw", "fiqa"))
        ]
        Selection.objects.bulk_create(
            Selection(
                cluster=cluster,
                selector=selector,
                parameters="filtering:default" if selector == "filtering" else selector,
                face=best,
                run=run,
                details={"stages": stages} if selector == "filtering" else {},
            )
            for selector in Selection.Selector.values
        )
    return title


def queries_of(client, url: str) -> int:
    client.get(url)  # the session's and the caches' first use
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


def next_url(client, url: str) -> str:
    """The URL that the page's *next* link names."""
    link = NEXT.search(client.get(url).content.decode())
    assert link, f"no next link on {url}"
    return f"{url.split('?')[0]}?{html.unescape(link.group(1))}"


def test_the_title_and_cluster_pages_and_selections_make_as_many_queries_at_any_size(admin):
    small = video_title("small", [125, 20])
    large = video_title("large", [700] + [40] * (PER_PAGE + 5))
    for title in (small, large):
        title.lead = title.clusters.order_by("pk").first()

    pages = {
        "title page": lambda title: f"/titles/{title.pk}/",
        "title page by faces": lambda title: f"/titles/{title.pk}/?sort=-face_count",
        "cluster page": lambda title: f"/clusters/{title.lead.pk}/",
        "cluster page by cursor": lambda title: next_url(admin, f"/clusters/{title.lead.pk}/"),
        "selections API": lambda title: f"/api/titles/{title.pk}/selections/",
        "faces API": lambda title: f"/api/titles/{title.pk}/faces/",
        "clusters API": lambda title: f"/api/titles/{title.pk}/clusters/",
    }
    for name, url in pages.items():
        assert queries_of(admin, url(large)) == queries_of(admin, url(small)), name

    def command_queries(title: Title) -> int:
        with CaptureQueriesContext(connection) as queries:
            call_command("selections", title.name, stdout=io.StringIO())
        return len(queries)

    assert command_queries(large) == command_queries(small)


def test_the_lists_make_as_many_queries_with_many_rows(admin, django_assert_num_queries):
    title = video_title("judged", [12, 12])
    annotator, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    campaign = campaign_create(name="grades", kind="grade", titles=[title], selectors=["baseline"])
    urls = (
        "/titles/",
        "/titles/?sort=-face_count",
        "/imports/",
        "/campaigns/",
        "/api/titles/",
        "/api/imports/",
        "/api/campaigns/",
        "/api/runs/",
        "/api/judgments/",
    )
    few = {url: queries_of(admin, url) for url in urls}

    Title.objects.bulk_create(Title(name=f"more {k:03d}") for k in range(PER_PAGE + 60))
    ImportJob.objects.bulk_create(ImportJob(name=f"job {k:03d}") for k in range(PER_PAGE + 60))
    Campaign.objects.bulk_create(
        Campaign(name=f"more {k:03d}", kind="grade", selectors=["baseline"]) for k in range(120)
    )
    ScoringRun.objects.bulk_create(ScoringRun(title=title) for _ in range(120))
    items = list(campaign.items.all())
    Judgment.objects.bulk_create(
        Judgment(
            item=items[k % len(items)],
            annotator=annotator,
            answer="usable",
            seconds=1.0,
            token=f"bulk{k:028d}",
        )
        for k in range(150)
    )
    for url in urls:
        with django_assert_num_queries(few[url]):
            assert admin.get(url).status_code == 200, url


def walk(client, url: str, rows) -> list:
    """Every row of a list, page after page by the *next* links, then back by *previous*."""
    forward, pages = [], []
    while True:
        response = client.get(url)
        pages.append(list(rows(response)))
        forward += pages[-1]
        link = NEXT.search(response.content.decode())
        if not link:
            break
        url = f"{url.split('?')[0]}?{html.unescape(link.group(1))}"
    backward = []
    while link := PREVIOUS.search(client.get(url).content.decode()):
        url = f"{url.split('?')[0]}?{html.unescape(link.group(1))}"
        backward.insert(0, list(rows(client.get(url))))
    assert backward == pages[:-1]  # the same pages, read backwards
    return forward


def test_keyset_pages_give_every_row_once_in_the_order_asked(admin):
    Title.objects.bulk_create(
        Title(name=f"title {k:03d}", source="same" if k % 2 else "other") for k in range(133)
    )
    titles = lambda response: [title.pk for title in response.context["titles"]]  # noqa: E731
    by_name = walk(admin, "/titles/?sort=-name", titles)
    assert by_name == list(Title.objects.order_by("-name").values_list("pk", flat=True))
    # Sorted by a column of ties (no title has faces): the ids decide, each row still once.
    by_faces = walk(admin, "/titles/?sort=face_count&q=same", titles)
    assert by_faces == list(
        Title.objects.filter(source="same").order_by("pk").values_list("pk", flat=True)
    )

    title = video_title("ranked", [300])
    faces = walk(
        admin,
        f"/clusters/{title.clusters.get().pk}/",
        lambda response: [face.pk for _, face, _ in response.context["ranked"]],
    )
    expected = sorted(
        title.faces.values_list("quality", "pk"),
        key=lambda row: (-(row[0] if row[0] is not None else -1), row[1]),
    )
    assert faces == [pk for _, pk in expected]
    assert any(quality is None for quality, _ in expected)


def test_a_keyset_page_continues_where_the_last_one_ended_while_rows_are_added(admin):
    Title.objects.bulk_create(Title(name=f"title {k:03d}") for k in range(120))
    first = admin.get("/titles/", {"sort": "name"})
    seen = [title.name for title in first.context["titles"]]
    # Rows sorted before and after the end of the first page, added between the two requests.
    Title.objects.bulk_create(Title(name=name) for name in ("a first", "title 0495", "zz last"))
    link = NEXT.search(first.content.decode())
    second = admin.get(f"/titles/?{html.unescape(link.group(1))}")
    names = [title.name for title in second.context["titles"]]
    assert names[:2] == ["title 0495", "title 050"]  # the row added after the cursor, first
    assert not set(names) & set(seen) and "a first" not in names
    assert "Page 2 of 3" in second.content.decode()

    page_two = admin.get("/titles/", {"sort": "name", "page": 2})  # a page by its number
    assert [t.name for t in page_two.context["titles"]][0] == "title 049"
    junk = [
        "!!",
        *(
            base64.urlsafe_b64encode(text.encode()).decode()
            for text in ("not json", "[null]", '[2, "title 000", "not an id"]')
        ),
    ]
    for cursor in junk:
        shown = admin.get("/titles/", {"sort": "name", "after": cursor})
        assert shown.status_code == 200 and shown.context["listing"].page.number == 1
    not_a_date = base64.urlsafe_b64encode(b'[2, "yesterday", 5]').decode()
    shown = admin.get("/titles/", {"sort": "created_at", "before": not_a_date})
    assert shown.status_code == 200 and shown.context["listing"].page.number == 1


def test_the_api_pages_by_cursor_through_every_face(admin):
    title = video_title("api", [130, 90])
    url, seen = f"/api/titles/{title.pk}/faces/", []
    while url:
        page = admin.get(url).json()
        seen += [face["id"] for face in page["results"]]
        if len(seen) == 100:  # faces added mid-walk come once, at the end
            added = list(Face.objects.filter(pk__in=seen[:2]))
            for face in added:
                face.pk = None
            Face.objects.bulk_create(added)
        url = page["next"]
    assert len(seen) == 222
    assert seen == list(title.faces.order_by("pk").values_list("pk", flat=True))


def test_the_title_page_shows_each_clusters_best_faces(admin):
    title = video_title("best", [40, 9])
    response = admin.get(f"/titles/{title.pk}/")
    for row in response.context["rows"]:
        ranked = sorted(
            row["cluster"].faces.values_list("quality", "pk"),
            key=lambda face: (-(face[0] if face[0] is not None else -1), face[1]),
        )
        assert [face.pk for face in row["faces"]] == [pk for _, pk in ranked[:8]]
        assert row["hidden"] == len(ranked) - len(row["faces"])


def test_the_cluster_page_shows_its_busiest_tracks_when_there_are_many(admin, monkeypatch):
    title = video_title("tracks", [95])
    cluster = title.clusters.get()
    other = Cluster.objects.create(title=title, label="guest")
    moved = title.faces.filter(track__number=30).order_by("pk")[:4]
    Face.objects.filter(pk__in=list(moved.values_list("pk", flat=True))).update(cluster=other)
    monkeypatch.setattr(cluster_queries, "TRACKS_SHOWN", 3)

    page = admin.get(f"/clusters/{cluster.pk}/")
    tracks = page.context["tracks"]
    assert page.context["track_count"] == 10 and len(tracks) == 3
    assert [track.start for track in tracks] == sorted(track.start for track in tracks)
    assert all(track.faces_here == TRACK_FACES for track in tracks)  # the busiest ones
    content = page.content.decode()
    assert "Shown: the 3 tracks with most faces here, of 10" in content
    assert content.count('class="segment') == 3

    guest = admin.get(f"/clusters/{other.pk}/").context["tracks"]
    assert [(t.number, t.faces_here, t.faces_all) for t in guest] == [(30, 4, TRACK_FACES)]


def test_the_api_campaign_list_reports_each_campaigns_own_progress(admin):
    from curation.review.queue import answer_record, next_item

    title = video_title("judged", [12] * 4)
    campaigns = [
        campaign_create(name=name, kind="grade", titles=[title], selectors=selectors)
        for name, selectors in (("one", ["baseline"]), ("two", ["baseline", "fiqa"]))
    ]
    for name, answers in (("ann", 3), ("bob", 1)):
        annotator, _ = user_create(username=name, role="annotator", password="pw-ann-1")
        for _ in range(answers):
            served = next_item(campaign=campaigns[1], annotator=annotator)
            answer_record(
                campaign=campaigns[1],
                annotator=annotator,
                token=served.token,
                answer="usable",
                viewed_ms=1000,
            )
    listed = {row["id"]: row["progress"] for row in admin.get("/api/campaigns/").json()["results"]}
    for campaign in campaigns:
        assert listed[campaign.pk] == admin.get(f"/api/campaigns/{campaign.pk}/").json()["progress"]
    assert listed[campaigns[1].pk]["annotators"] == [["ann", 3], ["bob", 1]]
