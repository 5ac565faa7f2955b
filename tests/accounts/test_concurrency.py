import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import services, sms
from accounts.models import PhoneThrottle, SmsCode, User
from tests.accounts.helpers import code_from_outbox
from tests.concurrency import run_together

PHONE = "13800000077"
THREADS = 10


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("known_phone", [False, True], ids=["first-code", "earlier-code"])
def test_simultaneous_requests_for_one_phone_create_exactly_one_code(known_phone):
    if known_phone:
        # The throttle row exists already, so only its row lock can serialize the requests.
        PhoneThrottle.objects.create(phone=PHONE)
        earlier = timezone.now() - timedelta(minutes=3)
        SmsCode.objects.create(phone=PHONE, code_hash="0" * 64, created_at=earlier, expires_at=earlier)
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def request_code():
        try:
            barrier.wait(timeout=10)
            try:
                services.sms_code_request(phone=PHONE)
                result = "sent"
            except services.SmsCodeThrottled as exc:
                result = exc.code
            except Exception as exc:  # recorded so that the assertion shows it
                result = f"error: {exc!r}"
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=request_code) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["code_too_frequent"] * (THREADS - 1) + ["sent"]
    assert SmsCode.objects.filter(phone=PHONE).count() == (2 if known_phone else 1)
    assert PhoneThrottle.objects.filter(phone=PHONE).count() == 1
    # on_commit ran in the winning thread: one SMS, eager Celery.
    assert [m.phone for m in sms.outbox] == [PHONE]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_logins_create_one_customer():
    services.sms_code_request(phone=PHONE)  # autocommit: the SMS is sent at once
    code = code_from_outbox(PHONE)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def login():
        try:
            barrier.wait(timeout=10)
            try:
                results.append(services.customer_login_with_code(phone=PHONE, code=code).pk)
            except services.SmsCodeInvalid as exc:
                results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=login) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # The code is used once: one login succeeds, the other is told the code is wrong.
    user = User.objects.get(phone=PHONE)
    assert sorted(map(str, results)) == sorted([str(user.pk), "code_invalid"])
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_first_token_logins_share_one_customer_and_one_token(monkeypatch):
    """Two first logins at once (each with a valid code) race on the user and the token rows."""
    monkeypatch.setattr(services, "sms_code_verify", lambda **kwargs: None)
    barrier = threading.Barrier(THREADS)
    keys: list[str] = []
    lock = threading.Lock()

    def obtain():
        try:
            barrier.wait(timeout=10)
            try:
                result = services.customer_token_obtain(phone=PHONE, code="123456").key
            except Exception as exc:  # recorded so that the assertion shows it
                result = f"error: {exc!r}"
            with lock:
                keys.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=obtain) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    user = User.objects.get(phone=PHONE)
    token = Token.objects.get(user=user)
    assert keys == [token.key] * THREADS
    assert User.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_code_verified_from_many_threads_at_once_is_used_once():
    """The right code's one-statement path: the UPDATE re-checks the row once it holds its lock."""
    services.sms_code_request(phone=PHONE, purpose="refund")
    code = code_from_outbox(PHONE)

    def verify():
        try:
            services.sms_code_verify(phone=PHONE, code=code, purpose="refund")
        except services.SmsCodeInvalid as exc:
            return exc.code
        return "accepted"

    results = run_together([verify] * THREADS)

    assert sorted(value for _kind, value in results) == ["accepted"] + ["code_invalid"] * (THREADS - 1)
    row = SmsCode.objects.get(phone=PHONE)
    assert row.used_at is not None
    assert row.attempts == 0  # a used code is refused without costing tries
