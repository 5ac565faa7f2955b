"""Corporate accounts: staff confirm the company's transfer, and record the transfer of a refund.

Both are HQ acts (HQ managers of the payment's brand, or superusers), written through the
services that own the states: the payment through ``payment_record_provider_state`` (as a
``confirm`` event, so a confirmation is recorded exactly once, and a second success for a paid
order is refunded automatically), the refund through ``refund_attempt_record``. Each also writes
its own audit event naming the bank reference.

Which company paid is decided when the transfer is confirmed (the payer's membership in the
brand's corporate accounts) and kept in the confirmation's event, so that a refund goes back to
that company even if the payer has left it since.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.services import audit_record
from config.api import DomainError
from config.crypto import decrypt_text
from ordering.models import Order
from stores.selectors import user_manages_whole_brand

from ..errors import PaymentNotAllowed
from ..gateways import ProviderPayment, ProviderRefund
from ..gateways.corporate import CORPORATE
from ..models import (
    CorporateAccount,
    CorporateMember,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    RefundAttempt,
    RefundAttemptStatus,
    RefundDestination,
)
from ..receipts import RefundReceipt, mask_account, refund_receipt_pdf
from ._common import _payment_event, _user
from .provider import payment_record_provider_state
from .refunding import _lock_attempt, refund_attempt_record

REFERENCE_MAX_LENGTH = 64
RECEIPT_TIMEZONE = ZoneInfo("Asia/Shanghai")


class TransferReferenceInvalid(DomainError):
    code = "invalid_reference"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or gettext_lazy("Enter the bank transfer's reference."), **kwargs)


def _clean_reference(value) -> str:
    reference = " ".join(str(value or "").split())
    if not reference:
        raise TransferReferenceInvalid()
    if len(reference) > REFERENCE_MAX_LENGTH:
        raise TransferReferenceInvalid(
            _("The reference can be at most %(max)d characters.") % {"max": REFERENCE_MAX_LENGTH}
        )
    return reference


def _check_hq(actor, brand_id: int) -> None:
    user = _user(actor)
    if user is None or not user.is_staff or not user_manages_whole_brand(user, brand_id):
        raise PaymentNotAllowed(
            _("Only the brand's HQ managers can record bank transfers."), status_code=403, code="not_yours"
        )


def _not_found() -> PaymentNotAllowed:
    return PaymentNotAllowed(_("No such payment."), status_code=404, code="not_found")


def corporate_account_for_payment(payment: Payment) -> CorporateAccount | None:
    """The company that pays (or paid) ``payment``: the one its confirmation named, else the
    payer's membership in the brand's corporate accounts (active ones first)."""
    confirmed = (
        PaymentEvent.objects.filter(payment=payment, kind=PaymentEventKind.CONFIRM,
                                    payload__corporate_account__isnull=False)
        .order_by("created_at", "pk")
        .values_list("payload__corporate_account", flat=True)
        .first()
    )
    if confirmed is not None:
        account = CorporateAccount.objects.filter(pk=confirmed, brand_id=payment.brand_id).first()
        if account is not None:
            return account
    if payment.created_by_id is None:
        return None
    membership = (
        CorporateMember.objects.filter(user_id=payment.created_by_id, account__brand_id=payment.brand_id)
        .select_related("account")
        .order_by("-is_active", "-account__is_active", "pk")
        .first()
    )
    return membership.account if membership is not None else None


def corporate_transfer_confirm(*, actor, payment_id, reference, ip: str | None = None, now=None) -> Payment:
    """HQ confirms that the company's transfer for ``payment_id`` arrived, quoting its bank
    reference. The payment succeeds and the order is paid (its pickup code issued) once covered.

    Refuses with nothing changed: an empty or too long reference (``TransferReferenceInvalid``),
    a payment of another brand or an actor who is not the brand's HQ (403), and a payment that
    is not a corporate payment waiting for its transfer (409, e.g. confirmed already).
    """
    reference = _clean_reference(reference)
    now = now or timezone.now()
    found = Payment.objects.filter(pk=payment_id).values("brand_id", "order_id").first()
    if found is None:
        raise _not_found()
    _check_hq(actor, found["brand_id"])
    with transaction.atomic():
        # The lock order of the provider service (order, then payment), held across the check
        # and the recording so that two confirmations cannot both pass the check.
        Order.objects.select_for_update().filter(pk=found["order_id"]).first()
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.channel != CORPORATE or payment.status != PaymentStatus.PENDING:
            raise PaymentNotAllowed(
                _("Only a corporate payment waiting for its transfer can be confirmed (this one is %(status)s).")
                % {"status": payment.get_status_display()},
                code="not_waiting",
            )
        account = corporate_account_for_payment(payment)
        payment = payment_record_provider_state(
            payment_id=payment.pk,
            state=ProviderPayment(status="succeeded", amount=payment.amount, provider_trade_no=reference,
                                  payer_account=account.bank_account_last4 if account else "", paid_at=now),
            kind=PaymentEventKind.CONFIRM, actor=_user(actor), ip=ip, now=now,
            payload={"reference": reference, "corporate_account": account.pk if account else None,
                     "company": account.name if account else "", "confirmed_by": _user(actor).pk},
        )
        audit_record(**_payment_event(
            payment, "payment.transfer_confirmed", actor=actor, ip=ip,
            data={"reference": reference, "company": account.name if account else "",
                  "transfer_reference": payment.qr_content},
        ))
    return payment


def _receipt_number(attempt: RefundAttempt, at) -> str:
    return f"RR{timezone.localtime(at, RECEIPT_TIMEZONE):%Y%m%d}{attempt.id.hex[:8].upper()}"


def _operator(actor) -> str:
    user = _user(actor)
    return (user.name or user.masked_phone) if user is not None else "-"


def _receipt_for(attempt: RefundAttempt, *, reference: str, actor, at) -> RefundReceipt:
    payment = Payment.objects.select_related("brand", "order__store").get(pk=attempt.payment_id)
    payee = settings.PAYMENT_CORPORATE_PAYEE
    if attempt.destination == RefundDestination.BANK_TRANSFER:  # the account the customer gave
        payee_name, payee_bank = attempt.bank_account_name, attempt.bank_name
        payee_account = mask_account(attempt.bank_account_last4)
    else:
        account = corporate_account_for_payment(payment)
        payee_name, payee_bank = (account.name, account.bank_name) if account else ("-", "-")
        payee_account = mask_account(account.bank_account_last4) if account else "-"
    return RefundReceipt(
        number=_receipt_number(attempt, at),
        issued_at=at,
        brand_name=payment.brand.name,
        payer_name=payee["account_name"],
        payer_bank=payee["bank"],
        payer_account=payee["account_number"],
        payee_name=payee_name,
        payee_bank=payee_bank,
        payee_account=payee_account,
        amount=attempt.amount,
        out_refund_no=attempt.out_refund_no,
        payment_reference=payment.qr_content or payment.out_trade_no,
        payment_transfer_reference=payment.provider_trade_no,
        order_number=f"{payment.order.store.code} #{payment.order.display_number}",
        transfer_reference=reference,
        operator=_operator(actor),
    )


def refund_transfer_record(*, actor, attempt_id, reference, ip: str | None = None, now=None) -> RefundAttempt:
    """HQ records that finance made the bank transfer of a refund (of a corporate payment, or one a
    customer redirected to a bank account after the original channel failed): the transfer's
    reference is kept, the electronic receipt (PDF) drawn and stored with the refund, and the
    refund succeeds (the payment becomes refunded when fully refunded).

    Refuses with nothing changed: a bad reference (400), an actor who is not the brand's HQ
    (403), and a refund that is not a corporate refund waiting for its transfer (409, e.g.
    recorded already).
    """
    reference = _clean_reference(reference)
    now = now or timezone.now()
    brand_id = RefundAttempt.objects.filter(pk=attempt_id).values_list("brand_id", flat=True).first()
    if brand_id is None:
        raise PaymentNotAllowed(_("No such refund."), status_code=404, code="not_found")
    _check_hq(actor, brand_id)
    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        if not attempt.by_bank_transfer or attempt.status != RefundAttemptStatus.PROCESSING:
            raise PaymentNotAllowed(
                _("Only a refund by bank transfer waiting for its transfer can be recorded (this one is %(status)s).")
                % {"status": attempt.get_status_display()},
                code="not_waiting",
            )
        receipt = _receipt_for(attempt, reference=reference, actor=actor, at=now)
        pdf = refund_receipt_pdf(receipt)
        attempt.transfer_reference = reference
        attempt.receipt_pdf = pdf
        attempt._history_user = _user(actor)
        attempt.save(update_fields=["transfer_reference", "receipt_pdf"])
        attempt = refund_attempt_record(
            attempt_id=attempt.pk,
            result=ProviderRefund(status="succeeded", provider_refund_id=reference, amount=attempt.amount, at=now),
            actor=_user(actor), kind=PaymentEventKind.CONFIRM, now=now,
            payload={"transfer_reference": reference, "receipt_number": receipt.number,
                     "recorded_by": _user(actor).pk},
        )
        audit_record(
            action="payment.refund_transfer_recorded", actor=_user(actor), obj=attempt, brand_id=attempt.brand_id,
            amount=attempt.amount, ip=ip,
            data={"payment": str(attempt.payment_id), "out_refund_no": attempt.out_refund_no,
                  "reference": reference, "receipt_number": receipt.number,
                  "receipt_sha256": hashlib.sha256(pdf).hexdigest()},
        )
    return attempt


def corporate_membership_record(*, actor, account: CorporateAccount, added, changed, ip: str | None = None) -> int:
    """Audit the members added to a company, and members switched on or off, or renumbered (the
    admin saves the rows; who may pay by the company's transfer is a money fact). Returns how
    many events were written."""
    written = 0
    for action, members in (("corporate.member_added", added), ("corporate.member_changed", changed)):
        for member in members:
            audit_record(
                action=action, actor=_user(actor), obj=member, brand_id=account.brand_id, ip=ip,
                data={"account": account.pk, "company": account.name, "user": member.user_id,
                      "employee_number": member.employee_number, "active": member.is_active},
            )
            written += 1
    return written


def refund_bank_account_reveal(*, actor, attempt: RefundAttempt, ip: str | None = None) -> str | None:
    """The full account number of a refund redirected to a bank account, for the HQ manager
    about to make the transfer; every showing is audited. ``None`` if it cannot be read any more
    (the encryption key changed)."""
    _check_hq(actor, attempt.brand_id)
    if attempt.destination != RefundDestination.BANK_TRANSFER:
        return None
    audit_record(action="payment.refund_bank_account_viewed", actor=_user(actor), obj=attempt,
                 brand_id=attempt.brand_id, amount=attempt.amount, ip=ip,
                 data={"out_refund_no": attempt.out_refund_no, "bank_account": attempt.masked_bank_account})
    return decrypt_text(attempt.bank_account_encrypted)
