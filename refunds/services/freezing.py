"""Lifting a customer's freeze from the refund review queue.

A risk rule freezes the whole account and records its brand (``User.frozen_brand_id``). That
brand's HQ managers lift it (superusers lift any freeze, the platform's included); a freeze of
another brand's or of the platform is only named to them, without its reason. The write and its
audit event are ``accounts.services.user_unfreeze``'s.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from accounts.services import user_unfreeze
from stores.selectors import user_manages_whole_brand

from ..errors import RefundForbidden, RefundInvalid, RefundNotAllowed, RefundNotFound
from ..models import RefundRequest
from ._common import _user
from .approving import NOTE_MAX


def freeze_is_brands(user, refund: RefundRequest) -> bool:
    """Whether the customer's freeze is the request's brand's (or ``user`` a superuser): only then
    is its reason shown to ``user``, and only then may it be lifted from this request."""
    return user.is_superuser or refund.customer.frozen_brand_id == refund.brand_id


def may_lift_freezes(user, refund: RefundRequest) -> bool:
    """Superusers and the HQ managers of the request's brand (not store managers)."""
    return user.has_perm("accounts.unfreeze_user") and user_manages_whole_brand(user, refund.brand_id)


def may_unfreeze(user, refund: RefundRequest) -> bool:
    """The customer is frozen and ``user`` may lift that freeze from this request."""
    return refund.customer.is_frozen and may_lift_freezes(user, refund) and freeze_is_brands(user, refund)


def refund_customer_unfreeze(*, actor, refund_id, reason: str, ip: str | None = None):
    """Lift the freeze of the customer of request ``refund_id``, with a reason (kept in the audit
    log). Refuses (403) who may not lift freezes of the brand or this freeze, (409) an account
    that is not frozen, (400) an empty reason; returns the customer."""
    user = _user(actor)
    try:
        refund = RefundRequest.objects.select_related("customer").get(pk=refund_id)
    except (RefundRequest.DoesNotExist, ValueError, ValidationError):
        raise RefundNotFound() from None
    if user is None or not may_lift_freezes(user, refund):
        raise RefundForbidden(_("Only the brand's HQ managers can unfreeze it."), code="not_hq")
    customer = refund.customer
    if not customer.is_frozen:
        raise RefundNotAllowed(_("The customer's account is not frozen."), code="not_frozen")
    if not freeze_is_brands(user, refund):
        raise RefundForbidden(_("This freeze is another brand's or the platform's: a superuser can lift it."),
                              code="not_our_freeze")
    reason = (reason or "").strip()[:NOTE_MAX]
    if not reason:
        raise RefundInvalid(_("Say why the account is unfrozen: the reason is kept in the audit log."),
                            code="reason_required")
    return user_unfreeze(user=customer, reason=reason, actor=user, ip=ip)
