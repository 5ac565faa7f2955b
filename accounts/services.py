"""Writes on accounts: SMS login codes, customer login, freezing, staff creation.

Every function is keyword-only, returns what it changed and raises a ``DomainError``
subclass with a translated message (400 bad input, 403 refused, 409 state, 429 limits).
"""

import math
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from audit.services import audit_record
from config.api import DomainError

from .models import STAFF_ROLES, PhoneThrottle, SmsCode, SmsPurpose, User
from .tasks import sms_send_task
from .validators import normalize_phone, validate_mainland_mobile

CODE_LENGTH = 6
_CODE_RE = re.compile(rf"^\d{{{CODE_LENGTH}}}$")
_HASH_SALT = "accounts.SmsCode.code_hash"


class InvalidPhone(DomainError):
    code = "invalid_phone"
    status_code = 400


class InvalidPurpose(DomainError):
    code = "invalid_purpose"
    status_code = 400


class SmsCodeThrottled(DomainError):
    """Too many codes for one phone; ``retry_after`` is in seconds."""

    code = "code_too_frequent"
    status_code = 429

    def __init__(self, message, *, retry_after: int, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class SmsCodeInvalid(DomainError):
    code = "code_invalid"
    status_code = 400


class SmsCodeExpired(DomainError):
    code = "code_expired"
    status_code = 400


class SmsCodeExhausted(DomainError):
    code = "code_exhausted"
    status_code = 400


class AccountInactive(DomainError):
    code = "account_inactive"
    status_code = 403


class StaffPasswordRequired(DomainError):
    code = "staff_password_login"
    status_code = 403


class FreezeReasonRequired(DomainError):
    code = "reason_required"
    status_code = 400


class InvalidRole(DomainError):
    code = "invalid_role"
    status_code = 400


class InvalidPassword(DomainError):
    code = "invalid_password"
    status_code = 400


class PhoneTaken(DomainError):
    code = "phone_taken"
    status_code = 409


# --- phone numbers and codes -------------------------------------------------------------


def phone_clean(value: str) -> str:
    """The normalized mainland mobile number, or ``InvalidPhone``."""
    phone = normalize_phone(value)
    try:
        validate_mainland_mobile(phone)
    except ValidationError as exc:
        raise InvalidPhone(exc.messages[0]) from exc
    return phone


def _purpose_clean(purpose: str) -> str:
    if purpose not in SmsPurpose.values:
        raise InvalidPurpose(_("Unknown code purpose."))
    return purpose


def sms_code_hash(*, phone: str, purpose: str, code: str) -> str:
    """Keyed hash (HMAC-SHA256 with SECRET_KEY) of a code, bound to its phone and purpose."""
    return salted_hmac(_HASH_SALT, f"{purpose}:{phone}:{code}", algorithm="sha256").hexdigest()


def _local_day_start(now: datetime) -> datetime:
    """Midnight of ``now``'s calendar day in the project's time zone (Asia/Shanghai)."""
    local = timezone.localtime(now, timezone.get_default_timezone())
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _sms_text(*, purpose: str, code: str) -> str:
    minutes = int(settings.SMS_CODE_TTL.total_seconds() // 60)
    if purpose == SmsPurpose.REFUND:
        return gettext("Your refund confirmation code is %(code)s, valid for %(minutes)d minutes. Never share it.") % {
            "code": code,
            "minutes": minutes,
        }
    return gettext("Your login code is %(code)s, valid for %(minutes)d minutes. Never share it.") % {
        "code": code,
        "minutes": minutes,
    }


def sms_code_request(*, phone: str, purpose: str = SmsPurpose.LOGIN, ip: str | None = None) -> None:
    """Issue a one-time code for ``phone`` and send it by SMS once the transaction commits.

    Limits (per phone and purpose): one code per ``SMS_CODE_MIN_INTERVAL`` and
    ``SMS_CODE_DAILY_LIMIT`` codes per local calendar day. They are checked while the
    phone's ``PhoneThrottle`` row is locked, so concurrent requests cannot exceed them.

    The answer never tells whether the phone belongs to an account. Staff accounts log in
    with a password (and its lockout) only, so for the login purpose a staff phone gets no
    SMS: a decoy row is written instead, an ordinary unused code whose digits nobody ever
    receives. Limits, 429s, wrong-code tries and exhaustion therefore behave exactly as for
    any other phone; and should a guess ever match, ``customer_login_with_code`` still
    refuses the staff account.

    A new code replaces the earlier ones: only the latest code of a phone and purpose counts
    (``sms_code_verify``).
    """
    phone = phone_clean(phone)
    purpose = _purpose_clean(purpose)
    now = timezone.now()
    with transaction.atomic():
        PhoneThrottle.objects.select_for_update().get_or_create(phone=phone)
        codes = SmsCode.objects.filter(phone=phone, purpose=purpose)
        last = codes.order_by("-created_at", "-id").only("created_at").first()
        if last is not None:
            wait = (last.created_at + settings.SMS_CODE_MIN_INTERVAL - now).total_seconds()
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise SmsCodeThrottled(
                    _("A code was sent recently. Please wait %(seconds)d seconds before asking again.")
                    % {"seconds": seconds},
                    retry_after=seconds,
                )
        day_start = _local_day_start(now)
        if codes.filter(created_at__gte=day_start).count() >= settings.SMS_CODE_DAILY_LIMIT:
            tomorrow = day_start + timedelta(days=1)
            raise SmsCodeThrottled(
                _("Too many codes for this number today. Please try again tomorrow."),
                retry_after=max(1, math.ceil((tomorrow - now).total_seconds())),
                code="code_daily_limit",
            )

        code = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))
        decoy = purpose == SmsPurpose.LOGIN and User.objects.filter(phone=phone, is_staff=True).exists()
        SmsCode.objects.create(
            phone=phone,
            purpose=purpose,
            # A decoy is stored like any other code (so that tries count the same); its digits
            # are simply never sent.
            code_hash=sms_code_hash(phone=phone, purpose=purpose, code=code),
            created_at=now,
            expires_at=now + settings.SMS_CODE_TTL,
            ip=ip or None,
        )
        PhoneThrottle.objects.filter(phone=phone).update(updated_at=now)
        if not decoy:
            text = _sms_text(purpose=purpose, code=code)
            transaction.on_commit(lambda: sms_send_task.delay(phone=phone, text=text))


