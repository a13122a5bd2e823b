"""Writes need credentials: POST/PUT/PATCH/DELETE carry the service's API token as a bearer token.

The token is a Docker secret (API_WRITE_TOKEN_FILE) in the stack and a generated value in local
mode (ops.credentials); a service without one does not start. Reads stay open.
"""

import hmac
from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:  # DRF imports this module while rest_framework.views is still loading
    from rest_framework.request import Request
    from rest_framework.views import APIView


class WriteTokenRequired(BasePermission):
    def has_permission(self, request: "Request", view: "APIView") -> bool:
        if request.method in SAFE_METHODS:
            return True
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            supplied.strip().encode(), settings.API_WRITE_TOKEN.encode()
        ):
            return True
        raise NotAuthenticated("Writes need the API token: send the header 'Authorization: Bearer <token>'.")
