from rest_framework.permissions import BasePermission

from curation.accounts.roles import is_curation_admin


class IsCurationAdmin(BasePermission):
    message = "admins only"

    def has_permission(self, request, view) -> bool:
        return is_curation_admin(request.user)
