"""Quality model versions: training from the command, activation of an older version."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from curation.models import Face, QualityModel
from curation.pipeline.stages import quality_model_activate

pytestmark = pytest.mark.django_db


def test_training_with_too_few_scored_faces_is_a_one_line_error():
    with pytest.raises(CommandError, match="need at least 10 scored faces"):
        call_command("train_quality_model")


def test_train_quality_model_stores_and_activates_versions(small_scored_faces, media_root):
    out = io.StringIO()
    call_command("train_quality_model", stdout=out)
    first = json.loads(out.getvalue())
    call_command("train_quality_model", stdout=io.StringIO())

    v1, v2 = QualityModel.objects.order_by("version")
    assert (first["version"], v1.version, v2.version) == (1, 1, 2)
    assert (v1.is_active, v2.is_active) == (False, True)
    assert v2.summary["faces"] == Face.objects.count()
    assert 0.0 <= v2.summary["r2_held_out"] <= 1.0
    assert v2.titles == ["small"]
    assert (media_root / v2.artifact.name).is_file()

    quality_model_activate(record=v1)
    assert list(QualityModel.objects.filter(is_active=True)) == [v1]


@pytest.fixture
def small_scored_faces(lfw_small, media_root):
    """A real title whose features were computed by the pipeline's own stage function."""
    from curation.ingest.service import title_import
    from curation.models import ScoringRun, Title
    from curation.pipeline.stages import features_compute

    title_import(source=lfw_small, name="small")
    title = Title.objects.get()
    run = ScoringRun.objects.create(title=title, faces_total=title.faces.count())
    features_compute(run=run, face_ids=list(title.faces.values_list("pk", flat=True)))
