"""``manage.py runapp``: the whole app on one machine — database set up, a worker beside the
web server, and a first admin account — at http://127.0.0.1:8000 by default."""

import signal
import subprocess
import sys

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from curation.accounts.users import user_create
from curation.workers import worker_argv

FIRST_ADMIN = "admin"


class Command(BaseCommand):
    help = "Migrate, create the first admin if there is none, start a worker and serve the app."

    def add_arguments(self, parser):
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-worker", action="store_true", help="do not start the in-machine worker"
        )

    def handle(self, *args, addrport, no_worker, **options):
        call_command("migrate", interactive=False, verbosity=0)
        self._announce_login(addrport)
        worker = None
        if not no_worker:
            worker = subprocess.Popen(worker_argv(hostname="embedded@%h"))
        # A plain `kill` must stop the worker too, not leave it running on its own.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)

    def _announce_login(self, addrport: str) -> None:
        """Create the first admin on a fresh database and say how to log in."""
        password_file = settings.DATA_DIR / "first_admin_password"
        User = get_user_model()
        if not User.objects.exists():
            _, password = user_create(username=FIRST_ADMIN, role="admin")
            password_file.write_text(password)
            password_file.chmod(0o600)
        user = User.objects.filter(username=FIRST_ADMIN).first()
        self.stdout.write(f"Face Curation at http://{addrport}/")
        if user and password_file.exists() and user.check_password(password_file.read_text()):
            rule = "=" * 72
            self.stdout.write(
                f"{rule}\n"
                f"FIRST ADMIN  user: {FIRST_ADMIN}   password: {password_file.read_text()}\n"
                f"(kept in {password_file}; change it in the admin)\n"
                f"{rule}"
            )
        else:
            self.stdout.write(
                "Log in with your account; create one with "
                "'python manage.py adduser NAME --role admin'."
            )
        self.stdout.flush()  # before the worker's banner
