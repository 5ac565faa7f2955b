"""API conventions shared by every app: errors are JSON ``{"code": ..., "detail": ...}``."""

import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback


class DomainError(Exception):
    """A business rule refused an action. Services raise subclasses with a translated message.

    ``code`` is the stable machine-readable name; ``status_code`` the HTTP status the API
    answers with (409 for "not now, given the state", 400 for bad input, 429 for limits).
    """

    code = "domain_error"
    status_code = 409

    def __init__(self, message, *, code: str | None = None, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code


class ErrorSerializer(serializers.Serializer):
    """The error body every API view documents (OpenAPI component "Error")."""

    code = serializers.CharField()
    detail = serializers.JSONField()
    retry_after = serializers.IntegerField(required=False, help_text="Seconds to wait (429 only).")

    class Meta:
        ref_name = "Error"


def _first_code(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_code(value)
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    return getattr(detail, "code", None) or "invalid"


def exception_handler(exc, context):
    """DRF's handler, with every error rendered as ``{"code": ..., "detail": ...}``.

    ``detail`` is a string, except for validation errors where it keeps DRF's shape
    (``{field: [messages]}`` or ``[messages]``). A 429 also carries ``retry_after`` (seconds,
    rounded up) next to DRF's ``Retry-After`` header.
    """
    if isinstance(exc, DomainError):
        set_rollback()
        response = Response({"code": exc.code, "detail": str(exc.message)}, status=exc.status_code)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response.data["retry_after"] = max(1, math.ceil(retry_after))
            response["Retry-After"] = str(response.data["retry_after"])
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=getattr(exc, "message_dict", None) or exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code = _first_code(exc.detail) if not isinstance(exc.detail, dict) else "invalid"
        response.data = {"code": code, "detail": exc.detail}
    else:
        detail = getattr(exc, "detail", response.data)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", None) or "error"
        if isinstance(detail, dict | list):
            code = _first_code(detail) if code == "error" else code
            response.data = {"code": code, "detail": detail}
        else:
            response.data = {"code": code, "detail": str(detail)}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response.data["retry_after"] = max(1, math.ceil(wait))
            response["Retry-After"] = str(response.data["retry_after"])
    return response
