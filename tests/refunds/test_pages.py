"""Refund pages: the order page's panel, the refund form (code, lines, reason), the status page
with withdraw and the choice after a failure, and the store counter."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from payments.models import GiftCardEntry
from refunds.models import RefundRequest, RefundSource, RefundStatus
from refunds.policy import add_business_days
from refunds.selectors import refund_arrival
from tests.accounts.factories import UserFactory
from tests.accounts.helpers import code_from_outbox
from tests.refunds.factories import ask, line_of, order_for, paid, pay_by_wechat

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _send_code(client, url, capture, order) -> str:
    with capture(execute=True):
        response = client.post(url, {"send_code": "1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200, response.content
    assert "A code was sent to" in response.content.decode()
    return code_from_outbox(order.customer.phone)


def test_the_order_page_offers_a_refund_and_lists_requests(browser, customer, store, menu):
    order = paid(customer, store, menu)
    browser.force_login(customer)
    page = browser.get(reverse("ordering:order-detail", args=[order.pk])).content.decode()
    assert reverse("refunds:order-refund", args=[order.pk]) in page
    refund = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])
    page = browser.get(reverse("ordering:order-detail", args=[order.pk])).content.decode()
    assert reverse("refunds:refund-detail", args=[refund.pk]) in page
    assert refund.display_number in page


def test_an_unpaid_order_page_has_no_refund_panel(browser, customer, store, menu):
    order = order_for(customer, store, menu)
    browser.force_login(customer)
    page = browser.get(reverse("ordering:order-detail", args=[order.pk])).content.decode()
    assert "Ask for a refund" not in page
    form = browser.get(reverse("refunds:order-refund", args=[order.pk]))
    assert "nothing to refund" in form.content.decode()


def test_a_partial_refund_through_the_form(browser, customer, store, menu, django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)  # noodles 20.00, 2 dumplings at 12.50
    browser.force_login(customer)
    url = reverse("refunds:order-refund", args=[order.pk])
    page = browser.get(url).content.decode()
    assert f'name="qty_{line_of(order, menu.dumplings)}"' in page
    code = _send_code(browser, url, django_capture_on_commit_callbacks, order)
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(url, {f"qty_{line_of(order, menu.noodles)}": "0",
                                      f"qty_{line_of(order, menu.dumplings)}": "1",
                                      "reason_code": "changed_plans", "code": code})
    refund = RefundRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("refunds:refund-detail", args=[refund.pk])
    assert refund.amount == Decimal("12.50") and not refund.is_full
    assert refund.status == RefundStatus.SUCCEEDED
    page = browser.get(response["Location"]).content.decode()
    assert "Refunded" in page and "12.50" in page
    assert 'hx-trigger="every' not in page  # final: no more polling


def test_the_whole_order_when_nothing_is_lowered(browser, customer, store, menu, django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)
    browser.force_login(customer)
    url = reverse("refunds:order-refund", args=[order.pk])
    code = _send_code(browser, url, django_capture_on_commit_callbacks, order)
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(url, {f"qty_{line_of(order, menu.noodles)}": "1", f"qty_{line_of(order, menu.dumplings)}": "2",
                           "reason_code": "changed_plans", "code": code})
    refund = RefundRequest.objects.get()
    assert refund.is_full and refund.amount == order.total
    order.refresh_from_db()
    assert order.status == "refunded"


@pytest.mark.parametrize(("post", "message"), [
    ({"reason_code": "changed_plans", "code": ""}, "Enter the code we sent by SMS"),
    ({"reason_code": "changed_plans", "code": "12"}, "The code is the 6 digits of the SMS."),
    ({"reason_code": "", "code": "123456"}, "This field is required."),
    ({"reason_code": "changed_plans", "code": "123456", "zero": True}, "Choose at least one portion to refund."),
    ({"reason_code": "changed_plans", "code": "123456", "qty": "9"}, "Select a valid choice."),
])
def test_bad_form_input_is_explained_and_changes_nothing(browser, customer, store, menu, post, message):
    order = paid(customer, store, menu)
    browser.force_login(customer)
    data = {"reason_code": post["reason_code"], "code": post["code"],
            f"qty_{line_of(order, menu.noodles)}": "0" if post.get("zero") else "1",
            f"qty_{line_of(order, menu.dumplings)}": post.get("qty", "0" if post.get("zero") else "2")}
    response = browser.post(reverse("refunds:order-refund", args=[order.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RefundRequest.objects.exists()


def test_a_wrong_code_is_shown_on_the_form(browser, customer, store, menu, django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)
    browser.force_login(customer)
    url = reverse("refunds:order-refund", args=[order.pk])
    code = _send_code(browser, url, django_capture_on_commit_callbacks, order)
    response = browser.post(url, {f"qty_{line_of(order, menu.noodles)}": "1",
                                  f"qty_{line_of(order, menu.dumplings)}": "2", "reason_code": "changed_plans",
                                  "code": "000000" if code != "000000" else "111111"})
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not RefundRequest.objects.exists()


def test_another_customers_order_and_refund_are_404(browser, customer, store, menu):
    order = paid(customer, store, menu)
    refund = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])
    browser.force_login(UserFactory(phone="13900000009"))
    assert browser.get(reverse("refunds:order-refund", args=[order.pk])).status_code == 404
    assert browser.get(reverse("refunds:refund-detail", args=[refund.pk])).status_code == 404
    assert browser.post(reverse("refunds:refund-withdraw", args=[refund.pk])).status_code == 404


def test_a_reviewed_request_polls_and_can_be_withdrawn(browser, customer, store, menu):
    order = paid(customer, store, menu, noodles=5, dumplings=4)  # 150.00 -> review
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW
    browser.force_login(customer)
    page = browser.get(reverse("refunds:refund-detail", args=[refund.pk])).content.decode()
    assert "Waiting for review" in page and 'hx-trigger="every 3s"' in page
    status_url = reverse("refunds:refund-status", args=[refund.pk])
    first = browser.get(status_url, HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    from refunds.views import status_context
    version = status_context(refund)["version"]
    assert f"v={version}" in page
    assert browser.get(status_url, {"v": version}, HTTP_HX_REQUEST="true").status_code == 204
    response = browser.post(reverse("refunds:refund-withdraw", args=[refund.pk]), follow=True)
    assert "Your refund request was withdrawn." in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == RefundStatus.WITHDRAWN
    again = browser.post(reverse("refunds:refund-withdraw", args=[refund.pk]), follow=True)
    assert "can be withdrawn" in again.content.decode()


def test_a_refund_on_its_way_shows_when_the_money_arrives(browser, customer, store, menu, paysim):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_processing_seconds": 3600})
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PROCESSING
    arrival = refund_arrival(refund)
    assert (arrival.earliest, arrival.latest) == (
        add_business_days(timezone.localdate(refund.submitted_at), 1),
        add_business_days(timezone.localdate(refund.submitted_at), 3))
    browser.force_login(customer)
    page = browser.get(reverse("refunds:refund-detail", args=[refund.pk])).content.decode()
    assert "Money arrives" in page
    assert f"Between {arrival.earliest.isoformat()} and {arrival.latest.isoformat()}" in page
    assert "WeChat Pay" in page  # where it goes back to


def test_after_a_failure_the_customer_sends_the_money_to_gift_card_credit(browser, customer, store, menu, paysim,
                                                                         django_capture_on_commit_callbacks):
    store.phone = "021-6350 1234"
    store.save(update_fields=["phone"])
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    assert refund.status == RefundStatus.FAILED
    browser.force_login(customer)
    url = reverse("refunds:refund-detail", args=[refund.pk])
    page = browser.get(url).content.decode()
    assert "The money could not be sent back" in page and 'name="destination"' in page
    # ... or call the store about it.
    assert '<a href="tel:021-6350 1234">021-6350 1234</a>' in page and f"quote refund {refund.display_number}" in page
    bad = browser.post(reverse("refunds:refund-destination", args=[refund.pk]),
                       {"destination": "bank_transfer", "bank_name": "ICBC", "account_name": "顾客",
                        "account_number": "12"})
    assert bad.status_code == 400
    assert "8 to 30 digits" in bad.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(reverse("refunds:refund-destination", args=[refund.pk]), {"destination": "gift_card"})
    assert response.status_code == 302
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert GiftCardEntry.objects.filter(card__owner=customer, amount=order.total).exists()
    assert "Refunded" in browser.get(url).content.decode()


def test_staff_refund_at_the_counter(client, customer, store, menu, store_manager, django_capture_on_commit_callbacks):
    order = paid(customer, store, menu)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(store_manager)
    found = client.get(reverse("refunds:counter-refunds", args=[store.code]), {"q": customer.phone})
    url = reverse("refunds:counter-refund", args=[store.code, order.pk])
    assert url in found.content.decode()
    assert client.get(reverse("refunds:counter-refunds", args=[store.code]),
                      {"q": str(order.number)}).content.decode().count(url) == 1
    code = _send_code(client, url, django_capture_on_commit_callbacks, order)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {f"qty_{line_of(order, menu.noodles)}": "0",
                                     f"qty_{line_of(order, menu.dumplings)}": "1",
                                     "reason_code": "quality", "code": code}, follow=True)
    refund = RefundRequest.objects.get()
    assert (refund.source, refund.requested_by, refund.customer) == (RefundSource.COUNTER, store_manager, customer)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.display_number in response.content.decode()


def test_a_customer_cannot_open_the_counter(client, customer, store, menu):
    order = paid(customer, store, menu)
    client.force_login(customer)
    assert client.get(reverse("refunds:counter-refunds", args=[store.code])).status_code == 403
    assert client.get(reverse("refunds:counter-refund", args=[store.code, order.pk])).status_code == 403
