"""Scoring runs record what they used and what they picked; diff_runs says what changed and why."""

from __future__ import annotations

import io
import itertools
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.test import Client
from statsmodels.stats.proportion import proportion_confint

from curation.accounts.users import user_create
from curation.models import Face, FilterConfig, Item, ScoringRun, Selection
from curation.review.campaigns import campaign_create
from curation.review.queue import answer_record, next_item
from curation.scoring_runs import quality_models, records, steps

pytestmark = pytest.mark.django_db(transaction=True)


def picks_run(title) -> ScoringRun:
    """A run of the quality and picks steps, as the worker runs them, with its frozen record."""
    run = ScoringRun.objects.create(title=title, record=records.run_record())
    quality_models.quality_assign(run=run)
    run.record = run.record | {"quality_model": records.quality_model_record(run.quality_model)}
    run.save(update_fields=["record"])
    steps.selections_replace(run=run)
    run.refresh_from_db()
    return run


def test_a_run_freezes_what_it_used_and_picked(scored_title):
    run = picks_run(scored_title)
    record = run.record
    assert record["code"].startswith("0.1.0+") and len(record["code"]) == 18
    assert all(
        " sha256:" in line and len(line.split(":")[-1]) == 64 for line in record["models"].values()
    )
    assert {"FIQA_MODEL_PATH", "dlib resnet", "dlib landmarks"} <= set(record["models"])
    assert record["selectors"]["filtering"]["config"] == "filtering:default"
    assert record["quality_model"]["version"] == 1 and len(record["quality_model"]["sha256"]) == 64
    assert record["seeds"] == {"quality model training": 0}
    stored = {(str(s.cluster_id), s.selector): s.face_id for s in Selection.objects.filter(run=run)}
    frozen = {(c, k): v["face"] for c, p in run.picks.items() for k, v in p.items() if k != "label"}
    assert frozen == stored and len(frozen) == 6 * 4


def test_diff_runs_names_the_changed_picks_and_the_stage_that_decided(scored_title):
    before = picks_run(scored_title)
    FilterConfig.objects.create(
        name="size only",
        is_active=True,
        stages=[{"feature": "resolution", "top": 1}],
    )
    after = picks_run(scored_title)

    out = io.StringIO()
    call_command("diff_runs", str(before.pk), str(after.pk), "--json", stdout=out)
    diff = json.loads(out.getvalue())
    assert any(
        line.startswith("selectors.filtering.config: filtering:default → filtering:")
        for line in diff["used"]
    )
    changed = {(c["cluster"], c["selector"]) for c in diff["changes"]}
    assert changed and {selector for _, selector in changed} == {"filtering"}
    for change in diff["changes"]:
        assert "filter config filtering:default → filtering:" in change["why"]
        assert "stage 1" in change["why"]
    assert diff["unchanged"] == 6 * 4 - len(changed)
    out = io.StringIO()
    call_command("diff_runs", str(before.pk), str(before.pk), stdout=out)
    assert "0 picks changed, 24 the same" in out.getvalue()

    # The same, on a page linked from the title's picks.
    user_create(username="boss", role="admin", password="pw-admin-1")
    admin = Client()
    admin.login(username="boss", password="pw-admin-1")
    title_page = admin.get(f"/titles/{scored_title.pk}/").content.decode()
    assert f"/runs/{before.pk}/diff/{after.pk}/" in title_page
    page = admin.get(f"/runs/{before.pk}/diff/{after.pk}/").content.decode()
    assert f"{len(changed)} pick" in page and f"changed, {diff['unchanged']} the same" in page
    assert "stage 1" in page and "filtering:default" in page


GRADES = ("unidentifiable", "usable", "excellent")
SELECTORS = ["baseline", "fiqa", "filtering", "regression"]


def truth(face: int) -> int:
    """The simulated annotator's grade of a face (a rank), known to the test."""
    return face % 3


def better_face(face: int, other: int) -> int | None:
    """The simulated A/B annotator: the face with the larger box; None (equal) for the same."""
    size = dict(Face.objects.filter(pk__in=[face, other]).values_list("pk", "resolution"))
    if size[face] == size[other]:
        return None
    return face if (size[face] or 0) > (size[other] or 0) else other


def judge_everything(campaign, annotator) -> None:
    """Answer every item the queue serves: grades by :func:`truth`, A/B by
    :func:`better_face`."""
    while (served := next_item(campaign=campaign, annotator=annotator)) is not None:
        face, face_b = served.item.face_id, served.item.face_b_id
        assert face is not None
        if campaign.kind == "grade":
            answer = GRADES[truth(face)]
        else:
            assert face_b is not None
            better = better_face(face, face_b)
            if better is None:
                answer = "equal"
            else:
                answer = "left" if (better == face) == served.left_is_a else "right"
        answer_record(
            campaign=campaign, annotator=annotator, token=served.token, answer=answer, viewed_ms=900
        )


