"""Writes on accounts: SMS login codes, customer login, freezing, account creation and edits.

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
from django.db.models import Subquery
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.models import Token

from audit.services import audit_record
from config.api import DomainError

from .models import STAFF_ROLES, PhoneThrottle, Role, SmsCode, SmsPurpose, User
from .tasks import sms_send_task
from .validators import mask_phone, normalize_phone, validate_mainland_mobile

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


class AccountChangeNotAllowed(DomainError):
    code = "account_change_not_allowed"
    status_code = 403


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
    code_hash = sms_code_hash(phone=phone, purpose=purpose, code=code)
    # The right code at the first try, the common case: one UPDATE of the latest code. It waits
    # for the row's lock and checks the row again once it holds it, so a code used meanwhile
    # (two requests with one code) is not used twice: the second finds it used, below.
    latest = SmsCode.objects.filter(phone=phone, purpose=purpose).order_by("-created_at", "-id").values("pk")[:1]
    if SmsCode.objects.filter(
        pk=Subquery(latest), used_at__isnull=True, attempts__lt=max_attempts, expires_at__gt=timezone.now(),
        code_hash=code_hash,
    ).update(used_at=timezone.now()):
        return
    # Anything else, under the row's lock: which error, and a wrong code costs a try.
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
        elif not constant_time_compare(code_hash, row.code_hash):
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


def user_freeze(
    *, user: User, reason: str, actor: User | None = None, ip: str | None = None, audit_events: list | None = None,
    data: dict | None = None, brand_id: int | None = None,
) -> User:
    """Freeze an account (no orders, no refunds). Freezing a frozen account changes nothing.

    ``brand_id``: the brand whose rule freezes it (a refund risk rule); its HQ managers may lift
    the freeze and the event goes into its audit chain. Without it the freeze is the platform's.
    A caller freezing inside a larger transaction (a risk rule) passes ``audit_events`` and records
    them as its own last writes (the audit chain is always the last lock a transaction takes).
    """
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
        locked.frozen_brand_id = brand_id
        locked.save(update_fields=["is_frozen", "frozen_reason", "frozen_at", "frozen_brand_id"])
        event = {"action": "account.frozen", "actor": actor, "obj": locked, "reason": reason, "ip": ip,
                 "data": data or {}, "brand_id": brand_id}
        if audit_events is None:
            audit_record(**event)
        else:
            audit_events.append(event)
    user.is_frozen, user.frozen_reason, user.frozen_at = locked.is_frozen, locked.frozen_reason, locked.frozen_at
    user.frozen_brand_id = locked.frozen_brand_id
    return locked


def user_unfreeze(*, user: User, reason: str = "", actor: User | None = None, ip: str | None = None) -> User:
    """Lift a freeze. Unfreezing an account that is not frozen changes nothing.

    Who may lift it is the caller's check (superusers any freeze; a brand's HQ managers those of
    their brand's rules: refunds.services.freezing). The audit event goes into the chain of the brand that
    froze the account (or the platform's), so that the report that counted the freeze counts its
    end too.
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if not locked.is_frozen:
            return locked
        previous, brand_id = locked.frozen_reason, locked.frozen_brand_id
        locked.is_frozen = False
        locked.frozen_reason = ""
        locked.frozen_at = None
        locked.frozen_brand_id = None
        locked.save(update_fields=["is_frozen", "frozen_reason", "frozen_at", "frozen_brand_id"])
        audit_record(
            action="account.unfrozen",
            actor=actor,
            obj=locked,
            reason=(reason or "").strip(),
            ip=ip,
            data={"frozen_reason": previous},
            brand_id=brand_id,
        )
    user.is_frozen, user.frozen_reason, user.frozen_at, user.frozen_brand_id = False, "", None, None
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


def customer_create(*, phone: str, name: str = "", actor: User | None = None, ip: str | None = None) -> User:
    """Create a customer account (no password: customers log in with an SMS code)."""
    phone = phone_clean(phone)
    name = (name or "").strip()
    try:
        with transaction.atomic():
            user = User.objects.create_user(phone=phone, password=None, name=name, role=Role.CUSTOMER)
            audit_record(action="account.customer_created", actor=actor, obj=user, ip=ip)
    except IntegrityError as exc:
        raise PhoneTaken(_("An account with this phone number already exists.")) from exc
    return user


# --- editing accounts --------------------------------------------------------------------

#: What ``user_update`` may change. ``is_staff`` is not among them: it follows from the role.
USER_UPDATE_FIELDS = frozenset({"phone", "name", "role", "is_active", "is_superuser", "groups", "user_permissions"})
_SUPERUSER_ONLY_FIELDS = frozenset({"is_superuser", "groups", "user_permissions"})


def staff_status_for(*, role: str, is_superuser: bool) -> bool:
    """Whether an account may log in to the back office: staff roles and superusers only."""
    return role in STAFF_ROLES or bool(is_superuser)


def _clean_changes(*, actor: User | None, changes: dict) -> dict:
    unknown = set(changes) - USER_UPDATE_FIELDS
    if unknown:
        raise ValueError(f"user_update cannot change: {', '.join(sorted(unknown))}")
    if _SUPERUSER_ONLY_FIELDS & set(changes) and not (actor is not None and actor.is_superuser):
        raise AccountChangeNotAllowed(_("Only a superuser may change superuser status, groups or permissions."))
    cleaned = dict(changes)
    if "phone" in cleaned:
        cleaned["phone"] = phone_clean(cleaned["phone"])
    if "name" in cleaned:
        cleaned["name"] = (cleaned["name"] or "").strip()
    if "role" in cleaned and cleaned["role"] not in Role.values:
        raise InvalidRole(_("Choose a valid role."))
    for flag in ("is_active", "is_superuser"):
        if flag in cleaned:
            cleaned[flag] = bool(cleaned[flag])
    for relation in ("groups", "user_permissions"):
        if relation in cleaned:
            cleaned[relation] = list(cleaned[relation] or [])
    return cleaned


def _group_names(groups) -> list[str]:
    return sorted(g.name for g in groups)


def _permission_names(permissions) -> list[str]:
    return sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions)


