"""Cluster curation on a real scored title: merge, split, rename, mark, each logged with who did
it and undoable; picks recomputed by a real worker for the changed clusters only."""

from __future__ import annotations

import pytest
from django.test import Client

from curation.accounts.users import user_create
from curation.clusters.service import (
    EditRefused,
    cluster_mark,
    cluster_rename,
    clusters_merge,
    edit_undo,
    faces_split,
    picks_recompute,
)
from curation.models import Cluster, ClusterEdit, Face, ScoringRun, Selection
from tests.integration.test_scoring_pipeline import wait_for_run


@pytest.fixture
def boss(transactional_db):
    user, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    return user


def members(title) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for face in Face.objects.filter(title=title).select_related("cluster"):
        found.setdefault(face.cluster.label, set()).add(face.pk)
    return found


def picks(title) -> dict[tuple[str, str], tuple[int, int]]:
    return {
        (s.cluster.label, s.selector): (s.pk, s.face_id)
        for s in Selection.objects.filter(cluster__title=title).select_related("cluster")
    }


def test_merge_split_rename_mark_each_undo_to_what_was(scored_title, boss):
    title = scored_title
    start = members(title)
    kidd = Cluster.objects.get(title=title, label="Jason_Kidd")
    rogge = Cluster.objects.get(title=title, label="Jacques_Rogge")

    merge = clusters_merge(title=title, source_ids=[kidd.pk], target_id=rogge.pk, user=boss)
    after = members(title)
    assert after["Jacques_Rogge"] == start["Jacques_Rogge"] | start["Jason_Kidd"]
    assert "Jason_Kidd" not in after  # left empty, not deleted
    assert set(Cluster.objects.filter(stale=True).values_list("pk", flat=True)) == {
        kidd.pk,
        rogge.pk,
    }
    assert merge.made_by == boss and "merged Jason_Kidd into Jacques_Rogge" in merge.summary

    moved = sorted(start["Jason_Kidd"])[:2]
    split = faces_split(
        title=title,
        face_ids=moved,
        track_ids=[],
        source_id=rogge.pk,
        target_id=None,
        new_label="Kidd again",
        user=boss,
    )
    assert members(title)["Kidd again"] == set(moved)
    cluster_rename(cluster=rogge, label="Rogge", user=boss)
    cluster_mark(cluster=Cluster.objects.get(pk=rogge.pk), role="not_actor", user=boss)
    with pytest.raises(EditRefused, match="already has a cluster named 'Kidd again'"):
        cluster_rename(cluster=rogge, label="Kidd  again", user=boss)

    # Undo, four times: each takes back the latest, to exactly what was before it.
    for _ in range(4):
        edit_undo(title=title, user=boss)
    assert members(title) == start
    assert Cluster.objects.get(pk=rogge.pk).label == "Jacques_Rogge"
    assert Cluster.objects.get(pk=rogge.pk).role == Cluster.Role.ACTOR
    assert not Cluster.objects.filter(label="Kidd again").exists()  # made by the split: gone
    with pytest.raises(EditRefused, match="nothing to undo"):
        edit_undo(title=title, user=boss)
    log = list(ClusterEdit.objects.filter(title=title).order_by("created_at", "pk"))
    assert [e.action for e in log] == ["merge", "split", "rename", "role", *["undo"] * 4]
    assert all(e.undone_by_id for e in log[:4]) and all(e.made_by == boss for e in log)
    assert split.pk in {e.pk for e in log}


