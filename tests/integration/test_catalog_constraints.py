"""The database itself keeps faces consistent with their frames, clusters and titles, and keeps
what a campaign asks about."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from curation.models import Campaign, Cluster, Face, Frame, Item, Title

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_titles():
    made = []
    for name in ("first", "second"):
        title = Title.objects.create(name=name)
        frame = Frame.objects.create(
            title=title, source_name="a/1.jpg", image="x.jpg", width=100, height=80
        )
        cluster = Cluster.objects.create(title=title, label="a")
        made.append((title, frame, cluster))
    return made


def face(title, frame, cluster, **box):
    values = {"box_x": 10, "box_y": 10, "box_w": 30, "box_h": 40} | box
    return Face(
        title=title, frame=frame, cluster=cluster, landmarks=[[0, 0]] * 5, confidence=0.99, **values
    )


def assert_refused(instance):
    with pytest.raises(IntegrityError), transaction.atomic():
        instance.save()
        # PostgreSQL checks the composite keys at commit; force the check now.
        if connection.vendor == "postgresql":
            connection.cursor().execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_tests_run_on_postgresql():
    assert connection.vendor == "postgresql"


def test_a_consistent_face_is_stored(two_titles):
    title, frame, cluster = two_titles[0]
    face(title, frame, cluster).save()
    assert Face.objects.count() == 1


def test_a_face_whose_frame_belongs_to_another_title_is_refused(two_titles):
    (title, _, cluster), (_, other_frame, _) = two_titles
    assert_refused(face(title, other_frame, cluster))


def test_a_face_whose_cluster_belongs_to_another_title_is_refused(two_titles):
    (title, frame, _), (_, _, other_cluster) = two_titles
    assert_refused(face(title, frame, other_cluster))


@pytest.mark.parametrize("box", [{"box_x": 80}, {"box_y": 50}, {"box_x": -1}, {"box_w": 0}])
def test_a_box_outside_its_frame_is_refused(two_titles, box):
    title, frame, cluster = two_titles[0]
    assert_refused(face(title, frame, cluster, **box))


def test_title_names_are_unique(two_titles):
    with pytest.raises(IntegrityError), transaction.atomic():
        Title.objects.create(name="first")


@pytest.mark.parametrize("role", ["face", "face_b", "reference"])
def test_a_face_an_item_names_is_not_deleted(two_titles, role):
    """The item's face keys are Django's to keep (PROTECT), not the database's: see Item."""
    title, frame, cluster = two_titles[0]
    named = face(title, frame, cluster)
    named.save()
    campaign = Campaign.objects.create(name="c", kind="grade", selectors=["sharpness"])
    Item.objects.create(
        campaign=campaign, cluster=cluster, selectors=["sharpness"], **{role: named}
    )
    with pytest.raises(ProtectedError):
        named.delete()
    with pytest.raises(ProtectedError):
        title.delete()
    assert Face.objects.filter(pk=named.pk).exists()


def test_the_database_refuses_to_delete_a_cluster_an_item_names(two_titles):
    """Its faces go with it, so the cluster's key guards them even from plain SQL."""
    title, frame, cluster = two_titles[0]
    face(title, frame, cluster).save()
    campaign = Campaign.objects.create(name="c", kind="grade", selectors=["sharpness"])
    Item.objects.create(campaign=campaign, cluster=cluster, selectors=["sharpness"])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM curation_face WHERE cluster_id = %s", [cluster.pk])
        cursor.execute("DELETE FROM curation_cluster WHERE id = %s", [cluster.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Face.objects.filter(cluster=cluster).exists()
