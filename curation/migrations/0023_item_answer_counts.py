from django.db import migrations, models
from django.db.models.functions import Coalesce

# Each kind's answers in the order of the counters (as ``curation.models.KIND_ANSWERS``).
ANSWERS = ("unidentifiable", "usable", "excellent"), ("a", "b", "equal")


def count_answers(apps, schema_editor):
    """Items made before: their live decisive judgments per answer, counted once. An item's
    judgments all give answers of its campaign's kind, so the two kinds' answers share the
    counters."""
    Item = apps.get_model("curation", "Item")
    Judgment = apps.get_model("curation", "Judgment")

    def live(answers):
        return Coalesce(
            models.Subquery(
                Judgment.objects.filter(
                    item=models.OuterRef("pk"), answer__in=answers, superseded_by__isnull=True
                )
                .order_by()
                .values("item")
                .annotate(n=models.Count("pk"))
                .values("n")
            ),
            0,
            output_field=models.IntegerField(),
        )

    Item.objects.filter(judged__gt=0).update(
        **{f"answers_{k}": live([grade, ab]) for k, (grade, ab) in enumerate(zip(*ANSWERS))}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0022_face_cluster_rank"),
    ]

    operations = [
        *(
            migrations.AddField(
                model_name="item", name=f"answers_{k}", field=models.PositiveIntegerField(default=0)
            )
            for k in range(3)
        ),
        migrations.RunPython(count_answers, migrations.RunPython.noop, elidable=True),
    ]
