"""Creating users in one of the two roles."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from curation.accounts.roles import ADMIN_GROUP, ANNOTATOR_GROUP

ROLES = (ADMIN_GROUP, ANNOTATOR_GROUP)


class UserExists(Exception):
    pass


def user_create(*, username: str, role: str, password: str | None = None) -> tuple[object, str]:
    """Create a user in ``role``; returns the user and the password (generated when None)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise UserExists(f"a user named {username!r} already exists")
    password = password or secrets.token_urlsafe(12)
    is_admin = role == ADMIN_GROUP
    user = User.objects.create_user(
        username=username, password=password, is_staff=is_admin, is_superuser=is_admin
    )
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.add(group)
    return user, password