def sms_code_verify(*, phone: str, code: str, purpose: str) -> None:
    """Accept ``code`` once for ``phone`` and ``purpose``, or raise.

    Only the latest code of the phone and purpose counts, used or not: asking for a new code
    makes every earlier one worthless, and once the latest is used, expired or out of tries
    the next step is a new code. A used code is answered like a wrong one (which would
    otherwise tell that the owner logged in). A wrong code costs one of
    ``SMS_CODE_MAX_ATTEMPTS`` tries; the count is committed even though this raises, so
    the caller must not wrap this call in a transaction of its own.
    """
    phone = phone_clean(phone)
    purpose = _purpose_clean(purpose)
    code = (code or "").strip()
    if not _CODE_RE.match(code):
        raise SmsCodeInvalid(_("Enter the 6-digit code from the SMS."))
    max_attempts = settings.SMS_CODE_MAX_ATTEMPTS
    error: DomainError | None = None
    with transaction.atomic():
        row = (
            SmsCode.objects.select_for_update()
            .filter(phone=phone, purpose=purpose)
            .order_by("-created_at", "-id")
            .first()
        )
        now = timezone.now()
        if row is None or row.used_at is not None:
            error = SmsCodeInvalid(_("The code is wrong. Check the SMS or ask for a new code."))
        elif row.attempts >= max_attempts:
            error = SmsCodeExhausted(_("Too many wrong tries for this code. Ask for a new code."))
        elif row.expires_at <= now:
            error = SmsCodeExpired(_("The code has expired. Ask for a new code."))
        elif not constant_time_compare(sms_code_hash(phone=phone, purpose=purpose, code=code), row.code_hash):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            if row.attempts >= max_attempts:
                error = SmsCodeExhausted(_("Too many wrong tries for this code. Ask for a new code."))
            else:
                error = SmsCodeInvalid(_("The code is wrong. Check the SMS or ask for a new code."))
        else:
            row.used_at = now
            row.save(update_fields=["used_at"])
    # Raised after the block so that the counted attempt is kept.
    if error is not None:
        raise error


