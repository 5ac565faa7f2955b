"""Corporate accounts in the admin: who sees and keeps them, confirming transfers, recording
refund transfers, and who may download a receipt."""

from __future__ import annotations

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from ordering.models import OrderStatus
from ordering.services import LineRequest
from payments.admin_corporate import confirm_transfer_action, record_refund_transfer_action, transfer_links
from payments.models import CorporateAccount, CorporateMember, Payment, PaymentStatus, RefundAttempt
from payments.models import RefundAttemptStatus as RS
from payments.services.corporate import corporate_transfer_confirm, refund_transfer_record
from tests.accounts.factories import UserFactory
from tests.ordering.factories import submit
from tests.payments.corporate_world import company_for, pay_corporate, staff_refund, written
from tests.stores.factories import make_staff

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ACCOUNTS = "admin:payments_corporateaccount_changelist"
ADD = "admin:payments_corporateaccount_add"
TRANSFERS = "admin:payments_corporate_transfers"


def _confirm_url(payment):
    return reverse("admin:payments_corporate_confirm", args=[payment.pk])


def _record_url(attempt):
    return reverse("admin:payments_corporate_refund_record", args=[attempt.pk])


def _receipt_url(attempt):
    return reverse("admin:payments_refundattempt_receipt", args=[attempt.pk])


@pytest.fixture
def company(brand, customer):
    return company_for(brand, customer)


@pytest.fixture
def pending(company, customer, order):
    return pay_corporate(customer, order).payment


@pytest.fixture
def rival_hq(other_brand):
    return make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000088")


@pytest.fixture
def refund(hq_manager, pending):
    payment = corporate_transfer_confirm(actor=hq_manager, payment_id=pending.pk, reference="IN-1")
    return staff_refund(payment, actor=hq_manager)


# --- Accounts ---


def test_hq_sees_the_companies_of_its_brand_only(client, hq_manager, company, other_brand):
    company_for(other_brand, name="对手公司")
    client.force_login(hq_manager)
    response = client.get(reverse(ACCOUNTS))
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [company.pk]
    assert reverse(TRANSFERS) in response.content.decode()


@pytest.mark.parametrize("role", [Role.STORE_MANAGER, Role.KITCHEN_STAFF])
def test_store_staff_cannot_open_corporate_accounts(client, role, brand, store, company):
    staff = make_staff(role=role, brand=brand, stores=[store], phone="13700000077")
    client.force_login(staff)
    assert client.get(reverse(ACCOUNTS)).status_code == 403
    assert client.get(reverse(TRANSFERS)).status_code == 403


def _account_form(**changes):
    data = {
        "name": "晨光传媒", "bank_name": "中国银行上海分行", "bank_account_name": "晨光传媒有限公司",
        "bank_account_last4": "5566", "contact_phone": "021-55550000", "pay_within_hours": "12", "is_active": "on",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-phone": "13800000001", "memberships-0-employee_number": "E7", "memberships-0-is_active": "on",
    }
    data.update(changes)
    return data


def test_hq_adds_a_company_with_a_member_by_phone(client, hq_manager, brand, customer):
    client.force_login(hq_manager)
    response = client.post(reverse(ADD), _account_form(), **EN)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    account = CorporateAccount.objects.get(name="晨光传媒")
    assert account.brand_id == brand.pk and account.pay_within_hours == 12
    member = CorporateMember.objects.get(account=account)
    assert (member.user_id, member.employee_number, member.is_active) == (customer.pk, "E7", True)
    audit = AuditEvent.objects.get(action="corporate.member_added")
    assert audit.actor_id == hq_manager.pk and audit.data["user"] == customer.pk
    assert audit.data["company"] == "晨光传媒"


@pytest.mark.parametrize("changes, field, message", [
    ({"bank_account_last4": "12a4"}, "bank_account_last4", "Enter the last 4 digits of the company's account number."),
    ({"pay_within_hours": "0"}, "pay_within_hours", "Between 1 hour and 720 hours (30 days)."),
    ({"name": "星河科技有限公司"}, "name", "This brand has a corporate account with this name already."),
])
def test_bad_company_details_are_form_errors(client, hq_manager, company, changes, field, message):
    client.force_login(hq_manager)
    before = CorporateAccount.objects.count()
    response = client.post(reverse(ADD), _account_form(**changes), **EN)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert CorporateAccount.objects.count() == before


