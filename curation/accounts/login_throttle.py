"""Failed logins counted in the cache, per user name and per address; over the limit, the login
forms (the app's and the admin's) refuse to try until the window has passed."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.dispatch import receiver

# One address may fail this many times more than one user name: many people can share one
# address behind a proxy or a NAT.
ADDRESS_FACTOR = 10


def _keys(request, username: str) -> tuple[tuple[str, int], ...]:
    allowed = settings.LOGIN_FAILURES_ALLOWED
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return (
        (f"login-failures:user:{username.strip().lower()}", allowed),
        (f"login-failures:address:{address}", allowed * ADDRESS_FACTOR),
    )


def login_blocked(request, username: str) -> bool:
    return any((cache.get(key) or 0) >= allowed for key, allowed in _keys(request, username))


@receiver(user_login_failed)
def count_failure(sender, credentials, request=None, **kwargs) -> None:
    for key, _ in _keys(request, credentials.get("username", "")):
        cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW_SECONDS)


@receiver(user_logged_in)
def forget_failures(sender, request, user, **kwargs) -> None:
    cache.delete(_keys(request, user.get_username())[0][0])


class _Throttled:
    def clean(self):
        username = self.data.get("username", "")
        if username and login_blocked(self.request, username):
            minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
            raise forms.ValidationError(
                f"Too many failed logins: try again in {minutes} minutes.", code="throttled"
            )
        return super().clean()


class ThrottledLoginForm(_Throttled, AuthenticationForm):
    error_messages = AuthenticationForm.error_messages | {
        "invalid_login": "Your username and password didn't match. Please try again."
    }


class ThrottledAdminLoginForm(_Throttled, AdminAuthenticationForm):
    pass
