"""Corporate accounts: who may pay by the company's transfer, opening the payment, HQ confirming
the transfer (once), closing it when the time to transfer is over, and refunds recorded by
transfer with their electronic receipt."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent
from ordering.models import OrderStatus
from ordering.services import orders_expire_due
from payments.errors import PaymentNotAllowed
from payments.gateways import registry
from payments.gateways.corporate import CorporateGateway
from payments.models import (
    CorporateAccount,
    CorporateMember,
    PaymentEventKind,
    PaymentStatus,
    RefundAttempt,
    RefundAttemptStatus,
    RefundOrigin,
)
from payments.services import payment_create
from payments.services.corporate import (
    TransferReferenceInvalid,
    corporate_transfer_confirm,
    refund_transfer_record,
)
from payments.services.provider import payment_sync, payments_check_due
from payments.services.refunding import refund_attempt_create
from tests.accounts.factories import UserFactory
from tests.concurrency import run_together
from tests.ordering.factories import Menu, gift_card_for, submit
from tests.payments.corporate_world import company_for, pay_corporate, staff_refund, written
from tests.stores.factories import make_staff

pytestmark = pytest.mark.django_db

REF = "TRF20260301A"


@pytest.fixture
def company(brand, customer):
    return company_for(brand, customer)


@pytest.fixture
def pending(company, customer, order):
    return pay_corporate(customer, order).payment


def _confirm(actor, payment, reference=REF, **kwargs):
    return corporate_transfer_confirm(actor=actor, payment_id=payment.pk, reference=reference, **kwargs)


def _actions(obj):
    return list(AuditEvent.objects.filter(object_id=str(obj.pk)).order_by("pk").values_list("action", flat=True))


def assert_refused(call, error, *, code=None, status=None):
    before = written()
    with pytest.raises(error) as exc:
        call()
    assert written() == before
    if code:
        assert exc.value.code == code
    if status:
        assert exc.value.status_code == status
    return exc.value


# --- The channel ---


def test_the_channel_is_registered_as_a_staff_settled_transfer(english):
    gateway = registry.get("corporate")
    assert isinstance(gateway, CorporateGateway)
    assert str(gateway.label) == "Corporate account (bank transfer)"
    assert (gateway.wallet, gateway.polled, gateway.reconciled, gateway.staff_only) == (False, False, False, False)


def test_only_active_members_of_an_active_company_of_the_brand_may_pay_by_transfer(
    brand, other_brand, store, customer, order
):
    gateway = registry.get("corporate")
    outsider = UserFactory(phone="13800000009")
    assert not gateway.available(order=order, user=customer)  # no company yet
    assert not gateway.available(order=order, user=None)

    rival_company = company_for(other_brand, customer, name="对手公司")
    assert not gateway.available(order=order, user=customer)  # a company of another brand

    company = company_for(brand, customer, outsider)
    assert gateway.available(order=order, user=customer)
    assert "corporate" in [g.channel for g in registry.for_customer(order=order, user=customer)]

    CorporateMember.objects.filter(account=company, user=customer).update(is_active=False)
    assert not gateway.available(order=order, user=customer)  # member switched off
    assert gateway.available(order=order, user=outsider)

    company.is_active = False
    company.save()
    assert not gateway.available(order=order, user=outsider)  # company switched off
    assert "corporate" not in [g.channel for g in registry.for_customer(order=order, user=outsider)]
    assert rival_company.is_active


def test_somebody_who_is_no_member_cannot_open_a_corporate_payment(customer, order):
    error = assert_refused(lambda: pay_corporate(customer, order), PaymentNotAllowed, code="payment_not_allowed")
    assert order.payments.count() == 0
    assert error.status_code == 409


def test_opening_gives_the_reference_to_quote_and_the_company_s_deadline(brand, customer, order):
    company_for(brand, customer, hours=4)
    now = timezone.now()
    result = pay_corporate(customer, order, now=now)
    payment = result.payment
    payment.refresh_from_db()
    reference = "CP" + payment.id.hex[:10].upper()
    assert result.action.kind == "transfer" and result.action.reference == reference
    assert len(reference) == 12
    assert payment.status == PaymentStatus.PENDING
    assert payment.qr_content == reference and payment.action_url == ""
    assert payment.pay_before == now + timedelta(hours=4)
    assert payment.next_check_at == payment.pay_before  # nobody to poll: next look is at the deadline
    assert payment.amount == Decimal("45.00")
    assert registry.get("corporate").action_for(payment).reference == reference
    assert list(payment.events.values_list("kind", "outcome")) == [("start", "started")]
    assert _actions(payment) == ["payment.created", "payment.started"]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT

    again = pay_corporate(customer, order)  # a reload or double click reuses the waiting payment
    assert again.payment.pk == payment.pk and again.action.reference == reference
    assert order.payments.count() == 1


def test_the_shortest_deadline_counts_when_the_payer_belongs_to_two_companies(brand, customer, order):
    company_for(brand, customer, hours=48)
    company_for(brand, customer, name="第二公司", hours=6)
    now = timezone.now()
    payment = pay_corporate(customer, order, now=now).payment
    payment.refresh_from_db()
    assert payment.pay_before == now + timedelta(hours=6)


def test_an_order_waiting_for_its_transfer_is_not_expired(pending, order):
    assert orders_expire_due(now=order.expires_at + timedelta(minutes=5)) == 0
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


# --- Confirming the transfer ---


def test_hq_confirms_the_transfer_and_the_order_is_paid_with_a_pickup_code(
    hq_manager, company, pending, order
):
    payment = _confirm(hq_manager, pending, reference=f"  {REF} ", ip="203.0.113.5")
    assert payment.status == PaymentStatus.SUCCEEDED
    payment.refresh_from_db()
    assert payment.provider_trade_no == REF  # trimmed
    assert payment.payer_account == "4321"  # the company's account, last 4 digits
    assert payment.next_check_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(order.pickup_code) == 6 and order.pickup_code.isdigit()
    event = payment.events.get(kind=PaymentEventKind.CONFIRM)
    assert event.outcome == "pending->succeeded"
    assert event.payload["reference"] == REF and event.payload["corporate_account"] == company.pk
    assert event.payload["confirmed_by"] == hq_manager.pk
    assert _actions(payment) == ["payment.created", "payment.started", "payment.succeeded",
                                 "payment.transfer_confirmed"]
    audit = AuditEvent.objects.get(action="payment.transfer_confirmed")
    assert audit.actor_id == hq_manager.pk and audit.ip == "203.0.113.5"
    assert audit.amount == Decimal("45.00")
    assert audit.data["reference"] == REF and audit.data["company"] == company.name
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1


def test_a_second_confirmation_is_refused_and_changes_nothing(hq_manager, pending, english):
    _confirm(hq_manager, pending)
    error = assert_refused(lambda: _confirm(hq_manager, pending, reference="ANOTHER"), PaymentNotAllowed,
                     code="not_waiting", status=409)
    assert "waiting for its transfer" in str(error.message)
    pending.refresh_from_db()
    assert pending.provider_trade_no == REF


@pytest.mark.parametrize("role", [Role.STORE_MANAGER, Role.KITCHEN_STAFF])
def test_store_staff_cannot_confirm_a_transfer(role, brand, store, pending, english):
    staff = make_staff(role=role, brand=brand, stores=[store], phone="13700000099")
    error = assert_refused(lambda: _confirm(staff, pending), PaymentNotAllowed, code="not_yours", status=403)
    assert str(error.message) == "Only the brand's HQ managers can record bank transfers."
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.PENDING


def test_hq_of_another_brand_and_the_customer_cannot_confirm(other_brand, customer, pending):
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000098")
    assert_refused(lambda: _confirm(rival_hq, pending), PaymentNotAllowed, code="not_yours")
    assert_refused(lambda: _confirm(customer, pending), PaymentNotAllowed, code="not_yours")
    assert_refused(lambda: _confirm(None, pending), PaymentNotAllowed, code="not_yours")


def test_a_superuser_may_confirm(pending, order):
    root = UserFactory(phone="13900000000", is_staff=True, is_superuser=True)
    _confirm(root, pending)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


@pytest.mark.parametrize("reference, message", [
    ("", "Enter the bank transfer's reference."),
    ("   ", "Enter the bank transfer's reference."),
    (None, "Enter the bank transfer's reference."),
    ("X" * 65, "The reference can be at most 64 characters."),
])
def test_a_missing_or_oversized_reference_is_a_clear_error(hq_manager, pending, reference, message, english):
    error = assert_refused(lambda: _confirm(hq_manager, pending, reference=reference), TransferReferenceInvalid,
                     code="invalid_reference", status=400)
    assert str(error.message) == message


def test_a_64_character_reference_is_accepted(hq_manager, pending):
    assert _confirm(hq_manager, pending, reference="R" * 64).provider_trade_no == "R" * 64


def test_only_corporate_payments_are_confirmed(hq_manager, customer, brand, order):
    card = gift_card_for(customer, brand, "100.00")
    paid = payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    assert_refused(lambda: _confirm(hq_manager, paid.payment), PaymentNotAllowed, code="not_waiting")


def test_an_unknown_payment_is_not_found(hq_manager):
    assert_refused(lambda: corporate_transfer_confirm(actor=hq_manager, payment_id=uuid.uuid4(), reference=REF),
             PaymentNotAllowed, code="not_found", status=404)


# --- The time to transfer runs out ---


def test_the_payment_stays_pending_until_its_deadline_then_closes_and_the_order_expires(pending, order):
    gateway = registry.get("corporate")
    assert gateway.query(pending).status == "pending"
    assert payments_check_due(now=pending.pay_before - timedelta(minutes=1)) == 0

    pending.refresh_from_db()
    assert payments_check_due(now=pending.pay_before + timedelta(seconds=1)) == 1
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CANCELLED
    assert pending.next_check_at is None
    assert pending.events.order_by("created_at", "pk").last().kind == PaymentEventKind.CLOSE
    assert orders_expire_due(now=pending.pay_before + timedelta(seconds=2)) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_query_answers_closed_once_the_deadline_has_passed(pending, hq_manager, english):
    pending.pay_before = timezone.now() - timedelta(seconds=1)
    assert registry.get("corporate").query(pending).status == "closed"
    assert registry.get("corporate").close(pending).status == "closed"
    pending.save(update_fields=["pay_before"])
    payment_sync(payment_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CANCELLED
    assert pending.events.order_by("created_at", "pk").last().kind == PaymentEventKind.QUERY
    # A transfer confirmed too late is refused: the payment is no longer waiting.
    error = assert_refused(lambda: _confirm(hq_manager, pending), PaymentNotAllowed, code="not_waiting")
    assert "Cancelled" in str(error.message)


def test_paying_another_way_meanwhile_closes_the_transfer(brand, customer, pending, order):
    card = gift_card_for(customer, brand, "100.00")
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    payment_sync(payment_id=pending.pk)
    pending.refresh_from_db()
    assert pending.status == PaymentStatus.CANCELLED


# --- Refunds by transfer ---


def _paid_by_transfer(hq_manager, payment):
    return _confirm(hq_manager, payment)


def test_a_refund_waits_for_finance_then_is_recorded_with_its_receipt(hq_manager, company, pending, order):
    payment = _paid_by_transfer(hq_manager, pending)
    attempt = staff_refund(payment, actor=hq_manager)
    assert attempt.status == RefundAttemptStatus.PROCESSING
    assert attempt.next_check_at is None  # nobody to ask: finance records it
    assert registry.get("corporate").query_refund(attempt).status == "processing"

    done = refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference=" BOC-77812 ",
                                            ip="203.0.113.7")
    assert done.status == RefundAttemptStatus.SUCCEEDED
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED
    assert attempt.transfer_reference == "BOC-77812" and attempt.provider_refund_id == "BOC-77812"
    pdf = bytes(attempt.receipt_pdf)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert 2000 < len(pdf) < 60000
    for text in (b"BOC-77812", b"45.00", attempt.out_refund_no.encode(), pending.qr_content.encode(),
                 REF.encode(), b"****4321"):
        assert text in pdf, text
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    audit = AuditEvent.objects.get(action="payment.refund_transfer_recorded")
    assert audit.data["reference"] == "BOC-77812"
    assert audit.data["receipt_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert audit.ip == "203.0.113.7" and audit.actor_id == hq_manager.pk
    assert _actions(attempt) == ["payment.refund_requested", "payment.refund_succeeded",
                                 "payment.refund_transfer_recorded"]
    event = attempt.events.get(kind=PaymentEventKind.CONFIRM)
    assert event.outcome == "processing->succeeded" and event.payload["transfer_reference"] == "BOC-77812"


def test_a_second_record_of_the_refund_transfer_is_refused(hq_manager, pending, english):
    attempt = staff_refund(_paid_by_transfer(hq_manager, pending), actor=hq_manager)
    refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="BOC-1")
    first_pdf = bytes(RefundAttempt.objects.get(pk=attempt.pk).receipt_pdf)
    error = assert_refused(lambda: refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk,
                                                              reference="BOC-2"),
                     PaymentNotAllowed, code="not_waiting", status=409)
    assert "Succeeded" in str(error.message)
    attempt.refresh_from_db()
    assert attempt.transfer_reference == "BOC-1" and bytes(attempt.receipt_pdf) == first_pdf


def test_recording_a_refund_transfer_is_for_hq_only_and_needs_a_reference(
    hq_manager, brand, store, customer, pending
):
    attempt = staff_refund(_paid_by_transfer(hq_manager, pending), actor=hq_manager)
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000097")
    for actor in (manager, customer, None):
        assert_refused(lambda a=actor: refund_transfer_record(actor=a, attempt_id=attempt.pk, reference="B1"),
                 PaymentNotAllowed, code="not_yours", status=403)
    for reference in ("", "  ", "Y" * 65):
        assert_refused(lambda r=reference: refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk,
                                                                      reference=r),
                 TransferReferenceInvalid, code="invalid_reference", status=400)
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.PROCESSING and not attempt.receipt_pdf


def test_a_gift_card_refund_is_not_recorded_as_a_transfer(hq_manager, customer, brand, order):
    card = gift_card_for(customer, brand, "100.00")
    paid = payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    with transaction.atomic():
        attempt = refund_attempt_create(payment=paid.payment, amount=Decimal("45.00"), origin=RefundOrigin.STAFF,
                                        actor=hq_manager)
    assert_refused(lambda: refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="B1"),
             PaymentNotAllowed, code="not_waiting")


def test_a_transfer_confirmed_for_an_order_paid_meanwhile_is_refunded_by_transfer(
    hq_manager, brand, customer, company, pending, order, django_capture_on_commit_callbacks
):
    card = gift_card_for(customer, brand, "100.00")
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    with django_capture_on_commit_callbacks(execute=True):
        payment = _confirm(hq_manager, pending)  # the company paid anyway: the money arrived
    assert payment.status == PaymentStatus.SUCCEEDED
    attempt = RefundAttempt.objects.get(payment=payment)
    assert attempt.origin == RefundOrigin.DUPLICATE
    assert attempt.status == RefundAttemptStatus.PROCESSING  # finance must transfer it back
    assert attempt.amount == Decimal("45.00")
    refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="BOC-DUP")
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED and bytes(attempt.receipt_pdf).startswith(b"%PDF")


def test_the_refund_goes_to_the_company_that_paid_even_after_the_payer_left_it(
    hq_manager, brand, customer, company, pending
):
    payment = _paid_by_transfer(hq_manager, pending)
    CorporateMember.objects.filter(account=company, user=customer).update(is_active=False)
    company_for(brand, customer, name="新公司", last4="9999")  # joined another company since
    attempt = staff_refund(payment, actor=hq_manager)
    refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="BOC-3")
    pdf = bytes(RefundAttempt.objects.get(pk=attempt.pk).receipt_pdf)
    assert b"****4321" in pdf and b"****9999" not in pdf


def test_a_partial_refund_leaves_the_payment_succeeded(hq_manager, pending):
    payment = _paid_by_transfer(hq_manager, pending)
    attempt = staff_refund(payment, actor=hq_manager, amount=Decimal("20.00"))
    refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="BOC-4")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert b"20.00" in bytes(RefundAttempt.objects.get(pk=attempt.pk).receipt_pdf)


# --- Demo ---


def test_the_demo_company_is_seeded_once_and_its_member_may_pay_by_transfer(db):
    call_command("seed_demo", stores=1, force=True, stdout=StringIO())
    company = CorporateAccount.objects.get(name="Demo Tech Co.")
    assert company.is_active and company.pay_within_hours == 24 and company.brand.code == "xiangwei"
    assert list(company.memberships.values_list("user__phone", "is_active")) == [("13800000001", True)]
    call_command("seed_demo", stores=1, force=True, stdout=StringIO())
    assert CorporateAccount.objects.filter(name="Demo Tech Co.").count() == 1
    assert CorporateMember.objects.filter(account=company).count() == 1
    member = company.memberships.get().user
    order_of_the_chain = SimpleNamespace(brand_id=company.brand_id)
    assert registry.get("corporate").available(order=order_of_the_chain, user=member)


# --- Concurrency ---


@pytest.mark.django_db(transaction=True)
def test_two_staff_confirming_at_once_record_the_transfer_once(brand, customer, store, hq_manager):
    company_for(brand, customer)
    order = submit(customer, store, Menu(store))
    payment = pay_corporate(customer, order).payment
    second_hq = make_staff(role=Role.HQ_MANAGER, brand=brand, phone="13700000096")
    results = run_together([
        lambda: _confirm(hq_manager, payment, reference="A-1"),
        lambda: _confirm(second_hq, payment, reference="B-2"),
    ])
    assert sorted(kind for kind, _ in results) == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, PaymentNotAllowed) and error.code == "not_waiting"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider_trade_no in ("A-1", "B-2")
    assert AuditEvent.objects.filter(action="payment.transfer_confirmed").count() == 1
    assert AuditEvent.objects.filter(action="order.paid").count() == 1
    assert payment.events.filter(kind=PaymentEventKind.CONFIRM).count() == 1

    attempt = staff_refund(payment, actor=hq_manager)
    results = run_together([
        lambda: refund_transfer_record(actor=hq_manager, attempt_id=attempt.pk, reference="R-1"),
        lambda: refund_transfer_record(actor=second_hq, attempt_id=attempt.pk, reference="R-2"),
    ])
    assert sorted(kind for kind, _ in results) == ["error", "ok"]
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED
    assert attempt.transfer_reference.encode() in bytes(attempt.receipt_pdf)
    assert AuditEvent.objects.filter(action="payment.refund_transfer_recorded").count() == 1
    assert AuditEvent.objects.filter(action="payment.refund_succeeded").count() == 1
