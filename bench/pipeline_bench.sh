#!/usr/bin/env bash
# Import the LFW clusters and score them on the embedded default (SQLite, a broker in files, one
# worker), in a throwaway data folder. Prints the import speed and the time of each scoring stage.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${FACE_DATA_DIR:-../shared/data}
export FACE_CURATION_DATA_DIR
FACE_CURATION_DATA_DIR=$(mktemp -d)
unset DATABASE_URL CELERY_BROKER_URL MEDIA_ROOT
.venv/bin/python manage.py migrate -v0
.venv/bin/celery -A curation worker --queues gpu,cpu --pool solo --loglevel WARNING &
worker=$!
trap 'kill $worker; wait $worker 2>/dev/null; rm -rf "$FACE_CURATION_DATA_DIR"' EXIT
.venv/bin/python manage.py import_title "$data/lfw" --name lfw --quiet | .venv/bin/python -c '
import json, sys
print("import: %(images)s images, %(clusters)s clusters, %(faces)s faces in %(seconds)s s"
      " = %(faces_per_second)s faces/s" % json.load(sys.stdin))'
.venv/bin/python manage.py score_title lfw --wait 2>/dev/null
