"""Production settings, the schema behind a login, and throttled logins."""

import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.urls import reverse

from curation.accounts.users import user_create
from tests.conftest import REPO

pytestmark = pytest.mark.django_db


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    dropped = ("DEBUG", "PRODUCTION", "DJANGO_ALLOW_ASYNC_UNSAFE")  # set by the browser tests
    environ = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environ | {"DJANGO_SETTINGS_MODULE": "curation.settings"} | env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "PRODUCTION": "1",
    "SECRET_KEY": "k3y-" + "x7Gq2" * 12,
    "ALLOWED_HOSTS": "curation.example.org",
}


def test_check_deploy_passes_with_the_documented_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_debug_cannot_be_turned_on_in_production():
    result = manage("check", **PRODUCTION, DEBUG="1")
    assert result.returncode != 0
    assert "DEBUG cannot be on when PRODUCTION=1" in result.stderr
    without_key = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **without_key)
    assert "SECRET_KEY must be set when PRODUCTION=1" in result.stderr


def test_importing_the_settings_writes_nothing_and_the_first_start_makes_the_data_folder(
    tmp_path,
):
    data = tmp_path / "fresh"
    embedded = {"FACE_CURATION_DATA_DIR": str(data), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    environ = {k: v for k, v in os.environ.items() if k not in (*embedded, "SECRET_KEY")}
    show_key = (
        "import django; django.setup(); from django.conf import settings; "
        "from curation.first_start import data_dir_prepare; "
        "print(settings.SECRET_KEY); data_dir_prepare(); print(settings.SECRET_KEY)"
    )

    def run(code: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=REPO,
            env={k: v for k, v in (environ | embedded).items() if v}
            | {"DJANGO_SETTINGS_MODULE": "curation.settings"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    run("import django; django.setup()")
    assert not data.exists()
    before, first = run(show_key)
    assert before != first  # a key for that process only, until the first start kept one
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in data.iterdir()) == ["broker", "secret_key", "staticfiles"]
    assert run(show_key) == [first, first]  # kept: sessions outlive a restart


def test_the_api_schema_needs_a_login(client):
    assert client.get(reverse("api-schema")).status_code in (401, 403)
    user, _ = user_create(username="ann", role="annotator", password="pw-ann-1")
    client.force_login(user)
    assert client.get(reverse("api-schema")).status_code == 200


def test_failed_logins_are_throttled_per_user_name(client, settings):
    cache.clear()
    settings.LOGIN_FAILURES_ALLOWED = 3
    user_create(username="ann", role="annotator", password="pw-ann-1")
    user_create(username="bob", role="annotator", password="pw-bob-1")
    url = reverse("login")
    for _ in range(3):
        wrong = client.post(url, {"username": "ann", "password": "nope"})
        assert wrong.status_code == 200 and "Too many" not in wrong.content.decode()
    # Even the right password is refused now, with the reason; other users are not affected.
    refused = client.post(url, {"username": "ann", "password": "pw-ann-1"})
    assert refused.status_code == 200
    assert "Too many failed logins: try again in 15 minutes." in refused.content.decode()
    assert client.post(url, {"username": "bob", "password": "pw-bob-1"}).status_code == 302
    client.logout()
    admin_login = client.post(reverse("admin:login"), {"username": "ann", "password": "pw-ann-1"})
    assert "Too many failed logins" in admin_login.content.decode()
    cache.clear()
    assert client.post(url, {"username": "ann", "password": "pw-ann-1"}).status_code == 302
