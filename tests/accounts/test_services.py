import re
from datetime import datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import services, sms
from accounts.models import PhoneThrottle, Role, SmsCode, SmsPurpose, User
from audit.models import AuditEvent
from tests.accounts.factories import StaffFactory, UserFactory
from tests.accounts.helpers import code_from_outbox

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
PHONE = "13800000001"


# --- requesting a code ---------------------------------------------------------------------


def test_code_request_stores_only_a_keyed_hash_and_sends_six_digits(send_code):
    code = send_code(PHONE, ip="10.1.2.3")

    assert re.fullmatch(r"\d{6}", code)
    row = SmsCode.objects.get(phone=PHONE)
    assert row.purpose == SmsPurpose.LOGIN
    assert code not in row.code_hash
    assert len(row.code_hash) == 64
    assert row.code_hash == services.sms_code_hash(phone=PHONE, purpose=SmsPurpose.LOGIN, code=code)
    # The hash is bound to the phone and the purpose.
    assert row.code_hash != services.sms_code_hash(phone="13800000002", purpose=SmsPurpose.LOGIN, code=code)
    assert row.code_hash != services.sms_code_hash(phone=PHONE, purpose=SmsPurpose.REFUND, code=code)
    assert row.expires_at - row.created_at == settings.SMS_CODE_TTL == timedelta(minutes=5)
    assert row.attempts == 0
    assert row.used_at is None
    assert row.ip == "10.1.2.3"
    assert sms.outbox[0].phone == PHONE
    assert "5" in sms.outbox[0].text


def test_sms_is_sent_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.sms_code_request(phone=PHONE)
    assert len(callbacks) == 1
    assert sms.outbox == []  # nothing sent while the transaction is open

    callbacks[0]()
    assert [m.phone for m in sms.outbox] == [PHONE]


def test_codes_differ_between_requests(send_code):
    first = send_code(PHONE)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        second = send_code(PHONE)
    hashes = set(SmsCode.objects.values_list("code_hash", flat=True))
    assert len(hashes) == 2
    assert re.fullmatch(r"\d{6}", first)
    assert re.fullmatch(r"\d{6}", second)


def test_phone_is_normalized(send_code):
    send_code("+86 138-0000-0001")
    assert SmsCode.objects.get().phone == PHONE
    assert sms.outbox[0].phone == PHONE


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize("bad", ["", "12345", "23800000001", "1380000000", "138000000012", "1280000000a", "abc"])
def test_malformed_phone_is_refused_and_nothing_changes(bad, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(services.InvalidPhone) as excinfo,
    ):
        services.sms_code_request(phone=bad)
    assert excinfo.value.code == "invalid_phone"
    assert excinfo.value.status_code == 400
    assert "mobile number" in str(excinfo.value.message)
    assert callbacks == []
    assert not SmsCode.objects.exists()
    assert not PhoneThrottle.objects.exists()
    assert sms.outbox == []


def test_unknown_purpose_is_refused():
    with pytest.raises(services.InvalidPurpose) as excinfo:
        services.sms_code_request(phone=PHONE, purpose="payroll")
    assert excinfo.value.status_code == 400
    assert not SmsCode.objects.exists()


def test_known_and_unknown_phones_get_the_same_answer(send_code):
    UserFactory(phone="13800000002")

    assert services.sms_code_request(phone="13800000002") is None
    assert services.sms_code_request(phone="13800000003") is None
    assert SmsCode.objects.filter(phone="13800000002").count() == 1
    assert SmsCode.objects.filter(phone="13800000003").count() == 1
    # Requesting a code never creates an account.
    assert not User.objects.filter(phone="13800000003").exists()


def test_staff_phone_gets_no_code_but_the_same_answer_and_limits(django_capture_on_commit_callbacks):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert services.sms_code_request(phone=staff.phone) is None
    assert callbacks == []
    assert sms.outbox == []
    # The decoy is stored like any other code (unused, counting tries), its digits sent nowhere.
    decoy = SmsCode.objects.get(phone=staff.phone)
    assert decoy.used_at is None
    assert decoy.attempts == 0
    guess = _not_the_code(decoy)
    with pytest.raises(services.SmsCodeInvalid):
        services.customer_login_with_code(phone=staff.phone, code=guess)
    assert SmsCode.objects.get(phone=staff.phone).attempts == 1
    # The per-minute limit answers exactly as for any other phone.
    with pytest.raises(services.SmsCodeThrottled) as excinfo:
        services.sms_code_request(phone=staff.phone)
    assert excinfo.value.code == "code_too_frequent"


