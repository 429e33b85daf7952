"""Database-level rules that span tables: a face's frame and cluster belong to the face's title,
and its box lies inside its frame.

PostgreSQL gets composite foreign keys and a trigger; SQLite gets triggers. Note for later
migrations on SQLite: a migration that rebuilds ``curation_face`` drops these triggers, so it
must create them again (call ``create_face_rules`` from a RunPython step).
"""

from django.db import migrations

POSTGRES = [
    """ALTER TABLE curation_face ADD CONSTRAINT face_frame_same_title
       FOREIGN KEY (frame_id, title_id) REFERENCES curation_frame (id, title_id)
       ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED""",
    """ALTER TABLE curation_face ADD CONSTRAINT face_cluster_same_title
       FOREIGN KEY (cluster_id, title_id) REFERENCES curation_cluster (id, title_id)
       ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED""",
    """CREATE FUNCTION curation_face_box_inside_frame() RETURNS trigger AS $$
       BEGIN
         IF EXISTS (SELECT 1 FROM curation_frame f WHERE f.id = NEW.frame_id
                    AND (NEW.box_x + NEW.box_w > f.width + 0.01
                         OR NEW.box_y + NEW.box_h > f.height + 0.01)) THEN
           RAISE EXCEPTION 'face box lies outside its frame' USING ERRCODE = 'check_violation';
         END IF;
         RETURN NEW;
       END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER face_box_inside_frame BEFORE INSERT OR UPDATE ON curation_face
       FOR EACH ROW EXECUTE FUNCTION curation_face_box_inside_frame()""",
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS face_box_inside_frame ON curation_face",
    "DROP FUNCTION IF EXISTS curation_face_box_inside_frame()",
    "ALTER TABLE curation_face DROP CONSTRAINT IF EXISTS face_cluster_same_title",
    "ALTER TABLE curation_face DROP CONSTRAINT IF EXISTS face_frame_same_title",
]

_SQLITE_CHECKS = """
  SELECT RAISE(ABORT, 'face frame belongs to another title')
    WHERE (SELECT title_id FROM curation_frame WHERE id = NEW.frame_id) IS NOT NEW.title_id;
  SELECT RAISE(ABORT, 'face cluster belongs to another title')
    WHERE (SELECT title_id FROM curation_cluster WHERE id = NEW.cluster_id) IS NOT NEW.title_id;
  SELECT RAISE(ABORT, 'face box lies outside its frame')
    WHERE EXISTS (SELECT 1 FROM curation_frame f WHERE f.id = NEW.frame_id
                  AND (NEW.box_x + NEW.box_w > f.width + 0.01
                       OR NEW.box_y + NEW.box_h > f.height + 0.01));
"""
SQLITE = [
    f"CREATE TRIGGER face_rules_insert BEFORE INSERT ON curation_face BEGIN {_SQLITE_CHECKS} END",
    f"CREATE TRIGGER face_rules_update BEFORE UPDATE ON curation_face BEGIN {_SQLITE_CHECKS} END",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS face_rules_insert",
    "DROP TRIGGER IF EXISTS face_rules_update",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


create_face_rules = _run({"postgresql": POSTGRES, "sqlite": SQLITE})
drop_face_rules = _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE})


class Migration(migrations.Migration):
    dependencies = [("curation", "0001_initial")]
    operations = [migrations.RunPython(create_face_rules, drop_face_rules)]
