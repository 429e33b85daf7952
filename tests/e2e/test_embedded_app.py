"""The README's first command: the whole app on SQLite with its in-machine worker, no service."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile

import pytest

from tests.conftest import REPO, SMALL_CLUSTERS, face_data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(tmp_path) -> dict[str, str]:
    """The environment of a fresh machine: no database or broker URL, a new data folder."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "MEDIA_ROOT"}
    }
    return env | {
        "FACE_CURATION_DATA_DIR": str(tmp_path / "data"),
        "DJANGO_SETTINGS_MODULE": "curation.settings",
    }


@pytest.fixture
def embedded_app(tmp_path):
    """``manage.py runapp`` with no DATABASE_URL and no broker URL, in a fresh data folder."""
    env = embedded_env(tmp_path)
    port = free_port()
    log = tmp_path / "runapp.log"
    with open(log, "w") as out:
        app = subprocess.Popen(
            [sys.executable, "manage.py", "runapp", "--addrport", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 90
    while not ("ready." in log.read_text() and "Quit the server" in log.read_text()):
        if app.poll() is not None or time.monotonic() > deadline:
            app.kill()
            pytest.fail(f"runapp did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    text = log.read_text()
    password = re.search(r"^FIRST ADMIN  user: admin   password: (\S+)$", text, re.M).group(1)
    assert text.index("FIRST ADMIN") < text.index("[queues]")  # before the worker's banner
    yield f"http://127.0.0.1:{port}", password, tmp_path / "data"
    app.terminate()
    app.wait(timeout=30)


def test_runapp_serves_on_sqlite_and_its_worker_imports_an_upload(embedded_app, page, tmp_path):
    url, password, data_dir = embedded_app
    archive = tmp_path / "title.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(face_data("lfw", SMALL_CLUSTERS[1]).iterdir())[:3]:
            out.write(path, f"{SMALL_CLUSTERS[1]}/{path.name}")

    page.goto(f"{url}/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.keyboard.press("Enter")
    page.click("text=Import a zip")
    page.fill("input[name=name]", "embedded")
    page.set_input_files("input[name=upload]", str(archive))
    page.click("button:has-text('Upload and import')")
    page.wait_for_url("**/imports/*/")
    page.wait_for_selector("h2:has-text('Imported')", timeout=90_000)

    page.goto(f"{url}/titles/")
    assert page.locator("td >> text=embedded").count() == 1
    assert (data_dir / "db.sqlite3").exists()


def test_import_then_score_wait_completes_on_the_embedded_default(tmp_path):
    """The README's commands with no app running: score_title --wait brings its own worker."""
    source = tmp_path / "clusters" / SMALL_CLUSTERS[1]
    source.mkdir(parents=True)
    for path in sorted(face_data("lfw", SMALL_CLUSTERS[1]).iterdir())[:12]:
        (source / path.name).write_bytes(path.read_bytes())
    env = embedded_env(tmp_path)

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert manage("migrate", "-v0").returncode == 0
    imported = manage("import_title", str(tmp_path / "clusters"), "--name", "t", "--quiet")
    assert imported.returncode == 0, imported.stderr
    scored = manage("score_title", "t", "--wait")

    assert scored.returncode == 0, scored.stderr[-2000:]
    assert "starting one for this command" in scored.stderr
    assert "scored 't': features" in scored.stdout
    picks = json.loads(manage("selections", "t").stdout)
    assert set(picks[SMALL_CLUSTERS[1]]) == {"baseline", "fiqa", "filtering", "regression"}