def _codes_will_be(monkeypatch, *codes: str) -> None:
    """The next codes issued, in order (each is 6 calls of secrets.choice)."""
    digits = iter("".join(codes))
    monkeypatch.setattr(services, "secrets", SimpleNamespace(choice=lambda _alphabet: next(digits)))


def _not_the_code(row: SmsCode) -> str:
    """A 6-digit code that does not match ``row`` (whose digits the test may never have seen)."""
    for n in range(1_000_000):
        candidate = f"{n:06d}"
        if services.sms_code_hash(phone=row.phone, purpose=row.purpose, code=candidate) != row.code_hash:
            return candidate
    raise AssertionError("unreachable")


def _error_codes_for_wrong_codes(phone: str, tries: int) -> list[str]:
    row = SmsCode.objects.filter(phone=phone).latest("created_at", "id")
    wrong = _not_the_code(row)
    codes = []
    for _ in range(tries):
        with pytest.raises(services.DomainError) as excinfo:
            services.customer_login_with_code(phone=phone, code=wrong)
        codes.append(excinfo.value.code)
    return codes


def test_wrong_codes_answer_the_same_for_staff_and_customer_phones(django_capture_on_commit_callbacks):
    """Six wrong codes: a staff phone cannot be told from a customer's by the answers."""
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    customer = UserFactory(phone="13800000009")
    with django_capture_on_commit_callbacks(execute=True):
        services.sms_code_request(phone=staff.phone)
        services.sms_code_request(phone=customer.phone)
    assert [m.phone for m in sms.outbox] == [customer.phone]  # staff never get an SMS

    staff_answers = _error_codes_for_wrong_codes(staff.phone, 6)
    customer_answers = _error_codes_for_wrong_codes(customer.phone, 6)

    assert staff_answers == customer_answers == ["code_invalid"] * 4 + ["code_exhausted"] * 2
    assert SmsCode.objects.get(phone=staff.phone).attempts == SmsCode.objects.get(phone=customer.phone).attempts == 5


def test_a_staff_phone_never_logs_in_by_code_even_with_the_decoy_digits(
    django_capture_on_commit_callbacks, monkeypatch
):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    _codes_will_be(monkeypatch, "777777")  # the decoy's digits, which nobody receives
    with django_capture_on_commit_callbacks(execute=True):
        services.sms_code_request(phone=staff.phone)
    assert sms.outbox == []
    with pytest.raises(services.StaffPasswordRequired):
        services.customer_login_with_code(phone=staff.phone, code="777777")
    assert not Token.objects.exists()


def test_staff_can_still_receive_refund_confirmation_codes(send_code):
    staff = StaffFactory(phone="13700000009")
    code = send_code(staff.phone, purpose=SmsPurpose.REFUND)
    services.sms_code_verify(phone=staff.phone, code=code, purpose=SmsPurpose.REFUND)
    assert SmsCode.objects.get(phone=staff.phone).used_at is not None


def test_one_code_per_minute(send_code):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        send_code(PHONE)

        clock.shift(timedelta(seconds=20))
        with pytest.raises(services.SmsCodeThrottled) as excinfo:
            services.sms_code_request(phone=PHONE)
        assert excinfo.value.code == "code_too_frequent"
        assert excinfo.value.status_code == 429
        assert excinfo.value.retry_after == 40
        assert "40" in str(excinfo.value.message)
        assert SmsCode.objects.count() == 1

        clock.shift(timedelta(seconds=40))
        send_code(PHONE)
    assert SmsCode.objects.count() == 2
    assert len(sms.outbox) == 2


def test_minute_limit_is_per_phone_and_purpose(send_code):
    send_code(PHONE)
    send_code("13800000002")
    send_code(PHONE, purpose=SmsPurpose.REFUND)
    assert SmsCode.objects.count() == 3


