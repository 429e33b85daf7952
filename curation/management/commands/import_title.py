"""``manage.py import_title SRC --name NAME``: import a video, or a folder (or .zip) of cluster
folders."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from curation.imports.service import ImportFailed, is_video_source, title_import
from curation.management.database import database_ready

EXIT_PARTIAL = 3


class Command(BaseCommand):
    help = (
        "Import SRC, a video file (mp4, mkv, mov, webm, …), a folder of cluster sub-folders of "
        "images or a .zip of the same, as a new title. Prints a JSON summary. Exit codes: "
        "0 imported, 1 failed (nothing stored), "
        f"{EXIT_PARTIAL} imported but some files were rejected (listed in the summary)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "src", type=Path, help="a video, a folder of cluster folders, or a .zip of one"
        )
        parser.add_argument("--name", required=True, help="name of the new title (unique)")
        parser.add_argument("--quiet", action="store_true", help="no progress on stderr")

    def handle(self, *args, src: Path, name: str, quiet: bool, **options):
        terminal = self.stderr.isatty()
        step = {"next": 0}
        unit = "sampled frames" if is_video_source(src) else "images"

        def progress(done: int, total: int, faces: int) -> None:
            """One line rewritten in place on a terminal; elsewhere (a log, a pipe) a line of
            its own every 5 % of the work, each ending with a newline."""
            if quiet:
                return
            if terminal:
                self.stderr.write(
                    f"\r{unit} {done}/{total}, {faces} faces", ending="\n" if done == total else ""
                )
            elif done >= step["next"] or done == total:
                self.stderr.write(f"{unit} {done}/{total}, {faces} faces")
                step["next"] = done + max(1, total // 20)

        database_ready()
        try:
            summary = title_import(source=src, name=name, progress=progress)
        except ImportFailed as error:
            raise CommandError(f"import failed: {error}") from None
        self.stdout.write(json.dumps(summary.as_dict(), indent=2))
        if summary.rejected:
            self.stdout.flush()
            sys.exit(EXIT_PARTIAL)
