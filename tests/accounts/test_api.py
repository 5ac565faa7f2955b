from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from accounts import sms
from accounts.models import PhoneThrottle, SmsCode, User
from accounts.throttles import AuthCodeThrottle, AuthTokenThrottle
from tests.accounts.factories import StaffFactory, UserFactory
from tests.accounts.helpers import code_from_outbox

pytestmark = pytest.mark.django_db

CODE_URL = "/api/v1/auth/code/"
TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/auth/me/"
PHONE = "13800000001"


@pytest.fixture
def request_code(api_client, django_capture_on_commit_callbacks):
    def _request(phone: str = PHONE):
        with django_capture_on_commit_callbacks(execute=True):
            return api_client.post(CODE_URL, {"phone": phone}, format="json")

    return _request


def test_code_token_and_an_authenticated_request(api_client, request_code):
    response = request_code()
    assert response.status_code == 202
    assert "5" in response.json()["detail"]
    code = code_from_outbox(PHONE)

    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    user = User.objects.get(phone=PHONE)
    assert Token.objects.get(user=user).key == token

    response = api_client.get(ME_URL)
    assert response.status_code == 403
    assert response.json()["code"] == "not_authenticated"
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.get(ME_URL)
    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "phone": PHONE,
        "name": "",
        "role": "customer",
        "is_frozen": False,
        "frozen_reason": "",
    }


def test_same_answer_for_known_unknown_and_staff_phones(request_code):
    UserFactory(phone="13800000002")
    StaffFactory(phone="13700000002")
    answers = [request_code(phone) for phone in ("13800000002", "13800000003", "13700000002")]
    assert {r.status_code for r in answers} == {202}
    assert len({r.content for r in answers}) == 1
    assert sorted(m.phone for m in sms.outbox) == ["13800000002", "13800000003"]