# --- customers ---------------------------------------------------------------------------


def _customer_get_or_create(*, phone: str) -> User:
    try:
        return User.objects.get(phone=phone)
    except User.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return User.objects.create_user(phone=phone)
    except IntegrityError:  # created by a concurrent login a moment ago
        return User.objects.get(phone=phone)


def customer_login_with_code(*, phone: str, code: str, ip: str | None = None) -> User:
    """Check a login code and return the customer, creating the account on first login.

    Frozen customers may log in (pages tell them); inactive accounts and staff may not.
    """
    phone = phone_clean(phone)
    sms_code_verify(phone=phone, code=code, purpose=SmsPurpose.LOGIN)
    user = _customer_get_or_create(phone=phone)
    if not user.is_active:
        raise AccountInactive(_("This account is disabled. Please contact support."))
    if user.is_staff:
        raise StaffPasswordRequired(_("Staff accounts log in with their password on the staff login page."))
    return user


def customer_token_obtain(*, phone: str, code: str, ip: str | None = None) -> Token:
    """Log a customer in by code for the API and return their (reused) API token."""
    user = customer_login_with_code(phone=phone, code=code, ip=ip)
    # Two first logins at once: get_or_create's losing INSERT raises IntegrityError inside its
    # own savepoint and it reads the winner's row (tests/accounts/test_concurrency.py).
    token, _created = Token.objects.get_or_create(user=user)
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return token


# --- freezing ----------------------------------------------------------------------------


def user_freeze(*, user: User, reason: str, actor: User | None = None, ip: str | None = None) -> User:
    """Freeze an account (no orders, no refunds). Freezing a frozen account changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise FreezeReasonRequired(_("Give a reason for freezing the account."))
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_frozen:
            return locked
        locked.is_frozen = True
        locked.frozen_reason = reason[:255]
        locked.frozen_at = timezone.now()
        locked.save(update_fields=["is_frozen", "frozen_reason", "frozen_at"])
        audit_record(action="account.frozen", actor=actor, obj=locked, reason=reason, ip=ip)
    user.is_frozen, user.frozen_reason, user.frozen_at = locked.is_frozen, locked.frozen_reason, locked.frozen_at
    return locked


def user_unfreeze(*, user: User, reason: str = "", actor: User | None = None, ip: str | None = None) -> User:
    """Lift a freeze. Unfreezing an account that is not frozen changes nothing."""
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_frozen:
            return locked
        previous = locked.frozen_reason
        locked.is_frozen = False
        locked.frozen_reason = ""
        locked.frozen_at = None
        locked.save(update_fields=["is_frozen", "frozen_reason", "frozen_at"])
        audit_record(
            action="account.unfrozen",
            actor=actor,
            obj=locked,
            reason=(reason or "").strip(),
            ip=ip,
            data={"frozen_reason": previous},
        )
    user.is_frozen, user.frozen_reason, user.frozen_at = False, "", None
    return locked


# --- staff -------------------------------------------------------------------------------


def staff_create(
    *, phone: str, name: str, role: str, password: str, actor: User | None = None, ip: str | None = None
) -> User:
    """Create a staff account that logs in to the back office with a password."""
    phone = phone_clean(phone)
    if role not in STAFF_ROLES:
        raise InvalidRole(_("Choose a staff role."))
    candidate = User(phone=phone, name=name, role=role, is_staff=True)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise InvalidPassword(" ".join(exc.messages)) from exc
    try:
        with transaction.atomic():
            user = User.objects.create_user(phone=phone, password=password, name=name, role=role, is_staff=True)
            audit_record(action="account.staff_created", actor=actor, obj=user, ip=ip, data={"role": role})
    except IntegrityError as exc:
        raise PhoneTaken(_("An account with this phone number already exists.")) from exc
    return user
