from urllib.parse import urlsplit

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme


class LoginRequiredExceptApi(LoginRequiredMiddleware):
    """Login everywhere, except the REST API, which authenticates tokens itself and answers
    401/403 instead of redirecting to a login page.

    An htmx request from a page whose session has ended (logged out in another tab, expired)
    is told to load the login page in the whole window (``HX-Redirect``), with the page the
    person was on as the place to return to: not the login form swapped into a fragment, and
    not a return to the URL htmx posted to."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)

    def handle_no_permission(self, request, view_func):
        if request.headers.get("HX-Request") != "true":
            return super().handle_no_permission(request, view_func)
        page = request.headers.get("HX-Current-URL", "")
        allowed = url_has_allowed_host_and_scheme(
            page, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        parts = urlsplit(page)
        back = (parts.path + (f"?{parts.query}" if parts.query else "")) if allowed else "/"
        login = redirect_to_login(back, self.get_login_url(view_func))["Location"]
        response = HttpResponse(status=200)
        response["HX-Redirect"] = login
        return response
