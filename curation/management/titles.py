from django.core.management.base import CommandError

from curation.models import Title


def title_named(name: str) -> Title:
    """The title called ``name``, or the one-line error every command gives for an unknown one."""
    title = Title.objects.filter(name=name).first()
    if title is None:
        raise CommandError(f"no title named {name!r}")
    return title
