"""The two groups. Admins may change everything in this app and manage users; annotators get
no model permission (they work through their queues only)."""

from django.db import migrations


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(Permission.objects.filter(
        content_type__app_label__in=["curation", "auth", "authtoken"]))
    Group.objects.get_or_create(name="annotator")


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["admin", "annotator"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("curation", "0002_face_title_consistency"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]
    operations = [migrations.RunPython(create_groups, remove_groups)]
