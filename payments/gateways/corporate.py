"""Corporate accounts: a company pays its employees' orders by bank transfer to the brand's account.

Nothing is called over the network. Opening a payment gives the payer a short reference to quote
on the transfer; HQ staff confirm the transfer's arrival in the admin
(``payments.services.corporate.corporate_transfer_confirm``). A payment whose transfer did not
arrive by its ``pay_before`` (now + the company's ``pay_within_hours``) is closed by the periodic
check. Refunds stay ``processing`` until finance has made the transfer back and recorded its
reference, which produces the electronic receipt kept with the refund
(``refund_transfer_record``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext_lazy

from ..models import CorporateMember
from . import Gateway, PaymentAction, ProviderPayment, ProviderRefund, registry

CORPORATE = "corporate"
REFERENCE_PREFIX = "CP"


def transfer_reference(payment) -> str:
    """The short reference the payer quotes on the transfer: "CP" and 10 characters of our
    ``out_trade_no`` (upper case), enough to find the payment among the brand's."""
    return f"{REFERENCE_PREFIX}{payment.out_trade_no[:10].upper()}"


def memberships(*, user, brand_id):
    """The active memberships of ``user`` in active corporate accounts of the brand."""
    if user is None or not getattr(user, "is_authenticated", False):
        return CorporateMember.objects.none()
    return CorporateMember.objects.filter(
        user=user, is_active=True, account__is_active=True, account__brand_id=brand_id
    )


class CorporateGateway(Gateway):
    channel = CORPORATE
    label = gettext_lazy("Corporate account (bank transfer)")
    wallet = False
    polled = False  # nobody to ask: the payment waits for staff until its pay_before
    reconciled = False
    refund_days = (1, 5)  # a bank transfer

    def available(self, *, order, user) -> bool:
        return memberships(user=user, brand_id=order.brand_id).exists()

    def pay_before(self, payment, *, order, now) -> datetime:
        """Now plus the company's time to transfer (the shortest, should the payer belong to
        several companies of the brand)."""
        hours = (
            memberships(user=payment.created_by, brand_id=order.brand_id)
            .aggregate(h=Min("account__pay_within_hours"))["h"]
        )
        return now + timedelta(hours=hours) if hours else order.expires_at

    def start(self, payment) -> PaymentAction:
        return PaymentAction(kind="transfer", reference=transfer_reference(payment))

    def action_for(self, payment) -> PaymentAction:
        return PaymentAction(kind="transfer", reference=payment.qr_content or transfer_reference(payment))

    def _state(self, payment) -> ProviderPayment:
        if payment.pay_before is not None and payment.pay_before <= timezone.now():
            return ProviderPayment(status="closed")
        return ProviderPayment(status="pending")

    def query(self, payment) -> ProviderPayment:
        """Staff record arrivals themselves, so ours is the only answer: waiting, until the time
        to transfer is over."""
        return self._state(payment)

    def close(self, payment) -> ProviderPayment:
        """Nothing to close anywhere: the payment is no longer accepted from now on."""
        return ProviderPayment(status="closed")

    def refund(self, refund_attempt) -> ProviderRefund:
        """Finance transfers the money back; the refund is processing until they record it."""
        return ProviderRefund(status="processing")

    def query_refund(self, refund_attempt) -> ProviderRefund:
        return ProviderRefund(status="processing")


registry.register(CorporateGateway())
