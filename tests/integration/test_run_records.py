"""Scoring runs record what they used and what they picked; diff_runs says what changed and why."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from curation.accounts.users import user_create
from curation.models import FilterConfig, ScoringRun, Selection
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
