"""Search, sorting and pages for the app's lists, from the request's query string.

``?q=`` searches the list's text fields, ``?sort=`` names a column (``-`` before it: descending),
``?page=`` is the page number. Unknown sorts fall back to the default; pages out of range show the
last page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

PER_PAGE = 50


@dataclass(frozen=True)
class Listing:
    page: Page
    query: str
    sort: str
    columns: dict[str, str]  # sort key -> column label
    params: str  # the query string without the page, for the pager's links

    def sort_link(self, key: str) -> str:
        """The query string that sorts by ``key``, flipping the direction when already sorted."""
        order = f"-{key}" if self.sort == key else key
        return urlencode({k: v for k, v in (("q", self.query), ("sort", order)) if v})


def listing(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    search: tuple[str, ...],
    columns: dict[str, str],
    default: str,
    per_page: int = PER_PAGE,
) -> Listing:
    query = request.GET.get("q", "").strip()[:200]
    if query:
        matches = Q()
        for field in search:
            matches |= Q(**{f"{field}__icontains": query})
        queryset = queryset.filter(matches)
    sort = request.GET.get("sort", default)
    if sort.lstrip("-") not in columns:
        sort = default
    queryset = queryset.order_by(sort, "-pk" if sort.startswith("-") else "pk")
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    params = urlencode({k: v for k, v in (("q", query), ("sort", sort)) if v})
    return Listing(page=page, query=query, sort=sort, columns=columns, params=params)