def test_ten_codes_per_local_day(send_code):
    # 14:00 in Shanghai is 06:00 UTC: the local day ends 10 hours later, the UTC day 18 hours later.
    with time_machine.travel(datetime(2026, 3, 2, 14, 0, tzinfo=SHANGHAI), tick=False) as clock:
        for _ in range(settings.SMS_CODE_DAILY_LIMIT):
            send_code(PHONE)
            clock.shift(timedelta(minutes=2))
        assert SmsCode.objects.count() == 10

        with pytest.raises(services.SmsCodeThrottled) as excinfo:
            services.sms_code_request(phone=PHONE)
        assert excinfo.value.code == "code_daily_limit"
        assert excinfo.value.status_code == 429

        clock.move_to(datetime(2026, 3, 2, 23, 59, 30, tzinfo=SHANGHAI))
        with pytest.raises(services.SmsCodeThrottled) as excinfo:
            services.sms_code_request(phone=PHONE)
        assert excinfo.value.code == "code_daily_limit"
        assert excinfo.value.retry_after == 30

        # Past midnight in Shanghai (still the same UTC day): a new day.
        clock.move_to(datetime(2026, 3, 3, 0, 0, 5, tzinfo=SHANGHAI))
        send_code(PHONE)
    assert SmsCode.objects.count() == 11
    assert len(sms.outbox) == 11


# --- verifying a code ----------------------------------------------------------------------


def test_correct_code_is_accepted_once(send_code):
    code = send_code(PHONE)

    services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.LOGIN)
    row = SmsCode.objects.get()
    assert row.used_at is not None
    assert row.attempts == 0

    with pytest.raises(services.SmsCodeInvalid) as excinfo:
        services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.LOGIN)
    assert excinfo.value.code == "code_invalid"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_wrong_codes_are_counted_and_the_fifth_kills_the_code(send_code):
    code = send_code(PHONE)
    wrong = _wrong(code)

    for attempt in range(1, 5):
        with pytest.raises(services.SmsCodeInvalid) as excinfo:
            services.sms_code_verify(phone=PHONE, code=wrong, purpose=SmsPurpose.LOGIN)
        assert excinfo.value.status_code == 400
        assert SmsCode.objects.get().attempts == attempt

    with pytest.raises(services.SmsCodeExhausted) as excinfo:
        services.sms_code_verify(phone=PHONE, code=wrong, purpose=SmsPurpose.LOGIN)
    assert excinfo.value.code == "code_exhausted"
    assert SmsCode.objects.get().attempts == 5

    # Even the right code is refused now, and no further try is counted.
    with pytest.raises(services.SmsCodeExhausted):
        services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.LOGIN)
    row = SmsCode.objects.get()
    assert row.attempts == 5
    assert row.used_at is None


def test_wrong_try_is_counted_even_inside_the_callers_failed_request(send_code):
    """The increment is committed in its own block although the verify raises."""
    code = send_code(PHONE)
    with pytest.raises(services.SmsCodeInvalid):
        services.customer_login_with_code(phone=PHONE, code=_wrong(code))
    assert SmsCode.objects.get().attempts == 1
    assert not User.objects.filter(phone=PHONE).exists()


def test_expired_code_is_refused(send_code):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        code = send_code(PHONE)
        clock.shift(timedelta(minutes=4, seconds=59))
        services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.LOGIN)

        clock.shift(timedelta(minutes=1))
        code = send_code(PHONE)
        clock.shift(timedelta(minutes=5))
        with pytest.raises(services.SmsCodeExpired) as excinfo:
            services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.LOGIN)
    assert excinfo.value.code == "code_expired"
    assert excinfo.value.status_code == 400
    latest = SmsCode.objects.latest("created_at")
    assert latest.used_at is None
    assert latest.attempts == 0


@pytest.mark.usefixtures("english")
def test_no_code_and_malformed_code_are_invalid_and_count_nothing(send_code):
    with pytest.raises(services.SmsCodeInvalid):
        services.sms_code_verify(phone=PHONE, code="123456", purpose=SmsPurpose.LOGIN)

    send_code(PHONE)
    for malformed in ["", "12345", "1234567", "12a456"]:
        with pytest.raises(services.SmsCodeInvalid) as excinfo:
            services.sms_code_verify(phone=PHONE, code=malformed, purpose=SmsPurpose.LOGIN)
        assert "6-digit" in str(excinfo.value.message)
    assert SmsCode.objects.get().attempts == 0


