"""The two roles: ``admin`` (imports, scoring, campaigns, exports) and ``annotator`` (queues)."""

from functools import wraps

from django.core.exceptions import PermissionDenied

ADMIN_GROUP = "admin"
ANNOTATOR_GROUP = "annotator"


def is_curation_admin(user) -> bool:
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists())
    )


def admin_required(view):
    """403 for anyone but an admin; the login itself is required by the middleware."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not is_curation_admin(request.user):
            raise PermissionDenied("admins only")
        return view(request, *args, **kwargs)

    return wrapped