def user_update(*, user: User, actor: User | None, changes: dict, ip: str | None = None) -> User:
    """Apply an edit of an account (the admin's change form) and audit it.

    ``changes`` maps field names of ``USER_UPDATE_FIELDS`` to their new values. ``is_staff``
    is derived, never given: it is true exactly for staff roles and superusers, so the role
    and the back-office login cannot disagree. Superuser status, groups and permissions
    may be changed by a superuser only.

    Audit events, written last: "account.role_changed" (old and new role) when the role
    changed, "account.updated" (old and new value of each field) for the other changes.
    Changing nothing writes nothing. The phone is recorded masked.
    """
    changes = _clean_changes(actor=actor, changes=changes)
    try:
        with transaction.atomic():
            locked = User.objects.select_for_update().get(pk=user.pk)
            old_role = locked.role
            updated: dict[str, dict] = {}
            fields: list[str] = []
            for name in ("phone", "name", "role", "is_active", "is_superuser"):
                if name in changes and getattr(locked, name) != changes[name]:
                    old = getattr(locked, name)
                    setattr(locked, name, changes[name])
                    fields.append(name)
                    if name == "phone":
                        updated[name] = {"old": mask_phone(old), "new": mask_phone(changes[name])}
                    elif name != "role":
                        updated[name] = {"old": old, "new": changes[name]}
            is_staff = staff_status_for(role=locked.role, is_superuser=locked.is_superuser)
            if locked.is_staff != is_staff:
                updated["is_staff"] = {"old": locked.is_staff, "new": is_staff}
                locked.is_staff = is_staff
                fields.append("is_staff")
            if fields:
                locked.save(update_fields=fields)
            if "groups" in changes:
                before = list(locked.groups.all())
                if {g.pk for g in before} != {g.pk for g in changes["groups"]}:
                    locked.groups.set(changes["groups"])
                    updated["groups"] = {"old": _group_names(before), "new": _group_names(changes["groups"])}
            if "user_permissions" in changes:
                before = list(locked.user_permissions.select_related("content_type"))
                if {p.pk for p in before} != {p.pk for p in changes["user_permissions"]}:
                    locked.user_permissions.set(changes["user_permissions"])
                    updated["user_permissions"] = {
                        "old": _permission_names(before),
                        "new": _permission_names(changes["user_permissions"]),
                    }
            # The audit events are the last writes of the transaction (audit_record).
            if locked.role != old_role:
                audit_record(
                    action="account.role_changed",
                    actor=actor,
                    obj=locked,
                    ip=ip,
                    data={"old": old_role, "new": locked.role, "is_staff": locked.is_staff},
                )
                updated.pop("is_staff", None)  # told by the role event
            if updated:
                audit_record(action="account.updated", actor=actor, obj=locked, ip=ip, data={"changes": updated})
    except IntegrityError as exc:
        raise PhoneTaken(_("An account with this phone number already exists.")) from exc
    for name in ("phone", "name", "role", "is_active", "is_superuser", "is_staff"):
        setattr(user, name, getattr(locked, name))
    return locked


def user_set_password(*, user: User, actor: User | None, password: str | None, ip: str | None = None) -> User:
    """Set an account's password (the admin's password form), or disable password login.

    ``password=None`` disables password-based login. Audited as "account.password_set" or
    "account.password_disabled"; the event never holds the password or its hash. ``user``
    gets the new hash too, so that a caller changing its own password can keep its session
    (``update_session_auth_hash``).
    """
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if password is None:
            locked.set_unusable_password()
            action = "account.password_disabled"
        else:
            try:
                validate_password(password, user=locked)
            except ValidationError as exc:
                raise InvalidPassword(" ".join(exc.messages)) from exc
            locked.set_password(password)
            action = "account.password_set"
        locked.save(update_fields=["password"])
        audit_record(action=action, actor=actor, obj=locked, ip=ip)
    user.password = locked.password
    return locked