def test_only_the_latest_code_counts(send_code):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        old = send_code(PHONE)
        clock.shift(timedelta(minutes=1))
        new = send_code(PHONE)
        if old != new:
            with pytest.raises(services.SmsCodeInvalid):
                services.sms_code_verify(phone=PHONE, code=old, purpose=SmsPurpose.LOGIN)
        services.sms_code_verify(phone=PHONE, code=new, purpose=SmsPurpose.LOGIN)
    assert SmsCode.objects.filter(used_at__isnull=False).count() == 1


def test_an_older_code_is_dead_once_a_newer_one_is_issued(send_code, monkeypatch):
    _codes_will_be(monkeypatch, "111111", "222222")
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        old = send_code(PHONE)
        clock.shift(timedelta(minutes=1))
        new = send_code(PHONE)
        assert (old, new) == ("111111", "222222")
        with pytest.raises(services.SmsCodeInvalid):
            services.customer_login_with_code(phone=PHONE, code=old)
    # The wrong try counts against the newest code; the old row is untouched and unused.
    older, newer = SmsCode.objects.order_by("created_at")
    assert (older.attempts, older.used_at) == (0, None)
    assert (newer.attempts, newer.used_at) == (1, None)
    assert not User.objects.filter(phone=PHONE).exists()


def test_an_older_code_does_not_revive_after_the_newest_is_used(send_code, monkeypatch):
    _codes_will_be(monkeypatch, "111111", "222222")
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        old = send_code(PHONE)
        clock.shift(timedelta(minutes=1))
        new = send_code(PHONE)
        assert (old, new) == ("111111", "222222")
        services.customer_login_with_code(phone=PHONE, code=new)

        with pytest.raises(services.SmsCodeInvalid) as excinfo:
            services.customer_login_with_code(phone=PHONE, code=old)
    assert excinfo.value.code == "code_invalid"
    older = SmsCode.objects.order_by("created_at").first()
    assert older.used_at is None


def test_login_code_is_not_a_refund_code(send_code):
    code = send_code(PHONE)
    with pytest.raises(services.SmsCodeInvalid):
        services.sms_code_verify(phone=PHONE, code=code, purpose=SmsPurpose.REFUND)
    assert SmsCode.objects.get().used_at is None


# --- customer login ------------------------------------------------------------------------


def test_first_login_creates_a_customer(send_code):
    code = send_code(PHONE)
    user = services.customer_login_with_code(phone=PHONE, code=code)

    assert user.phone == PHONE
    assert user.role == Role.CUSTOMER
    assert not user.is_staff
    assert not user.has_usable_password()
    assert User.objects.count() == 1


def test_login_reuses_the_existing_account_and_allows_frozen_customers(send_code):
    existing = UserFactory(phone=PHONE, name="老顾客")
    services.user_freeze(user=existing, reason="refund abuse")
    code = send_code(PHONE)

    user = services.customer_login_with_code(phone=PHONE, code=code)

    assert user.pk == existing.pk
    assert user.is_frozen
    assert User.objects.count() == 1


def test_inactive_account_cannot_log_in(send_code):
    UserFactory(phone=PHONE, is_active=False)
    code = send_code(PHONE)
    with pytest.raises(services.AccountInactive) as excinfo:
        services.customer_login_with_code(phone=PHONE, code=code)
    assert excinfo.value.code == "account_inactive"
    assert excinfo.value.status_code == 403


def test_staff_with_a_leftover_code_must_use_the_password(send_code):
    code = send_code(PHONE)  # a customer at the time...
    StaffFactory(phone=PHONE)  # ...who became staff before typing it
    with pytest.raises(services.StaffPasswordRequired) as excinfo:
        services.customer_login_with_code(phone=PHONE, code=code)
    assert excinfo.value.status_code == 403


def test_token_obtain_returns_one_token_per_customer(send_code):
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI), tick=False) as clock:
        token = services.customer_token_obtain(phone=PHONE, code=send_code(PHONE))
        clock.shift(timedelta(minutes=2))
        again = services.customer_token_obtain(phone=PHONE, code=send_code(PHONE))
    assert token.key == again.key
    assert Token.objects.get().user.phone == PHONE
    assert User.objects.get().last_login is not None


# --- freezing ------------------------------------------------------------------------------


