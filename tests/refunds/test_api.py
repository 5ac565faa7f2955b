"""The refunds API (DESIGN.md): code, create, get, withdraw, destination; errors are JSON and
change nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from payments.models import GiftCardEntry, RefundAttempt
from refunds.models import RefundRequest, RefundStatus
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code_from_outbox
from tests.refunds.factories import ask, line_of, paid

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_of(api_client):
    def login(user):
        api_client.force_authenticate(user)
        api_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return api_client
    return login


def _code(client, order) -> str:
    from django.test import TestCase
    with TestCase.captureOnCommitCallbacks(execute=True):  # the SMS goes out after commit
        response = client.post(reverse("api:order-refund-code", args=[order.pk]))
    assert response.status_code == 200, response.json()
    assert response.json()["sent_to"].endswith(order.customer.phone[-4:])
    return code_from_outbox(order.customer.phone)


def _ask(client, order, body, capture):
    with capture(execute=True):
        return client.post(reverse("api:order-refund-create", args=[order.pk]), body, format="json")


def test_a_small_refund_is_approved_and_refunded_at_once(customer, store, menu, client_of,
                                                         django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)  # 45.00 by gift card
    client = client_of(customer)
    code = _code(client, order)
    response = _ask(client, order, {"lines": [{"line": line_of(order, menu.dumplings), "quantity": 1}],
                                    "reason_code": "changed_plans", "code": code},
                    django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["amount"] == "12.50"
    assert body["lines"] == [{"line": line_of(order, menu.dumplings), "name": menu.dumplings.name,
                              "quantity": 1, "unit_price": "12.50", "amount": "12.50"}]
    refund = RefundRequest.objects.get(pk=body["id"])
    assert refund.status == RefundStatus.SUCCEEDED  # gift card refunds complete at once
    detail = client.get(reverse("api:refund-detail", args=[refund.pk])).json()
    assert detail["status"] == "succeeded"
    assert detail["expected_arrival"] == {"at_once": True, "earliest": None, "latest": None}
    assert [step["label"] for step in detail["timeline"]] == ["Asked for a refund", "Approved", "Money sent back",
                                                              "Refunded"]
    assert detail["shares"][0]["channel"] == "gift_card"
    assert detail["shares"][0]["amount"] == "12.50"
    assert detail["can_withdraw"] is False


def test_the_order_api_names_the_lines_a_refund_asks_for(customer, store, menu, client_of,
                                                         django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)
    client = client_of(customer)
    lines = client.get(reverse("api:order-detail", args=[order.pk])).json()["lines"]
    dumplings = next(line for line in lines if line["dish_id"] == menu.dumplings.pk)
    assert dumplings["id"] == line_of(order, menu.dumplings)
    response = _ask(client, order, {"lines": [{"line": dumplings["id"], "quantity": 1}],
                                    "reason_code": "changed_plans", "code": _code(client, order)},
                    django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    assert response.json()["lines"][0]["line"] == dumplings["id"]


def test_a_large_refund_waits_for_review_and_can_be_withdrawn(customer, store, menu, client_of,
                                                              django_capture_on_commit_callbacks):
    order = paid(customer, store, menu, noodles=5, dumplings=4)  # 150.00
    client = client_of(customer)
    response = _ask(client, order, {"reason_code": "changed_plans", "code": _code(client, order)},
                    django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["amount"], body["whole_order"]) == ("pending_review", "150.00", True)
    assert body["review_deadline"] is not None
    assert body["can_withdraw"] is True
    withdrawn = client.post(reverse("api:refund-withdraw", args=[body["id"]]))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    again = client.post(reverse("api:refund-withdraw", args=[body["id"]]))
    assert again.status_code == 409
    assert again.json()["code"] == "not_withdrawable"


def test_withdrawing_an_approved_refund_is_refused(customer, store, menu, client_of):
    order = paid(customer, store, menu)
    approved = ask(customer, order, execute=False)  # approved at once, not sent yet
    paid_out = ask(customer, paid(customer, store, menu))  # approved and paid out
    assert (approved.status, paid_out.status) == (RefundStatus.APPROVED, RefundStatus.SUCCEEDED)
    for refund in (approved, paid_out):
        before = refund.status
        response = client_of(customer).post(reverse("api:refund-withdraw", args=[refund.pk]))
        assert response.status_code == 409
        assert response.json()["code"] == "not_withdrawable" and response.json()["detail"]
        refund.refresh_from_db()
        assert refund.status == before
    assert not AuditEvent.objects.filter(action="refund.withdrawn").exists()


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"reason_code": "changed_plans"}, 400, "invalid"),                              # no code
    ({"reason_code": "changed_plans", "code": "12ab56"}, 400, "invalid"),            # malformed code
    ({"reason_code": "nonsense", "code": "000000"}, 400, "invalid"),
    ({"reason_code": "changed_plans", "code": "000000", "lines": "all"}, 400, "invalid"),
    ({"reason_code": "changed_plans", "code": "000000", "lines": [{"line": 1, "quantity": 0}]}, 400, "invalid"),
    ({"reason_code": "changed_plans", "code": "000000", "lines": [{"line": 1, "quantity": True}]}, 400, "invalid"),
])
def test_malformed_requests_are_400_and_change_nothing(customer, store, menu, client_of, body, status, code):
    order = paid(customer, store, menu)
    response = client_of(customer).post(reverse("api:order-refund-create", args=[order.pk]), body, format="json")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert "detail" in response.json()
    assert not RefundRequest.objects.exists()


def test_quantity_above_what_was_ordered_and_a_wrong_code_are_refused(customer, store, menu, client_of,
                                                                     django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)
    client = client_of(customer)
    code = _code(client, order)
    too_many = _ask(client, order, {"lines": [{"line": line_of(order, menu.dumplings), "quantity": 3}],
                                    "reason_code": "changed_plans", "code": code},
                    django_capture_on_commit_callbacks)
    assert too_many.status_code == 400, too_many.json()
    assert too_many.json()["code"] == "quantity_exceeds"
    wrong = _ask(client, order, {"reason_code": "changed_plans", "code": "000000" if code != "000000" else "111111"},
                 django_capture_on_commit_callbacks)
    assert wrong.status_code == 400
    assert not RefundRequest.objects.exists()
    assert not RefundAttempt.objects.exists()


def test_another_customers_order_and_refund_are_404(customer, store, menu, client_of):
    order = paid(customer, store, menu)
    refund = ask(customer, order)
    stranger = client_of(UserFactory(phone="13900000009"))
    assert stranger.post(reverse("api:order-refund-code", args=[order.pk])).status_code == 404
    response = stranger.post(reverse("api:order-refund-create", args=[order.pk]),
                             {"reason_code": "changed_plans", "code": "123456"}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert stranger.get(reverse("api:refund-detail", args=[refund.pk])).status_code == 404
    assert stranger.post(reverse("api:refund-withdraw", args=[refund.pk])).status_code == 404
    assert RefundRequest.objects.count() == 1


def test_unauthenticated_is_401(api_client, customer, store, menu):
    order = paid(customer, store, menu)
    response = api_client.post(reverse("api:order-refund-create", args=[order.pk]), {}, format="json")
    assert response.status_code in (401, 403)
    assert "code" in response.json()


def test_an_unpaid_order_cannot_be_refunded(customer, store, menu, client_of):
    from tests.refunds.factories import order_for
    order = order_for(customer, store, menu)
    response = client_of(customer).post(reverse("api:order-refund-code", args=[order.pk]))
    assert response.status_code == 409
    assert response.json()["code"] == "not_paid"


def test_a_failed_refund_is_sent_to_gift_card_credit(customer, store, menu, client_of, paysim,
                                                     django_capture_on_commit_callbacks):
    from tests.refunds.factories import order_for, pay_by_wechat
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    client = client_of(customer)
    detail = client.get(reverse("api:refund-detail", args=[refund.pk])).json()
    assert detail["can_change_destination"] is True
    bad = client.post(reverse("api:refund-destination", args=[refund.pk]), {"destination": "cash"}, format="json")
    assert bad.status_code == 400
    bank = client.post(reverse("api:refund-destination", args=[refund.pk]),
                       {"destination": "bank_transfer", "bank_name": "ICBC", "account_name": "顾客",
                        "account_number": "12"}, format="json")
    assert bank.status_code == 400
    assert bank.json()["code"] == "invalid_bank_account"
    with django_capture_on_commit_callbacks(execute=True):  # the credit is made by the task queue
        response = client.post(reverse("api:refund-destination", args=[refund.pk]), {"destination": "gift_card"},
                               format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "processing"
    body = client.get(reverse("api:refund-detail", args=[refund.pk])).json()
    assert body["status"] == "succeeded"
    assert body["shares"][0]["destination"] == "gift_card"
    credit = GiftCardEntry.objects.filter(amount__gt=0).order_by("-pk").first()
    assert credit.amount == Decimal(body["amount"])
