"""Answers about who may do what that are pages of their own."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form sent without its CSRF cookie (cookies cleared, a page open for days). An htmx
    request reloads the page, which sets a new cookie or leads to the login; a plain form gets
    a page saying to go back and send it again."""
    if request.headers.get("HX-Request") == "true":
        response = HttpResponse(status=403)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "403_csrf.html", status=403)