def test_freeze_and_unfreeze_write_audit_events(customer, hq_manager):
    frozen = services.user_freeze(user=customer, reason="10 refunds in an hour", actor=hq_manager, ip="10.0.0.9")

    assert frozen.is_frozen
    assert frozen.frozen_reason == "10 refunds in an hour"
    assert frozen.frozen_at is not None
    assert customer.is_frozen  # the caller's instance follows
    event = AuditEvent.objects.get(action="account.frozen")
    assert event.object_type == "accounts.user"
    assert event.object_id == str(customer.pk)
    assert event.actor_id == hq_manager.pk
    assert event.reason == "10 refunds in an hour"
    assert event.ip == "10.0.0.9"

    unfrozen = services.user_unfreeze(user=customer, reason="checked with the customer", actor=hq_manager)

    assert not unfrozen.is_frozen
    assert unfrozen.frozen_reason == ""
    assert unfrozen.frozen_at is None
    event = AuditEvent.objects.get(action="account.unfrozen")
    assert event.data == {"frozen_reason": "10 refunds in an hour"}
    assert event.reason == "checked with the customer"
    customer.refresh_from_db()
    assert not customer.is_frozen


def test_freeze_needs_a_reason_and_changes_nothing_without(customer):
    with pytest.raises(services.FreezeReasonRequired) as excinfo:
        services.user_freeze(user=customer, reason="  ")
    assert excinfo.value.status_code == 400
    customer.refresh_from_db()
    assert not customer.is_frozen
    assert not AuditEvent.objects.exists()


def test_freezing_twice_records_one_event(customer):
    first = services.user_freeze(user=customer, reason="risk rule")
    second = services.user_freeze(user=customer, reason="another reason")
    assert second.frozen_at == first.frozen_at
    assert second.frozen_reason == "risk rule"
    assert AuditEvent.objects.filter(action="account.frozen").count() == 1
    services.user_unfreeze(user=customer)
    services.user_unfreeze(user=customer)
    assert AuditEvent.objects.filter(action="account.unfrozen").count() == 1


def test_system_freeze_is_recorded_as_system(customer):
    services.user_freeze(user=customer, reason="many accounts from one IP")
    event = AuditEvent.objects.get(action="account.frozen")
    assert event.actor_type == "system"
    assert event.actor_id is None


# --- staff ---------------------------------------------------------------------------------


def test_staff_create(hq_manager):
    user = services.staff_create(
        phone="13600000001", name="店长", role=Role.STORE_MANAGER, password="Ste4k-and-Chips!", actor=hq_manager
    )
    assert user.is_staff
    assert user.role == Role.STORE_MANAGER
    assert user.check_password("Ste4k-and-Chips!")
    event = AuditEvent.objects.get(action="account.staff_created")
    assert event.data == {"role": "store_manager"}
    assert event.actor_id == hq_manager.pk


@pytest.mark.parametrize(
    ("kwargs", "error", "code"),
    [
        ({"phone": "12345"}, services.InvalidPhone, "invalid_phone"),
        ({"role": Role.CUSTOMER}, services.InvalidRole, "invalid_role"),
        ({"role": "owner"}, services.InvalidRole, "invalid_role"),
        ({"password": "123"}, services.InvalidPassword, "invalid_password"),
        ({"password": "password"}, services.InvalidPassword, "invalid_password"),
    ],
)
def test_staff_create_refuses_bad_input(kwargs, error, code):
    params = {"phone": "13600000001", "name": "厨师", "role": Role.KITCHEN_STAFF, "password": "Ste4k-and-Chips!"}
    params.update(kwargs)
    with pytest.raises(error) as excinfo:
        services.staff_create(**params)
    assert excinfo.value.code == code
    assert excinfo.value.status_code == 400
    assert not User.objects.exists()


def test_staff_create_refuses_a_taken_phone(customer):
    with pytest.raises(services.PhoneTaken) as excinfo:
        services.staff_create(phone=customer.phone, name="x", role=Role.HQ_MANAGER, password="Ste4k-and-Chips!")
    assert excinfo.value.status_code == 409
    customer.refresh_from_db()
    assert not customer.is_staff
    assert not AuditEvent.objects.exists()


def test_customer_create_has_no_password_and_is_audited(hq_manager):
    user = services.customer_create(phone="+86 136 0000 0001", name=" 顾客 ", actor=hq_manager)
    assert (user.phone, user.name, user.role, user.is_staff) == ("13600000001", "顾客", Role.CUSTOMER, False)
    assert not user.has_usable_password()
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.object_id) == ("account.customer_created", hq_manager.pk, str(user.pk))


