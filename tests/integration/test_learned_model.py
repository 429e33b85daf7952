"""The learned selector end to end on real faces: simulated annotators judge a real scored title
through the real queue, a worker trains the learned model from the admin, and scoring it again
on the worker makes learned picks with headshots that an A/B campaign can put against
regression."""

from __future__ import annotations

import hashlib
import io
import itertools
import shutil
import time

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from curation.accounts.users import user_create
from curation.models import Campaign, Face, QualityModel, QualityTraining, ScoringRun, Selection
from curation.queueing import SCORE_SELECTION, enqueue
from curation.review.campaigns import campaign_create
from curation.review.queue import answer_record, live_judgments, next_item
from curation.scoring_runs import records
from curation.scoring_runs.learned_models import (
    learned_model_active,
    learned_model_train,
    load_learned_model,
)
from curation.scoring_runs.quality_models import load_quality_model
from curation.scoring_runs.steps import feature_table
from scoring.preference import NotEnoughJudgments
from tests.conftest import face_data

pytestmark = pytest.mark.django_db(transaction=True)

SELECTORS = ["baseline", "fiqa", "filtering", "regression"]
PEOPLE = (
    "Alvaro_Uribe",
    "Amelie_Mauresmo",
    "Angelina_Jolie",
    "David_Beckham",
    "Hamid_Karzai",
    "Jennifer_Aniston",
    "Laura_Bush",
    "Naomi_Watts",
    "Tiger_Woods",
    "Winona_Ryder",
)


@pytest.fixture
def title_of_ten(tmp_path, media_root, transactional_db):
    """A real title of ten LFW people, eight photos each, scored in this process by the scoring
    run's own steps (the six clusters of ``scored_title`` give too few pairs to learn from)."""
    from curation.imports.service import title_import
    from curation.models import Title
    from curation.scoring_runs import quality_models, steps

    root = tmp_path / "people"
    for name in PEOPLE:
        (root / name).mkdir(parents=True)
        for path in sorted(face_data("lfw", name).glob("*.jpg"))[:8]:
            shutil.copy(path, root / name / path.name)
    title = Title.objects.get(pk=title_import(source=root, name="ten").title_id)
    run = ScoringRun.objects.create(title=title, faces_total=title.faces.count())
    steps.features_compute(run=run, face_ids=list(title.faces.values_list("pk", flat=True)))
    quality_models.quality_assign(run=run)
    steps.selections_replace(run=run)
    steps.crops_make(run=run)
    ScoringRun.objects.filter(pk=run.pk).update(
        status=ScoringRun.Status.DONE, step=ScoringRun.Step.DONE
    )
    return title


def frontal(face: Face | None) -> float:
    """The simulated annotators' known truth: the more frontal the head, the better."""
    assert face is not None and face.yaw is not None and face.pitch is not None
    return -(abs(face.yaw) + 0.5 * abs(face.pitch))


def judge(campaign: Campaign, annotator) -> None:
    """Answer every item the queue serves, from the truth: grades are its terciles over the
    campaign's faces; an A/B answer names the side showing the more frontal face."""
    faces = Face.objects.filter(pk__in=campaign.items.values("face"))
    cuts = np.percentile([frontal(face) for face in faces], [100 / 3, 200 / 3])
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        item = served.item
        if campaign.kind == Campaign.Kind.GRADE:
            rank = int(np.searchsorted(cuts, frontal(item.face)))
            answer = ("unidentifiable", "usable", "excellent")[rank]
        else:
            a_better = frontal(item.face) > frontal(item.face_b)
            answer = "left" if a_better == served.left_is_a else "right"
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer=answer)


def judged_campaigns(title) -> list[Campaign]:
    """A grade campaign of every selector's picks and an A/B campaign per pair of selectors,
    every one judged by one simulated annotator."""
    annotator = user_create(username="ann", role="annotator", password="pw-ann-1")[0]
    campaigns = [campaign_create(name="grade", kind="grade", titles=[title], selectors=SELECTORS)]
    campaigns += [
        campaign_create(name=f"{a} vs {b}", kind="ab", titles=[title], selectors=[a, b])
        for a, b in itertools.combinations(SELECTORS, 2)
    ]
    for campaign in campaigns:
        judge(campaign, annotator)
    return campaigns


