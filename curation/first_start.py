"""What the app makes when it first starts, so that importing the settings writes nothing.

``data_dir_prepare`` runs when ``manage.py`` (``runapp`` included) or a worker starts, before
anything else: it makes the data folder, the static and embedded broker folders, and, for the
embedded default only (no ``SECRET_KEY`` in the environment), the secret key kept in the data
folder. Calling it again changes nothing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings


def data_dir_prepare() -> None:
    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    if os.environ.get("SECRET_KEY"):
        return
    path = Path(settings.SECRET_KEY_FILE)
    try:  # created readable by the owner only, in one step, so no other user ever reads it
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_urlsafe(50))
    except FileExistsError:
        pass  # made by an earlier start
    settings.SECRET_KEY = path.read_text().strip()
