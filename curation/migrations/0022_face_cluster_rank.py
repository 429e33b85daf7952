import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0020_queue_counters_and_walk"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="face",
            index=models.Index(
                models.F("cluster"),
                models.OrderBy(
                    django.db.models.functions.comparison.Coalesce("quality", models.Value(-1.0)),
                    descending=True,
                ),
                models.F("id"),
                name="face_cluster_rank",
            ),
        ),
    ]
