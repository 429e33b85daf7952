"""``manage.py adduser NAME --role admin|annotator``: create a user and print its password."""

from django.core.management.base import BaseCommand, CommandError

from curation.accounts.users import ROLES, UserExists, user_create
from curation.management.database import database_ready


class Command(BaseCommand):
    help = "Create a user in a role (admin or annotator). Prints the password when generated."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=ROLES, required=True)
        parser.add_argument("--password", help="default: a generated one, printed once")

    def handle(self, *args, username, role, password, **options):
        database_ready()
        try:
            _, used = user_create(username=username, role=role, password=password)
        except UserExists as error:
            raise CommandError(str(error)) from None
        shown = "(as given)" if password else used
        self.stdout.write(f"created {role} {username!r} with password {shown}")
