from django.contrib.auth.middleware import LoginRequiredMiddleware


class LoginRequiredExceptApi(LoginRequiredMiddleware):
    """Login everywhere, except the REST API, which authenticates tokens itself and answers
    401/403 instead of redirecting to a login page."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