def test_a_member_must_have_an_account_and_be_added_once(client, hq_manager, company, customer):
    client.force_login(hq_manager)
    url = reverse("admin:payments_corporateaccount_change", args=[company.pk])
    existing = company.memberships.get()
    base = {
        "name": company.name, "bank_name": company.bank_name, "bank_account_name": company.bank_account_name,
        "bank_account_last4": "4321", "contact_phone": "", "pay_within_hours": "24", "is_active": "on",
        "memberships-TOTAL_FORMS": "2", "memberships-INITIAL_FORMS": "1", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(existing.pk), "memberships-0-account": str(company.pk),
        "memberships-0-employee_number": existing.employee_number, "memberships-0-is_active": "on",
        "memberships-1-account": str(company.pk), "memberships-1-is_active": "on",
    }
    response = client.post(url, {**base, "memberships-1-phone": "13800000077"}, **EN)
    assert response.status_code == 200
    assert "No account has this phone number." in response.content.decode()
    response = client.post(url, {**base, "memberships-1-phone": customer.phone}, **EN)
    assert response.status_code == 200
    assert "This account is a member of this company already." in response.content.decode()
    assert company.memberships.count() == 1

    # Switching a member off is audited; members are never deleted here.
    off = {**base, "memberships-TOTAL_FORMS": "1"}
    off.pop("memberships-0-is_active")
    assert client.post(url, off, **EN).status_code == 302
    existing.refresh_from_db()
    assert existing.is_active is False
    assert AuditEvent.objects.get(action="corporate.member_changed").data["active"] is False


def test_hq_cannot_open_another_brand_s_company(client, rival_hq, company):
    client.force_login(rival_hq)
    response = client.get(reverse("admin:payments_corporateaccount_change", args=[company.pk]))
    assert response.status_code == 302  # "does not exist" back to the admin index
    assert CorporateAccount.objects.filter(pk=company.pk).exists()


# --- Confirming transfers ---


def test_the_transfers_page_lists_waiting_payments_of_the_brand(client, hq_manager, pending, rival_hq):
    client.force_login(hq_manager)
    response = client.get(reverse(TRANSFERS), **EN)
    assert response.status_code == 200
    body = response.content.decode()
    assert pending.qr_content in body and _confirm_url(pending) in body
    client.force_login(rival_hq)
    body = client.get(reverse(TRANSFERS), **EN).content.decode()
    assert pending.qr_content not in body and "No payment is waiting for a transfer." in body


def test_hq_confirms_a_transfer_in_the_admin(client, hq_manager, pending, order):
    client.force_login(hq_manager)
    page = client.get(_confirm_url(pending), **EN)
    assert page.status_code == 200
    assert pending.qr_content in page.content.decode() and "星河科技有限公司" in page.content.decode()
    response = client.post(_confirm_url(pending), {"reference": "ICBC-889"}, **EN)
    assert response.status_code == 302 and response["Location"] == reverse(TRANSFERS)
    pending.refresh_from_db()
    order.refresh_from_db()
    assert pending.status == PaymentStatus.SUCCEEDED and pending.provider_trade_no == "ICBC-889"
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6
    assert AuditEvent.objects.get(action="payment.transfer_confirmed").actor_id == hq_manager.pk
    # Confirmed already: the page says so and offers no form.
    again = client.get(_confirm_url(pending), **EN)
    assert again.context["form"] is None and "not waiting for a transfer" in again.content.decode()
    before = written()
    client.post(_confirm_url(pending), {"reference": "ICBC-890"}, **EN)
    assert written() == before


@pytest.mark.parametrize("reference, message", [
    ("", "This field is required."),
    ("   ", "This field is required."),
    ("Z" * 65, "Ensure this value has at most 64 characters (it has 65)."),
])
def test_a_bad_reference_is_a_form_error_and_nothing_changes(client, hq_manager, pending, reference, message):
    client.force_login(hq_manager)
    before = written()
    response = client.post(_confirm_url(pending), {"reference": reference}, **EN)
    assert response.status_code == 200
    assert response.context["form"].errors["reference"] == [message]
    assert written() == before


def test_store_manager_and_other_brands_cannot_confirm(client, brand, store, pending, rival_hq):
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000066")
    before = written()
    client.force_login(manager)
    assert client.post(_confirm_url(pending), {"reference": "X1"}).status_code == 403
    client.force_login(rival_hq)
    assert client.post(_confirm_url(pending), {"reference": "X1"}).status_code == 404
    assert written() == before


# --- Refund transfers and receipts ---