def test_customer_create_refuses_a_taken_phone(customer):
    with pytest.raises(services.PhoneTaken):
        services.customer_create(phone=customer.phone)
    assert not AuditEvent.objects.exists()


# --- editing accounts ----------------------------------------------------------------------


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(phone="13600000000", password="correct horse battery staple")


@pytest.mark.parametrize(
    ("role", "is_superuser", "is_staff"),
    [
        (Role.CUSTOMER, False, False),
        (Role.CUSTOMER, True, True),
        (Role.CANTEEN_STAFF, False, True),
        (Role.HQ_MANAGER, False, True),
    ],
)
def test_user_update_derives_is_staff_from_role_and_superuser(superuser, role, is_superuser, is_staff):
    user = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    services.user_update(user=user, actor=superuser, changes={"role": role, "is_superuser": is_superuser})
    assert user.is_staff is is_staff  # the caller's instance is refreshed
    user.refresh_from_db()
    assert (user.role, user.is_superuser, user.is_staff) == (role, is_superuser, is_staff)


def test_user_update_without_a_change_writes_nothing(superuser, customer):
    services.user_update(user=customer, actor=superuser, changes={"name": customer.name, "role": Role.CUSTOMER})
    assert not AuditEvent.objects.exists()


def test_user_update_audits_group_and_permission_changes(superuser, customer):
    group = Group.objects.create(name="support")
    perm = Permission.objects.get(codename="view_auditevent")
    services.user_update(user=customer, actor=superuser, changes={"groups": [group], "user_permissions": [perm]})
    assert list(customer.groups.all()) == [group]
    assert list(customer.user_permissions.all()) == [perm]
    assert AuditEvent.objects.get().data == {
        "changes": {
            "groups": {"old": [], "new": ["support"]},
            "user_permissions": {"old": [], "new": ["audit.view_auditevent"]},
        }
    }


@pytest.mark.parametrize("changes", [{"is_superuser": True}, {"groups": []}, {"user_permissions": []}])
def test_only_a_superuser_changes_superuser_status_and_permissions(hq_manager, customer, changes):
    with pytest.raises(services.AccountChangeNotAllowed) as excinfo:
        services.user_update(user=customer, actor=hq_manager, changes=changes)
    assert excinfo.value.status_code == 403
    customer.refresh_from_db()
    assert not customer.is_superuser
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"role": "owner"}, services.InvalidRole),
        ({"phone": "12345"}, services.InvalidPhone),
        ({"phone": "13700000001"}, services.PhoneTaken),  # the HQ manager's
    ],
)
def test_user_update_refuses_bad_input(superuser, hq_manager, customer, changes, error):
    with pytest.raises(error):
        services.user_update(user=customer, actor=superuser, changes=changes)
    customer.refresh_from_db()
    assert (customer.phone, customer.role) == ("13800000001", Role.CUSTOMER)
    assert not AuditEvent.objects.exists()


def test_user_update_refuses_unknown_fields(superuser, customer):
    with pytest.raises(ValueError, match="is_staff"):
        services.user_update(user=customer, actor=superuser, changes={"is_staff": True})


def test_user_set_password_is_audited_without_the_password(superuser, hq_manager):
    services.user_set_password(user=hq_manager, actor=superuser, password="An0ther-Ste4k-and-Chips!", ip="10.0.0.1")
    hq_manager.refresh_from_db()
    assert hq_manager.check_password("An0ther-Ste4k-and-Chips!")
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.ip, event.data) == (
        "account.password_set",
        superuser.pk,
        "10.0.0.1",
        {},
    )


def test_user_set_password_refuses_a_weak_password(superuser, hq_manager):
    with pytest.raises(services.InvalidPassword):
        services.user_set_password(user=hq_manager, actor=superuser, password="12345678")
    hq_manager.refresh_from_db()
    assert hq_manager.check_password("correct horse battery staple")
    assert not AuditEvent.objects.exists()


def test_outbox_code_helper_matches_the_stored_hash(send_code):
    send_code(PHONE)
    code = code_from_outbox(PHONE)
    assert SmsCode.objects.get().code_hash == services.sms_code_hash(phone=PHONE, purpose="login", code=code)
