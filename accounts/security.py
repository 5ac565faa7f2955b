"""accounts' part of the 72-hour security report (``audit.security``): login and refund codes
that were tried wrong, accounts frozen and unfrozen, staff password lockouts. Codes and logins
belong to no brand: brand reports show the platform's figures for them, marked as such."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_noop

from audit.models import AuditEvent
from audit.security import register_section

from .models import SmsCode, SmsPurpose, User


def _codes(brand_id, start, end):
    codes = SmsCode.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        issued=Count("pk"),
        wrong=Sum("attempts"),
        exhausted=Count("pk", filter=Q(attempts__gte=settings.SMS_CODE_MAX_ATTEMPTS)),
        refund_codes=Count("pk", filter=Q(purpose=SmsPurpose.REFUND)),
    )
    return [
        (gettext_noop("Codes sent (platform)"), codes["issued"] or 0),
        (gettext_noop("of which refund confirmation codes"), codes["refund_codes"] or 0),
        (gettext_noop("Wrong code tries (platform)"), codes["wrong"] or 0),
        (gettext_noop("Codes used up by wrong tries"), codes["exhausted"] or 0),
    ]


def _accounts(brand_id, start, end):
    events = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    if brand_id is not None:
        events = events.filter(brand_id=brand_id)
    rows = [
        (gettext_noop("Accounts frozen"), events.filter(action="account.frozen").count()),
        (gettext_noop("Accounts unfrozen"), events.filter(action="account.unfrozen").count()),
        (gettext_noop("Accounts frozen now (platform)"), User.objects.filter(is_frozen=True).count()),
    ]
    try:
        from axes.models import AccessAttempt, AccessFailureLog
    except ImportError:  # pragma: no cover - axes is installed
        return rows
    failures = AccessFailureLog.objects.filter(attempt_time__gte=start, attempt_time__lt=end)
    rows += [
        (gettext_noop("Failed staff logins (platform)"), failures.count()),
        (gettext_noop("Staff logins locked out"), failures.filter(locked_out=True).count()),
        (gettext_noop("Lockouts still in force"), AccessAttempt.objects.filter(
            failures_since_start__gte=settings.AXES_FAILURE_LIMIT).count()),
    ]
    return rows


register_section(gettext_noop("SMS codes"), _codes)
register_section(gettext_noop("Accounts and logins"), _accounts)
