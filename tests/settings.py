"""Test settings: the app's own settings, pointed at the real PostgreSQL and Redis by default.

Override with DATABASE_URL / CELERY_BROKER_URL. Media and data live in a fresh temporary folder
per test run; worker processes started by the tests inherit these variables.
"""

import os
import tempfile

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/curation")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
if "FACE_CURATION_DATA_DIR" not in os.environ:  # workers started by the tests inherit it
    os.environ["FACE_CURATION_DATA_DIR"] = tempfile.mkdtemp(prefix="face-curation-tests-")

from curation.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# What the first start makes (manage.py and workers do it themselves): the static folder that
# WhiteNoise reads when the test server starts.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