def test_hq_records_a_refund_transfer_and_downloads_its_receipt(client, hq_manager, refund):
    assert refund.status == RS.PROCESSING
    client.force_login(hq_manager)
    body = client.get(reverse(TRANSFERS), **EN).content.decode()
    assert refund.out_refund_no in body and _record_url(refund) in body
    page = client.get(_record_url(refund), **EN)
    assert page.status_code == 200 and "****4321" in page.content.decode()

    response = client.post(_record_url(refund), {"reference": "BOC-5150"}, **EN)
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RS.SUCCEEDED and refund.transfer_reference == "BOC-5150"
    body = client.get(reverse(TRANSFERS), **EN).content.decode()
    assert _receipt_url(refund) in body

    download = client.get(_receipt_url(refund))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"] == f'inline; filename="receipt-{refund.out_refund_no}.pdf"'
    assert download.content == bytes(refund.receipt_pdf) and download.content.startswith(b"%PDF")
    assert b"BOC-5150" in download.content and b"45.00" in download.content

    # The refund admin's own page links to the same receipt.
    change = client.get(reverse("admin:payments_refundattempt_change", args=[refund.pk]))
    assert _receipt_url(refund) in change.content.decode()


def test_a_second_refund_record_in_the_admin_changes_nothing(client, hq_manager, refund):
    refund_transfer_record(actor=hq_manager, attempt_id=refund.pk, reference="BOC-1")
    client.force_login(hq_manager)
    before = written()
    response = client.post(_record_url(refund), {"reference": "BOC-2"}, **EN)
    assert response.status_code == 200 and response.context["form"] is None
    assert written() == before


def test_a_bad_refund_reference_is_a_form_error(client, hq_manager, refund):
    client.force_login(hq_manager)
    response = client.post(_record_url(refund), {"reference": ""}, **EN)
    assert response.context["form"].errors["reference"] == ["This field is required."]
    refund.refresh_from_db()
    assert refund.status == RS.PROCESSING and not refund.receipt_pdf


def test_the_receipt_is_for_hq_of_its_brand_and_superusers(client, hq_manager, brand, store, refund, rival_hq):
    refund_transfer_record(actor=hq_manager, attempt_id=refund.pk, reference="BOC-9")
    url = _receipt_url(refund)
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000055")
    client.force_login(manager)
    assert client.get(url).status_code == 403
    client.force_login(rival_hq)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302  # to the admin login
    root = UserFactory(phone="13900000000", is_staff=True, is_superuser=True)
    client.force_login(root)
    assert client.get(url).status_code == 200


def test_no_receipt_before_the_transfer_is_recorded(client, hq_manager, refund):
    client.force_login(hq_manager)
    assert client.get(_receipt_url(refund)).status_code == 404


def test_record_and_store_staff_refused(client, brand, store, refund):
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000044")
    client.force_login(manager)
    assert client.post(_record_url(refund), {"reference": "B"}).status_code == 403
    refund.refresh_from_db()
    assert refund.status == RS.PROCESSING


# --- Links and actions in the payment and refund admins ---


def test_links_and_actions_lead_to_the_transfer_pages(rf, hq_manager, pending, refund, english):
    assert transfer_links(Payment.objects.get(pk=pending.pk)) == ""  # confirmed already
    assert transfer_links(refund) == f'<a href="{_record_url(refund)}">Record refund transfer</a>'

    request = rf.post("/")
    request.user = hq_manager
    payment_admin, refund_admin = site._registry[Payment], site._registry[RefundAttempt]
    assert "confirm_transfer_action" in payment_admin.get_actions(request)
    assert "record_refund_transfer_action" in refund_admin.get_actions(request)
    response = record_refund_transfer_action(refund_admin, request, RefundAttempt.objects.filter(pk=refund.pk))
    assert response.status_code == 302 and response["Location"] == _record_url(refund)


def test_the_confirm_action_opens_the_page_for_one_waiting_payment(rf, hq_manager, pending, brand, store, english):
    request = rf.post("/")
    request.user = hq_manager
    payment_admin = site._registry[Payment]
    response = confirm_transfer_action(payment_admin, request, Payment.objects.filter(pk=pending.pk))
    assert response["Location"] == _confirm_url(pending)
    assert transfer_links(pending) == f'<a href="{_confirm_url(pending)}">Confirm transfer received</a>'

    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000033")
    request.user = manager
    assert "confirm_transfer_action" not in payment_admin.get_actions(request)


def test_the_transfers_page_costs_the_same_queries_for_many_rows(
    client, hq_manager, brand, store, menu, company, django_assert_max_num_queries
):
    for i in range(8):
        member = UserFactory(phone=f"1380000010{i}")
        CorporateMember.objects.create(account=company, user=member)
        order = submit(member, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
        payment = pay_corporate(member, order).payment
        if i % 2:
            staff_refund(corporate_transfer_confirm(actor=hq_manager, payment_id=payment.pk, reference="R"),
                         actor=hq_manager)
    client.force_login(hq_manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse(TRANSFERS))
    assert len(response.context["payments"]) == 4 and len(response.context["waiting_refunds"]) == 4
