"""Every API error is JSON ``{"code", "detail"}``; exercised through small views wired here."""

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import path
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.api import DomainError

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


class PublicApi(APIView):
    """API views are closed by default (IsAuthenticated); these exercise errors, not access."""

    permission_classes = [AllowAny]


class NotRefundableNow(DomainError):
    code = "not_refundable"


class DomainErrorApi(PublicApi):
    def get(self, request):
        raise NotRefundableNow(_("This order cannot be refunded now."))

    def post(self, request):
        raise DomainError(_("Too many codes."), code="too_many_codes", status_code=429)


class _InputSerializer(serializers.Serializer):
    name = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)


class ValidationApi(PublicApi):
    def post(self, request):
        serializer = _InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)

    def put(self, request):
        raise DjangoValidationError({"phone": ["Not a mainland mobile number."]})

    def patch(self, request):
        raise exceptions.ValidationError("Bad input.")


class NotFoundApi(PublicApi):
    def get(self, request):
        raise Http404("no such order")


class PrivateSessionApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


class PrivateTokenApi(PrivateSessionApi):
    authentication_classes = [TokenAuthentication]


class ForbiddenApi(PublicApi):
    def get(self, request):
        raise DjangoPermissionDenied


class WaitApi(PublicApi):
    def get(self, request):
        raise exceptions.Throttled(wait=12.3)


class _TwoPerMinute(AnonRateThrottle):
    scope = "test-errors"
    rate = "2/min"


class ThrottledApi(PublicApi):
    throttle_classes = [_TwoPerMinute]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("domain/", DomainErrorApi.as_view()),
    path("validate/", ValidationApi.as_view()),
    path("missing/", NotFoundApi.as_view()),
    path("private/session/", PrivateSessionApi.as_view()),
    path("private/token/", PrivateTokenApi.as_view()),
    path("forbidden/", ForbiddenApi.as_view()),
    path("wait/", WaitApi.as_view()),
    path("throttled/", ThrottledApi.as_view()),
]

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def test_domain_error_answers_with_its_status_code_and_message(api_client):
    response = api_client.get("/domain/", **EN)
    assert response.status_code == 409
    assert response.json() == {"code": "not_refundable", "detail": "This order cannot be refunded now."}

    response = api_client.post("/domain/", **EN)
    assert response.status_code == 429
    assert response.json() == {"code": "too_many_codes", "detail": "Too many codes."}


def test_serializer_validation_error_is_400_invalid_with_field_messages(api_client):
    response = api_client.post("/validate/", {"quantity": 0}, format="json", **EN)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"] == {
        "name": ["This field is required."],
        "quantity": ["Ensure this value is greater than or equal to 1."],
    }


def test_django_and_non_field_validation_errors_keep_the_same_shape(api_client):
    response = api_client.put("/validate/", {}, format="json", **EN)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": {"phone": ["Not a mainland mobile number."]}}

    response = api_client.patch("/validate/", {}, format="json", **EN)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "detail": ["Bad input."]}


def test_malformed_json_is_400_parse_error(api_client):
    response = api_client.generic("POST", "/validate/", "{not json", content_type="application/json", **EN)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "JSON parse error" in response.json()["detail"]


def test_404_is_not_found(api_client):
    response = api_client.get("/missing/", **EN)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_not_authenticated_is_403_with_session_and_401_with_token_auth(api_client):
    response = api_client.get("/private/session/", **EN)
    assert response.status_code == 403
    assert response.json() == {"code": "not_authenticated",
                               "detail": "Authentication credentials were not provided."}

    response = api_client.get("/private/token/", **EN)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"

    response = api_client.get("/private/token/", HTTP_AUTHORIZATION="Token nope", **EN)
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}


def test_permission_denied_is_403(api_client):
    response = api_client.get("/forbidden/", **EN)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_method_not_allowed_is_405(api_client):
    response = api_client.delete("/missing/", **EN)
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "detail": 'Method "DELETE" not allowed.'}


def test_throttled_is_429_with_retry_after_rounded_up(api_client):
    response = api_client.get("/wait/", **EN)
    assert response.status_code == 429
    body = response.json()
    assert (body["code"], body["retry_after"]) == ("throttled", 13)
    assert response["Retry-After"] == "13"


def test_a_real_throttle_answers_429_with_retry_after(api_client):
    cache.clear()
    assert [api_client.get("/throttled/").status_code for _ in range(2)] == [200, 200]
    response = api_client.get("/throttled/", **EN)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "throttled"
    assert 1 <= body["retry_after"] <= 60
    assert response["Retry-After"] == str(body["retry_after"])
    cache.clear()


def test_errors_are_translated_for_chinese_clients(api_client):
    response = api_client.get("/missing/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response.json()["detail"] != "Not found."  # DRF ships zh_Hans messages
