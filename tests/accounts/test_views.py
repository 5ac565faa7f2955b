from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.shortcuts import resolve_url
from django.utils import timezone

from accounts import sms
from accounts.models import SmsCode, User
from tests.accounts.factories import StaffFactory
from tests.accounts.helpers import code_from_outbox

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
CODE_URL = "/accounts/login/code/"
PHONE = "13800000001"


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """POST with on-commit callbacks executed, as after a real request's commit."""

    def _post(url, data, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, data, **extra)

    return _post


def logged_in_user_id(client):
    return client.session.get(SESSION_KEY)


def test_login_page_renders_the_form(client):
    response = client.get(LOGIN_URL, headers={"accept-language": "en"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="phone"' in html
    assert 'name="code"' in html
    assert 'name="action" value="send"' in html
    assert 'hx-post="/accounts/login/code/"' in html
    assert 'href="/admin/login/"' in html  # staff are sent to the password login


def test_login_without_javascript(client, post):
    response = post(LOGIN_URL, {"phone": "138 0000 0001", "action": "send"})
    assert response.status_code == 200
    assert "138****0001" in response.content.decode()
    code = code_from_outbox(PHONE)

    response = post(LOGIN_URL, {"phone": PHONE, "code": code, "action": "login"})

    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    user = User.objects.get(phone=PHONE)
    assert logged_in_user_id(client) == str(user.pk)
    assert user.last_login is not None


def test_login_with_htmx_send(client, post):
    response = post(CODE_URL, {"phone": PHONE}, headers={"hx-request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "138****0001" in html
    assert "<html" not in html  # a fragment, not a page
    assert len(sms.outbox) == 1

    response = post(LOGIN_URL, {"phone": PHONE, "code": code_from_outbox(PHONE)})
    assert response.status_code == 302
    assert logged_in_user_id(client) is not None


def test_htmx_send_shows_errors_in_the_fragment(post):
    response = post(CODE_URL, {"phone": "12345"}, headers={"hx-request": "true"})
    assert response.status_code == 200
    assert 'class="errorlist"' in response.content.decode()
    assert not SmsCode.objects.exists()

    post(CODE_URL, {"phone": PHONE}, headers={"hx-request": "true"})
    response = post(CODE_URL, {"phone": PHONE}, headers={"hx-request": "true"})
    assert 'class="errorlist"' in response.content.decode()
    assert SmsCode.objects.count() == 1
    assert len(sms.outbox) == 1


def test_code_endpoint_is_post_only(client):
    assert client.get(CODE_URL).status_code == 405


def test_redirects_to_a_safe_next(client, post):
    post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    response = post(LOGIN_URL, {"phone": PHONE, "code": code_from_outbox(PHONE), "next": "/stores/SH001/"})
    assert response.status_code == 302
    assert response["Location"] == "/stores/SH001/"


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "javascript:alert(1)"])
def test_ignores_an_unsafe_next(client, post, next_url):
    post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    response = post(LOGIN_URL + "?next=" + next_url, {"phone": PHONE, "code": code_from_outbox(PHONE)})
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)


def test_next_is_kept_in_the_form(client):
    response = client.get(LOGIN_URL + "?next=/stores/SH001/")
    assert 'name="next" value="/stores/SH001/"' in response.content.decode()


def test_wrong_code_is_a_form_error_and_counts_a_try(client, post):
    post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    code = code_from_outbox(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = post(LOGIN_URL, {"phone": PHONE, "code": wrong}, headers={"accept-language": "en"})

    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert 'class="errorlist"' in response.content.decode()
    assert logged_in_user_id(client) is None
    assert SmsCode.objects.get().attempts == 1
    assert not User.objects.exists()


def test_expired_code_is_a_form_error(client, post):
    post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    code = code_from_outbox(PHONE)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = post(LOGIN_URL, {"phone": PHONE, "code": code})
    assert response.status_code == 200
    assert response.context["form"].errors["code"]
    assert logged_in_user_id(client) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"phone": "12345", "code": "123456"}, "phone"),
        ({"phone": PHONE, "code": "12a"}, "code"),
        ({"phone": PHONE, "code": ""}, "code"),
        ({"phone": "", "action": "send"}, "phone"),
        ({"phone": "2380000000", "action": "send"}, "phone"),
    ],
)
def test_bad_input_is_a_form_error_and_changes_nothing(client, post, data, field):
    response = post(LOGIN_URL, data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    assert not SmsCode.objects.exists()
    assert not User.objects.exists()
    assert sms.outbox == []


def test_too_frequent_send_is_a_form_error(client, post):
    post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    response = post(LOGIN_URL, {"phone": PHONE, "action": "send"})
    assert response.status_code == 200
    assert response.context["form"].errors["phone"]
    assert SmsCode.objects.count() == 1


def test_staff_phone_gets_the_same_page_but_no_code(client, post):
    StaffFactory(phone="13700000005")
    response = post(LOGIN_URL, {"phone": "13700000005", "action": "send"})
    assert response.status_code == 200
    assert "137****0005" in response.content.decode()
    assert sms.outbox == []


def test_logout_is_post_only(client, customer):
    client.force_login(customer)
    assert client.get("/accounts/logout/").status_code == 405
    assert logged_in_user_id(client) == str(customer.pk)

    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGOUT_REDIRECT_URL)
    assert logged_in_user_id(client) is None


def test_page_shares_the_per_ip_limits_with_the_api(client, post, monkeypatch):
    from accounts.throttles import AuthCodeThrottle, AuthTokenThrottle

    monkeypatch.setattr(AuthCodeThrottle, "rate", "2/min", raising=False)
    monkeypatch.setattr(AuthTokenThrottle, "rate", "1/min", raising=False)
    assert post(LOGIN_URL, {"phone": "13800000001", "action": "send"}).context["form"].is_valid()
    assert client.post("/api/v1/auth/code/", {"phone": "13800000002"}).status_code == 202
    response = post(CODE_URL, {"phone": "13800000003"}, headers={"hx-request": "true"})
    assert "try again in" in response.content.decode().lower() or "秒" in response.content.decode()
    assert SmsCode.objects.count() == 2

    code = code_from_outbox("13800000001")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert post(LOGIN_URL, {"phone": "13800000001", "code": wrong}).context["form"].errors["code"]
    response = post(LOGIN_URL, {"phone": "13800000001", "code": code})
    assert response.status_code == 200  # refused before the code is even checked
    assert response.context["form"].errors["code"]
    assert logged_in_user_id(client) is None
    assert SmsCode.objects.get(phone="13800000001").used_at is None