def test_picks_are_recomputed_for_the_changed_clusters_only(
    scored_title, boss, celery_worker_process
):
    title = scored_title
    before = picks(title)
    kidd = Cluster.objects.get(title=title, label="Jason_Kidd")
    rogge = Cluster.objects.get(title=title, label="Jacques_Rogge")
    khatami = Cluster.objects.get(title=title, label="Mohammad_Khatami")
    clusters_merge(title=title, source_ids=[kidd.pk], target_id=rogge.pk, user=boss)
    cluster_mark(cluster=khatami, role="not_actor", user=boss)

    run = wait_for_run(picks_recompute(title=title))

    assert run.status == ScoringRun.Status.DONE, run.error
    assert sorted(run.clusters) == sorted([kidd.pk, rogge.pk, khatami.pk])
    assert run.faces_total == 0  # features were measured: nothing decoded again
    after = picks(title)
    changed = {"Jason_Kidd", "Jacques_Rogge", "Mohammad_Khatami"}
    # Unchanged clusters keep their very rows; the emptied and the no-actor ones have none.
    assert {k: v for k, v in before.items() if k[0] not in changed} == {
        k: v for k, v in after.items() if k[0] not in changed
    }
    assert not any(label in ("Jason_Kidd", "Mohammad_Khatami") for label, _ in after)
    # No model learned from people's judgments yet, so no learned picks.
    unlearned = set(Selection.Selector.values) - {Selection.Selector.LEARNED}
    assert {s for label, s in after if label == "Jacques_Rogge"} == unlearned
    for (label, _), (_, face) in after.items():
        if label == "Jacques_Rogge":
            assert Face.objects.get(pk=face).cluster_id == rogge.pk
    assert not Cluster.objects.filter(title=title, stale=True).exists()
    with pytest.raises(EditRefused, match="no cluster has changed"):
        picks_recompute(title=title)


def test_no_edit_while_the_title_is_being_scored(scored_title, boss):
    ScoringRun.objects.create(title=scored_title, status=ScoringRun.Status.RUNNING)
    kidd = Cluster.objects.get(title=scored_title, label="Jason_Kidd")
    before = members(scored_title)
    with pytest.raises(EditRefused, match="being scored"):
        cluster_rename(cluster=kidd, label="Kidd", user=boss)
    assert members(scored_title) == before and not ClusterEdit.objects.exists()


def test_the_pages_curate_with_one_line_answers_and_only_for_admins(scored_title, boss):
    kidd = Cluster.objects.get(title=scored_title, label="Jason_Kidd")
    rogge = Cluster.objects.get(title=scored_title, label="Jacques_Rogge")
    user_create(username="ann", role="annotator", password="pw-annotator-1")
    annotator = Client()
    annotator.login(username="ann", password="pw-annotator-1")
    response = annotator.post(f"/clusters/{kidd.pk}/rename/", {"label": "x"})
    assert response.status_code == 403 and not ClusterEdit.objects.exists()

    admin = Client()
    admin.login(username="boss", password="pw-admin-1")
    page = admin.get(f"/clusters/{kidd.pk}/").content.decode()
    assert "Merge all its faces into" in page and 'name="face"' in page
    response = admin.post(f"/clusters/{kidd.pk}/rename/", {"label": "Jacques_Rogge"}, follow=True)
    assert "already has a cluster named" in response.content.decode()
    some = sorted(kidd.faces.values_list("pk", flat=True))[:3]
    response = admin.post(
        f"/clusters/{kidd.pk}/split/", {"face": some, "target": str(rogge.pk)}, follow=True
    )
    assert "Moved 3 faces from Jason_Kidd to Jacques_Rogge" in response.content.decode()
    response = admin.post(f"/clusters/{kidd.pk}/split/", {"target": "new"}, follow=True)
    assert "choose faces or tracks of this cluster to move" in response.content.decode()
    title_page = admin.get(f"/titles/{scored_title.pk}/").content.decode()
    assert "2 clusters changed since their picks were made" in title_page
    assert "moved 3 faces from Jason_Kidd to Jacques_Rogge" in title_page and "boss" in title_page
    response = admin.post(f"/titles/{scored_title.pk}/undo/", follow=True)
    assert "Undid: moved 3 faces" in response.content.decode()
    assert set(kidd.faces.values_list("pk", flat=True)) >= set(some)
