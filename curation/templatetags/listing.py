from django import template

from curation.listing import Listing

register = template.Library()


@register.filter
def sort_link(listing: Listing, key: str) -> str:
    return listing.sort_link(key)
