import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Mainland China mobile numbers: 11 digits, 1 then 3-9, then 9 digits.
MAINLAND_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(value: str) -> str:
    """Strip spaces, dashes and a leading +86 / 0086 country code."""
    phone = re.sub(r"[\s-]", "", str(value or ""))
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix):
            phone = phone[len(prefix):]
    return phone


def mask_phone(phone: str) -> str:
    """``138****0001`` for an 11-digit number: what screens, lists and logs show of a phone.

    Anything else is masked entirely except its last 2 characters, so that a malformed value
    never shows in full either.
    """
    phone = str(phone or "")
    if len(phone) == 11:
        return f"{phone[:3]}****{phone[-4:]}"
    return "*" * max(0, len(phone) - 2) + phone[-2:] if len(phone) > 2 else "*" * len(phone)


def validate_mainland_mobile(value: str) -> None:
    if not MAINLAND_MOBILE_RE.match(value or ""):
        raise ValidationError(
            _("Enter a valid mainland China mobile number (11 digits starting with 1)."),
            code="invalid_phone",
        )
