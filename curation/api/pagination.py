"""The API's pages: keyset pages by id. A page's ``next`` (and ``previous``) link carries a cursor
naming the last row seen, so a page deep in a long list (a title's faces, every judgment) costs
what the first does, and rows added meanwhile are neither repeated nor skipped."""

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    page_size = 100
    ordering = "-pk"


class OldestFirst(CursorPagination):
    page_size = 100
    ordering = "pk"
