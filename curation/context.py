from curation.roles import is_curation_admin


def roles(request) -> dict[str, bool]:
    return {"is_curation_admin": is_curation_admin(request.user)}
