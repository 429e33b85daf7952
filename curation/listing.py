"""Search, sorting and pages for the app's lists, from the request's query string.

``?q=`` searches the list's text fields, ``?sort=`` names a column (``-`` before it: descending).
Pages are keyset pages: the pager's links carry ``?after=`` (or ``?before=``) a cursor naming the
row the page continues from, its sort value and id, so a page deep in a list costs what the first
one does, and rows added or removed meanwhile neither repeat nor drop out of the pages that
follow. ``?page=N`` still opens page N by its position (pages out of range show the last one).
Unknown sorts fall back to the default; a cursor that cannot be read shows the first page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest

PER_PAGE = 50


@dataclass(frozen=True)
class Page:
    """One page of rows in (key, id) order, with the cursors of the pages on either side."""

    rows: list
    number: int
    pages: int
    count: int
    per_page: int
    next: str  # the cursor of the next page, "" on the last
    previous: str  # the cursor of the previous page, "" on the first

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def start_index(self) -> int:
        """The position of the first row in the whole list, from 1."""
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def end_index(self) -> int:
        return self.start_index + len(self.rows) - 1 if self.rows else 0


@dataclass(frozen=True)
class Keyset:
    """An order of rows: by ``key`` (a field or an annotation holding no NULL), then by id.

    Rows after a cursor are found by ``key <= value AND (key < value OR id > pk)`` (directions
    as the order says): the first term lets an index on (key, id) start at the cursor."""

    key: str
    descending: bool = False
    pk_descending: bool = False

    def ordered(self, rows: QuerySet, *, reverse: bool = False) -> QuerySet:
        key = F(self.key).desc() if self.descending != reverse else F(self.key).asc()
        return rows.order_by(key, "-pk" if self.pk_descending != reverse else "pk")

    def beyond(self, value, pk: int, *, reverse: bool = False) -> Q:
        """The rows after (``value``, ``pk``) in this order, or before it when ``reverse``."""
        down = self.descending != reverse
        pk_down = self.pk_descending != reverse
        reach = Q(**{f"{self.key}__{'lte' if down else 'gte'}": value})
        past = Q(**{f"{self.key}__{'lt' if down else 'gt'}": value}) | Q(
            **{f"pk__{'lt' if pk_down else 'gt'}": pk}
        )
        return reach & past


def keyset_page(
    request: HttpRequest, rows: QuerySet, keyset: Keyset, *, count: int, per_page: int
) -> Page:
    """The page of ``rows`` (``count`` of them in all) that the request's ``after``, ``before``
    or ``page`` names; the first page without any."""
    pages = max(1, math.ceil(count / per_page))
    for direction in ("after", "before"):
        cursor = _cursor_read(request.GET.get(direction, ""))
        if cursor is None:
            continue
        number, value, pk = cursor
        reverse = direction == "before"
        try:
            found = keyset.ordered(rows, reverse=reverse).filter(
                keyset.beyond(value, pk, reverse=reverse)
            )
            taken = list(found[: per_page + 1])
        except (ValidationError, ValueError, TypeError):
            break  # a cursor made by hand: the first page
        more = len(taken) > per_page
        taken = taken[:per_page]
        if not taken:
            break
        if reverse:
            taken.reverse()
            number = max(number, 2) if more else 1
            return _page(keyset, taken, number, pages, count, per_page, more, has_next=True)
        return _page(keyset, taken, max(number, 2), pages, count, per_page, True, has_next=more)
    try:
        number = min(max(int(request.GET.get("page", 1)), 1), pages)
    except ValueError:
        number = 1
    start = (number - 1) * per_page
    taken = list(keyset.ordered(rows)[start : start + per_page])
    return _page(keyset, taken, number, pages, count, per_page, number > 1, number < pages)


def _page(
    keyset: Keyset,
    rows: list,
    number: int,
    pages: int,
    count: int,
    per_page: int,
    has_previous: bool,
    has_next: bool,
) -> Page:
    def cursor(row, page: int) -> str:
        value = getattr(row, keyset.key)
        if isinstance(value, datetime):
            value = value.isoformat()
        text = json.dumps([page, value, row.pk], separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    return Page(
        rows=rows,
        number=number,
        pages=max(pages, number),
        count=count,
        per_page=per_page,
        next=cursor(rows[-1], number + 1) if rows and has_next else "",
        previous=cursor(rows[0], number - 1) if rows and has_previous else "",
    )


def _cursor_read(text: str) -> tuple[int, object, int] | None:
    if not text:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match found:
        case [int(number), str() | int() | float() | bool() as value, int(pk)]:
            return number, value, pk
    return None


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

    @property
    def next_link(self) -> str:
        return self._link("after", self.page.next)

    @property
    def previous_link(self) -> str:
        return self._link("before", self.page.previous)

    def _link(self, direction: str, cursor: str) -> str:
        if not cursor:
            return ""
        return "&".join(filter(None, (self.params, urlencode({direction: cursor}))))


def listing(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    search: tuple[str, ...],
    columns: dict[str, str],
    default: str,
    per_page: int = PER_PAGE,
) -> Listing:
    """The page of ``queryset`` the request asks for. Sort columns hold no NULL; a column that
    is an annotation should be a correlated subquery (counted only for the rows shown) rather
    than an aggregate over a join, which counts every row of the list before paging."""
    query = request.GET.get("q", "").strip()[:200]
    if query:
        matches = Q()
        for field in search:
            matches |= Q(**{f"{field}__icontains": query})
        queryset = queryset.filter(matches)
    sort = request.GET.get("sort", default)
    if sort.lstrip("-") not in columns:
        sort = default
    descending = sort.startswith("-")
    keyset = Keyset(sort.lstrip("-"), descending=descending, pk_descending=descending)
    page = keyset_page(request, queryset, keyset, count=queryset.count(), per_page=per_page)
    params = urlencode({k: v for k, v in (("q", query), ("sort", sort)) if v})
    return Listing(page=page, query=query, sort=sort, columns=columns, params=params)