def wait_for(read, done, what: str, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while not done(value := read()):
        assert time.monotonic() < deadline, f"{what} did not finish: {value}"
        time.sleep(0.2)
    return value


def test_a_model_learned_from_judgments_makes_learned_picks_on_a_worker(
    title_of_ten, start_worker, client, media_root
):
    assert not Selection.objects.filter(selector=Selection.Selector.LEARNED).exists()
    campaigns = judged_campaigns(title_of_ten)
    with_judgments = sorted(c.pk for c in campaigns if live_judgments(c).exists())
    weak = QualityModel.objects.get(labels=QualityModel.Labels.WEAK, is_active=True)
    ScoringRun.objects.update(status=ScoringRun.Status.DONE)  # nothing for the worker to resume
    start_worker()

    # The admin's campaign action trains on the selected campaigns, on a worker.
    admin, _ = user_create(username="boss", role="admin", password="pw-admin-1")
    client.force_login(admin)
    response = client.post(
        reverse("admin:curation_campaign_changelist"),
        {"action": "train_learned", "_selected_action": [c.pk for c in campaigns]},
        follow=True,
    )
    assert "queued" in response.content.decode()
    training = wait_for(
        lambda: QualityTraining.objects.get(),
        lambda t: t.status in (QualityTraining.Status.DONE, QualityTraining.Status.FAILED),
        "the training",
    )
    assert training.status == QualityTraining.Status.DONE, training.error
    assert training.labels == QualityModel.Labels.PEOPLE
    learned = training.model
    assert (learned.labels, learned.is_active) == (QualityModel.Labels.PEOPLE, True)
    assert learned.campaigns == with_judgments  # the campaign whose picks all agree has none
    assert QualityModel.objects.get(labels=QualityModel.Labels.WEAK, is_active=True) == weak
    assert learned.params["prior"] == {"version": weak.version}
    summary = learned.summary
    assert summary["pairs"] >= 20
    assert summary["held_out_pairs"] + summary["trained_on_pairs"] == summary["pairs"]
    assert summary["held_out_clusters"] + summary["trained_on_clusters"] == summary["clusters"]
    assert 0 <= summary["accuracy_held_out"] <= 1 and 0 <= summary["weak_accuracy_held_out"] <= 1
    assert training.step.startswith(f"trained v{learned.version} on {summary['pairs']} judged")

    # Scoring the title again on the worker: a learned pick per cluster, with its headshot.
    run = ScoringRun.objects.create(
        title=title_of_ten,
        status=ScoringRun.Status.RUNNING,
        step=ScoringRun.Step.QUALITY,
        record=records.run_record(),
    )
    enqueue(SCORE_SELECTION, run.pk)
    run = wait_for(
        lambda: ScoringRun.objects.get(pk=run.pk),
        lambda r: r.status in (ScoringRun.Status.DONE, ScoringRun.Status.FAILED),
        "the scoring run",
    )
    assert run.status == ScoringRun.Status.DONE, run.error
    picks = Selection.objects.filter(selector=Selection.Selector.LEARNED, run=run)
    assert picks.count() == title_of_ten.clusters.count() == 10
    model = load_learned_model(learned.artifact.name)
    prior = load_quality_model(weak.artifact.name)
    for pick in picks:
        assert pick.parameters == f"learned:v{learned.version}"
        assert (media_root / pick.crop).is_file() and pick.crop_box is not None
        faces = list(pick.cluster.faces.filter(background=False).order_by("pk"))
        scores = model.predict(feature_table(faces), prior)
        assert pick.face == faces[int(np.argmax(scores))]
    with open(learned.artifact.path, "rb") as stored:
        artifact = hashlib.sha256(stored.read()).hexdigest()
    assert run.record["learned_model"]["sha256"] == artifact
    assert run.record["learned_model"]["version"] == learned.version
    assert run.record["learned_model"]["campaigns"] == with_judgments
    assert all("learned" in picks_of for picks_of in run.picks.values())

    # Learned against regression, blind, as for any two selectors.
    ab = campaign_create(
        name="learned vs regression",
        kind="ab",
        titles=[title_of_ten],
        selectors=["learned", "regression"],
    )
    assert ab.items.filter(repeat_of=None, gold="").count() == 10

    # A learned model of older features makes no picks, and the run says why.
    QualityModel.objects.filter(pk=learned.pk).update(feature_version="pose=older")
    assert learned_model_active(run=run) is None
    run.refresh_from_db()
    assert f"Learned model v{learned.version} was trained on older features" in run.notes[-1]


def test_too_few_judgments_is_a_one_line_refusal(scored_title):
    annotator = user_create(username="ann", role="annotator", password="pw-ann-1")[0]
    campaign = campaign_create(name="g", kind="grade", titles=[scored_title], selectors=SELECTORS)
    for answer in ("excellent", "unidentifiable", "usable"):
        served = next_item(campaign=campaign, annotator=annotator)
        answer_record(campaign=campaign, annotator=annotator, token=served.token, answer=answer)
    with pytest.raises(NotEnoughJudgments, match=r"need at least 20 pairs .*found \d: judge more"):
        learned_model_train()
    with pytest.raises(CommandError, match="need at least 20 pairs"):
        call_command("train_learned_model", "--campaigns", str(campaign.pk))
    with pytest.raises(CommandError, match="no campaign 999999"):
        call_command("train_learned_model", "--campaigns", "999999")
    assert not QualityModel.objects.filter(labels=QualityModel.Labels.PEOPLE).exists()


def test_without_a_weak_model_there_is_nothing_to_refine():
    with pytest.raises(CommandError, match="refines the active weak-label quality model"):
        call_command("train_learned_model", stdout=io.StringIO())
