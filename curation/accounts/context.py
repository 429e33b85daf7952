from functools import partial

from curation.accounts.roles import is_curation_admin


def roles(request) -> dict[str, object]:
    """``is_curation_admin`` for templates, asked of the database only where a page uses it."""
    return {"is_curation_admin": partial(is_curation_admin, request.user)}
