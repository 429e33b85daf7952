#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
    import django
    from django.core.management import execute_from_command_line

    django.setup()
    from curation.first_start import data_dir_prepare

    data_dir_prepare()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