def expected_figures(run: ScoringRun) -> tuple[dict, dict]:
    """Worked out from the campaigns' items and the simulated answers, apart from the code:
    per selector, (picks, judged, unidentifiable, usable, excellent); per selector pair,
    (first wins, second wins, equal)."""
    graded = set(Item.objects.filter(campaign__kind="grade").values_list("face_id", flat=True))
    compared: dict[tuple[int, frozenset], int | None] = {}
    for cluster, face, face_b in Item.objects.filter(
        campaign__kind="ab", identical=False
    ).values_list("cluster_id", "face_id", "face_b_id"):
        assert face is not None and face_b is not None
        compared[(cluster, frozenset((face, face_b)))] = better_face(face, face_b)
    grades = {}
    for selector in SELECTORS:
        faces = [picks[selector]["face"] for picks in run.picks.values()]
        ranks = [truth(face) for face in faces if face in graded]
        grades[selector] = (
            len(faces),
            len(ranks),
            sum(r == 0 for r in ranks),
            sum(r >= 1 for r in ranks),
            sum(r == 2 for r in ranks),
        )
    wins = {}
    for first, second in itertools.combinations(SELECTORS, 2):
        counts: Counter = Counter()
        for cluster, picks in run.picks.items():
            one, two = picks[first]["face"], picks[second]["face"]
            key = (int(cluster), frozenset((one, two)))
            if one != two and key in compared:
                winner = compared[key]
                counts["first" if winner == one else "second" if winner == two else "equal"] += 1
        if counts:
            wins[(first, second)] = (counts["first"], counts["second"], counts["equal"])
    return grades, wins


def test_diff_runs_sets_the_judged_quality_of_both_runs_picks_side_by_side(scored_title):
    before = picks_run(scored_title)
    campaigns = [
        campaign_create(name=f"earlier {kind}", kind=kind, titles=[scored_title], selectors=chosen)
        for kind, chosen in (("grade", SELECTORS), ("ab", ["filtering", "regression"]))
    ]
    FilterConfig.objects.create(
        name="size only", is_active=True, stages=[{"feature": "resolution", "top": 1}]
    )
    after = picks_run(scored_title)
    # The later run's filtering picks, graded.
    campaigns.append(
        campaign_create(name="later", kind="grade", titles=[scored_title], selectors=["filtering"])
    )
    out = io.StringIO()
    call_command("diff_runs", str(before.pk), str(after.pk), stdout=out)
    assert f"run {before.pk}'s picks were not judged yet" in out.getvalue()
    assert f"run {after.pk}'s picks were not judged yet" in out.getvalue()

    annotator = user_create(username="ann", role="annotator", password="pw-ann-1")[0]
    for campaign in campaigns:
        judge_everything(campaign, annotator)

    out = io.StringIO()
    call_command("diff_runs", str(before.pk), str(after.pk), "--json", stdout=out)
    judged = json.loads(out.getvalue())["judged"]
    assert judged["not_judged"] == []
    for run, figures in zip((before, after), judged["runs"], strict=True):
        grades, wins = expected_figures(run)
        assert figures["run"] == run.pk
        assert {
            g["selector"]: (
                g["picks"],
                g["judged"],
                g["unidentifiable"]["count"],
                g["usable"]["count"],
                g["excellent"]["count"],
            )
            for g in figures["grades"]
        } == grades
        assert {
            (w["a"], w["b"]): (w["wins_a"], w["wins_b"], w["equal"]) for w in figures["wins"]
        } == wins
        for g in figures["grades"]:
            cell = g["excellent"]
            if cell["n"]:
                low, high = proportion_confint(cell["count"], cell["n"], method="wilson")
                assert (cell["wilson_low"], cell["wilson_high"]) == pytest.approx((low, high))
    earlier_wins = expected_figures(before)[1][("filtering", "regression")]
    assert sum(earlier_wins) == Item.objects.filter(campaign__kind="ab", identical=False).count()

    # The text says the same, with run B's share minus run A's in points.
    grades_a, grades_b = (expected_figures(run)[0]["filtering"] for run in (before, after))
    share_a, share_b = grades_a[4] / grades_a[1], grades_b[4] / grades_b[1]
    low, high = proportion_confint(grades_b[4], grades_b[1], method="wilson")
    cell_b = (
        f"{100 * share_b:.1f}% [{100 * low:.1f}, {100 * high:.1f}] ({grades_b[4]}/{grades_b[1]})"
    )
    points = round(100 * (share_b - share_a), 1)
    change = f"{points:+.1f} pts".replace("-", "−") if points else "0.0 pts"
    out = io.StringIO()
    call_command("diff_runs", str(before.pk), str(after.pk), stdout=out)
    text = out.getvalue()
    assert f"judged picks: run {before.pk} | run {after.pk} | difference" in text
    assert f"filtering / picks graded: {grades_a[1]}/6 | {grades_b[1]}/6 | —" in text
    line = next(line for line in text.splitlines() if "filtering / Excellent" in line)
    assert line.endswith(f"| {cell_b} | {change}")
    assert "filtering vs regression / filtering's share of decisive (sign test p)" in text

    user_create(username="boss", role="admin", password="pw-admin-1")
    admin = Client()
    admin.login(username="boss", password="pw-admin-1")
    page = admin.get(f"/runs/{before.pk}/diff/{after.pk}/").content.decode()
    section = page.split('id="judged"')[1]
    assert cell_b in section and change in section and "not judged yet" not in section
