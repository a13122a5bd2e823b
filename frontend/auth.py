"""The operator's sign-in, on Django's own auth machinery without a user table.

There is one account: OPERATOR_USERNAME with the password OPERATOR_PASSWORD (a Docker secret).
Django's LoginView, login_required and session handling do the work; this backend only checks the
password (in constant time) and hands back an unsaved User that stands for the operator. The
session lives in a signed cookie, so no database is involved anywhere.

A signed-in operator's writes carry the API token (api_token_for); an anonymous visitor's never do.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils.crypto import constant_time_compare

OPERATOR_ID = 1


def operator() -> User:
    """The operator as Django's auth sees it. Its `password` field is never a login credential:
    it feeds the session's auth hash, so a changed OPERATOR_PASSWORD signs every session out."""
    fingerprint = hashlib.sha256(settings.OPERATOR_PASSWORD.encode()).hexdigest()
    return User(id=OPERATOR_ID, username=settings.OPERATOR_USERNAME, password=fingerprint, is_active=True)


class OperatorBackend(BaseBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> User | None:
        if username is None or password is None or not settings.OPERATOR_PASSWORD:
            return None
        # Both comparisons always run: the answer takes as long for a wrong name as for a wrong password.
        name_ok = constant_time_compare(username, settings.OPERATOR_USERNAME)
        password_ok = constant_time_compare(password, settings.OPERATOR_PASSWORD)
        return operator() if name_ok and password_ok else None

    def get_user(self, user_id: Any) -> User | None:
        return operator() if str(user_id) == str(OPERATOR_ID) else None


def api_token_for(request: HttpRequest) -> str:
    """The API token, for a signed-in operator's request only."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    return str(settings.API_WRITE_TOKEN)