@pytest.mark.parametrize("phone", ["12345", "2380000000", "138000000012", "phone", "+1 415 555 0100"])
def test_malformed_phone(api_client, phone):
    response = api_client.post(CODE_URL, {"phone": phone}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_phone"
    assert "mobile" in body["detail"] or "手机" in body["detail"]
    assert not SmsCode.objects.exists()
    assert not PhoneThrottle.objects.exists()


def test_missing_fields_are_a_validation_error(api_client):
    response = api_client.post(CODE_URL, {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "phone" in response.json()["detail"]

    response = api_client.post(TOKEN_URL, {"phone": PHONE}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["detail"]
    assert not User.objects.exists()


def test_code_too_frequent_answers_429_with_retry_after(api_client, request_code):
    assert request_code().status_code == 202
    response = request_code()
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "code_too_frequent"
    assert 0 < body["retry_after"] <= 60
    assert response["Retry-After"] == str(body["retry_after"])
    assert SmsCode.objects.count() == 1
    assert len(sms.outbox) == 1


def test_daily_limit_answers_429(request_code):
    with time_machine.travel(timezone.now().replace(hour=1), tick=False) as clock:
        for _ in range(10):
            assert request_code().status_code == 202
            clock.shift(timedelta(minutes=1, seconds=1))
        response = request_code()
    assert response.status_code == 429
    assert response.json()["code"] == "code_daily_limit"
    assert SmsCode.objects.count() == 10


def test_wrong_code_is_counted_and_creates_nobody(api_client, request_code):
    request_code()
    code = code_from_outbox(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": wrong}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"
    assert SmsCode.objects.get().attempts == 1
    assert not User.objects.exists()
    assert not Token.objects.exists()


def test_exhausted_code(api_client, request_code):
    request_code()
    code = code_from_outbox(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    codes = [
        api_client.post(TOKEN_URL, {"phone": PHONE, "code": wrong}, format="json").json()["code"] for _ in range(5)
    ]
    assert codes == ["code_invalid"] * 4 + ["code_exhausted"]

    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_exhausted"
    assert SmsCode.objects.get().attempts == 5
    assert not User.objects.exists()


def test_expired_code(api_client, request_code):
    request_code()
    code = code_from_outbox(PHONE)
    with time_machine.travel(timezone.now() + timedelta(minutes=5, seconds=1)):
        response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 400
    assert response.json() == {"code": "code_expired", "detail": response.json()["detail"]}
    assert response.json()["detail"]
    assert SmsCode.objects.get().used_at is None
    assert not User.objects.exists()


def test_used_code_cannot_be_replayed(api_client, request_code):
    request_code()
    code = code_from_outbox(PHONE)
    assert api_client.post(TOKEN_URL, {"phone": PHONE, "code": code}, format="json").status_code == 200
    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": code}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"


def test_malformed_code_and_phone_on_token(api_client, request_code):
    request_code()
    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": "12ab"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "code_invalid"
    response = api_client.post(TOKEN_URL, {"phone": "555", "code": "123456"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_phone"
    assert SmsCode.objects.get().attempts == 0


def test_inactive_account_gets_403(api_client, request_code):
    UserFactory(phone=PHONE, is_active=False)
    request_code()
    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": code_from_outbox(PHONE)}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "account_inactive"
    assert not Token.objects.exists()


def test_token_endpoint_is_throttled_per_ip(api_client, monkeypatch):
    monkeypatch.setattr(AuthTokenThrottle, "rate", "3/min", raising=False)
    statuses = [
        api_client.post(TOKEN_URL, {"phone": PHONE, "code": "123456"}, format="json").status_code for _ in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    response = api_client.post(TOKEN_URL, {"phone": PHONE, "code": "123456"}, format="json")
    assert response.json()["code"] == "throttled"
    assert response.json()["retry_after"] > 0


def test_code_endpoint_is_throttled_per_ip_across_phones(api_client, monkeypatch):
    monkeypatch.setattr(AuthCodeThrottle, "rate", "2/min", raising=False)
    statuses = [api_client.post(CODE_URL, {"phone": f"1380000000{i}"}, format="json").status_code for i in range(3)]
    assert statuses == [202, 202, 429]
    assert SmsCode.objects.count() == 2


def test_throttle_defaults_apply_without_settings():
    assert AuthCodeThrottle().rate == "30/hour"
    assert AuthTokenThrottle().rate == "60/hour"


def test_drf_create_token_command_takes_a_phone(customer, capsys):
    call_command("drf_create_token", "13800000001")
    token = Token.objects.get(user=customer)
    assert token.key in capsys.readouterr().out


def test_schema_documents_the_auth_endpoints(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/api/v1/auth/code/", "/api/v1/auth/token/", "/api/v1/auth/me/"} <= set(paths)
    assert "202" in paths["/api/v1/auth/code/"]["post"]["responses"]


# --- client IP: X-Forwarded-For is trusted only as far as TRUSTED_PROXY_COUNT --------------


def _token_attempt(api_client, **extra) -> int:
    return api_client.post(TOKEN_URL, {"phone": PHONE, "code": "123456"}, format="json", **extra).status_code


def test_a_forged_forwarded_for_header_does_not_dodge_the_per_ip_throttle(api_client, monkeypatch):
    monkeypatch.setattr(AuthTokenThrottle, "rate", "3/min", raising=False)
    statuses = [_token_attempt(api_client, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}") for i in range(5)]
    assert statuses == [400, 400, 400, 429, 429]


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_throttle_counts_per_forwarded_client(api_client, monkeypatch):
    monkeypatch.setattr(AuthTokenThrottle, "rate", "3/min", raising=False)
    # One client behind the proxy, whatever it writes in front of the proxy's entry.
    forged = [f"198.51.100.{i}, 203.0.113.1" for i in range(4)]
    assert [_token_attempt(api_client, HTTP_X_FORWARDED_FOR=xff) for xff in forged] == [400, 400, 400, 429]
    # Another client through the same proxy (same REMOTE_ADDR) has its own allowance.
    assert _token_attempt(api_client, HTTP_X_FORWARDED_FOR="203.0.113.2") == 400


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_code_rows_record_the_forwarded_client_ip(request_code, api_client):
    api_client.defaults["HTTP_X_FORWARDED_FOR"] = "198.51.100.9, 203.0.113.5"
    assert request_code().status_code == 202
    assert SmsCode.objects.get(phone=PHONE).ip == "203.0.113.5"


def test_without_a_proxy_code_rows_record_the_remote_address(request_code, api_client):
    api_client.defaults["HTTP_X_FORWARDED_FOR"] = "203.0.113.5"
    assert request_code().status_code == 202
    assert SmsCode.objects.get(phone=PHONE).ip == "127.0.0.1"


# --- API views are closed unless they say otherwise ------------------------------------------


def _api_view_classes(patterns=None):
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            yield from _api_view_classes(entry.url_patterns)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None)
            if cls is not None and issubclass(cls, APIView):
                yield cls


def test_the_default_permission_is_authenticated():
    class Undeclared(APIView):
        pass

    assert Undeclared().get_permissions()[0].__class__ is IsAuthenticated


def test_every_public_api_view_declares_allow_any_itself():
    public = set()
    for cls in _api_view_classes():
        declared = next((k for k in cls.__mro__ if "permission_classes" in vars(k)), APIView)
        if AllowAny in cls.permission_classes:
            assert declared is not APIView, f"{cls.__name__} is public by default"
            public.add(cls.__name__)
    # The public endpoints, each declared: login by code, the store list and the menus.
    assert {"AuthCodeApi", "AuthTokenApi", "StoreListApi", "StoreMenuApi"} <= public
    assert "AuthMeApi" not in public


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_stay_public(api_client, url):
    assert api_client.get(url).status_code == 200
