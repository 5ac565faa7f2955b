"""The refund review console in the admin: the queue, who sees what, the review screen, approve /
reject / retry through the services, and the brands' refund policies."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import user_freeze
from audit.models import AuditEvent
from payments.gateways import registry
from payments.models import RefundAttempt
from refunds.models import OrderRefundTally, RefundPolicy, RefundStatus
from refunds.services import refund_approve, refund_policy_update
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, line_of, order_for, paid, pay_by_wechat, run
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
QUEUE = "admin:refunds_refundrequest_changelist"
POLICIES = "admin:refunds_refundpolicy_changelist"


def _change(refund):
    return reverse("admin:refunds_refundrequest_change", args=[refund.pk])


def _url(name, refund):
    return reverse(f"admin:refunds_refundrequest_{name}", args=[refund.pk])


def _shown(response):
    return [row.pk for row in response.context["cl"].result_list]


def _messages(response):
    return [str(message) for message in response.context["messages"]]


def _refresh(refund):
    refund.refresh_from_db()
    return refund


@pytest.fixture
def big(customer, store, menu):
    """A 145.00 order (6 noodles, 2 dumplings) paid by gift card, its full refund waiting for review."""
    return ask(customer, paid(customer, store, menu, noodles=6))


@pytest.fixture
def other_store(brand):
    return StoreFactory(brand=brand, code="SH002", name="B 店")


# --- the queue ------------------------------------------------------------------------------


def test_queue_lists_waiting_requests_by_deadline_and_marks_the_overdue_one(client, hq_manager, customer, store,
                                                                           menu, django_assert_max_num_queries):
    now = timezone.now()
    later = ask(customer, paid(customer, store, menu, noodles=6, dumplings=0), now=now)
    other = UserFactory(phone="13800000002")
    overdue = ask(other, paid(other, store, menu, noodles=6, dumplings=0), now=now - timedelta(hours=1))
    third = UserFactory(phone="13800000003")
    soon = ask(third, paid(third, store, menu, noodles=6, dumplings=0), now=now - timedelta(minutes=10))
    auto = ask(third, paid(third, store, menu, noodles=1, dumplings=0))  # 20.00: approved and paid at once
    assert [r.status for r in (later, overdue, soon)] == [RefundStatus.PENDING_REVIEW] * 3
    assert auto.status == RefundStatus.SUCCEEDED
    assert overdue.is_overdue and not soon.is_overdue

    client.force_login(hq_manager)
    with django_assert_max_num_queries(20):
        response = client.get(reverse(QUEUE), **EN)
    assert response.status_code == 200
    assert _shown(response) == [overdue.pk, soon.pk, later.pk, auto.pk]
    body = response.content.decode()
    assert body.count('class="refund-badge refund-overdue"') == 1
    row = body.split(f"{overdue.display_number}</a>", 1)[1].split("</tr>", 1)[0]
    assert 'refund-overdue">overdue</span>' in row
    assert "tr:has(.refund-overdue)" in body  # the whole row is highlighted
    assert "138****0002" in body and "13800000002" not in body  # phones masked
    # No add button; the status is never a form field.
    assert reverse("admin:refunds_refundrequest_add") not in body

    waiting = client.get(reverse(QUEUE), {"status__exact": "pending_review", "overdue": "yes"}, **EN)
    assert _shown(waiting) == [overdue.pk]


def test_queue_search_by_order_number_and_customer_phone(client, hq_manager, customer, store, menu):
    first = ask(customer, paid(customer, store, menu, noodles=6, dumplings=0))
    other = UserFactory(phone="13800000009")
    second = ask(other, paid(other, store, menu, noodles=6, dumplings=0))
    client.force_login(hq_manager)
    assert _shown(client.get(reverse(QUEUE), {"q": "0009"})) == [second.pk]
    assert _shown(client.get(reverse(QUEUE), {"q": f"#{first.order.display_number}"})) == [first.pk]
    assert _shown(client.get(reverse(QUEUE), {"q": "nothing-like-this"})) == []


def test_store_manager_sees_only_own_store_and_gets_404_for_another(client, brand, customer, store, menu,
                                                                    other_store, store_manager, hq_manager):
    own = ask(customer, paid(customer, store, menu, noodles=6, dumplings=0))
    elsewhere = ask(customer, paid(customer, other_store, menu, noodles=6, dumplings=0))
    client.force_login(store_manager)
    response = client.get(reverse(QUEUE), **EN)
    assert response.status_code == 200 and _shown(response) == [own.pk]
    assert "SH002" not in response.content.decode()
    assert client.get(_change(own)).status_code == 200  # in Chinese, the default
    assert client.get(_change(elsewhere), **EN).status_code == 404
    for name in ("approve", "reject", "retry"):
        assert client.post(_url(name, elsewhere), {"note": "no"}).status_code == 404
    assert _refresh(elsewhere).status == RefundStatus.PENDING_REVIEW
    assert not AuditEvent.objects.filter(action__in=["refund.approved", "refund.rejected"]).exists()
    # HQ sees both stores of the brand.
    client.force_login(hq_manager)
    assert set(_shown(client.get(reverse(QUEUE)))) == {own.pk, elsewhere.pk}


def test_staff_without_refund_rights_and_other_brands_cannot_open_the_queue(client, brand, store, other_brand, big):
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000078")
    client.force_login(kitchen)
    assert client.get(reverse(QUEUE)).status_code == 403
    assert client.get(_change(big)).status_code == 403
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000079")
    client.force_login(rival_hq)
    assert _shown(client.get(reverse(QUEUE))) == []
    assert client.get(_change(big)).status_code == 404
    assert client.post(_url("approve", big)).status_code == 404
    assert _refresh(big).status == RefundStatus.PENDING_REVIEW


def test_nothing_is_added_edited_or_deleted_through_the_admin(client, hq_manager, big):
    client.force_login(hq_manager)
    assert client.get(reverse("admin:refunds_refundrequest_add")).status_code == 403
    assert client.post(reverse("admin:refunds_refundrequest_delete", args=[big.pk])).status_code == 403
    response = client.post(_change(big), {"status": "approved", "amount": "1.00"})
    assert response.status_code == 403
    big.refresh_from_db()
    assert big.status == RefundStatus.PENDING_REVIEW and big.amount == Decimal("145.00")
    page = client.get(_change(big), **EN).content.decode()
    assert 'name="status"' not in page and 'name="amount"' not in page


# --- the review screen ----------------------------------------------------------------------


def test_review_screen_shows_the_order_payments_earlier_refunds_ratio_policy_and_timeline(
        client, hq_manager, customer, store, menu):
    earlier_order = paid(customer, store, menu, noodles=1, dumplings=0)
    earlier = ask(customer, earlier_order)  # 20.00, refunded at once
    order = paid(customer, store, menu, noodles=6, dumplings=2)
    one_dumpling = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])
    assert one_dumpling.status == RefundStatus.SUCCEEDED and one_dumpling.amount == Decimal("12.50")
    refund_policy_update(actor=None, brand_id=store.brand_id, changes={"ratio_min_orders": 2})  # version 2
    refund = ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 6}],
                 reason_code="late")
    assert refund.status == RefundStatus.PENDING_REVIEW and refund.amount == Decimal("120.00")

    client.force_login(hq_manager)
    response = client.get(_change(refund), **EN)
    assert response.status_code == 200
    context = response.context
    rows = {row["line"].dish_id: (row["line"].quantity, row["asked"], row["remaining"])
            for row in context["order_lines"]}
    assert rows == {menu.noodles.pk: (6, 6, 0), menu.dumplings.pk: (2, 0, 1)}
    assert [p["payment"].amount for p in context["order_payments"]] == [Decimal("145.00")]
    assert [r.pk for r in context["order_refunds"]] == [one_dumpling.pk]
    assert [r.pk for r in context["customer_refunds"]] == [earlier.pk]
    stats = context["customer_stats"]
    assert stats.paid_30d == Decimal("165.00") and stats.refunded_30d == Decimal("152.50")
    assert stats.ratio == Decimal("0.92")
    body = response.content.decode()
    assert 'id="refund-ratio">0.92<' in body
    assert registry.label("gift_card") in body and ">145.00<" in body
    assert one_dumpling.display_number in body and earlier.display_number in body
    assert "Policy applied (version 2)" in body and "<code>rules.ratio.min_orders</code></th><td>2<" in body
    # The ratio rule fired (152.50 of 165.00 refunded) and is shown with what it saw.
    assert [flag["rule"] for flag in refund.risk_flags] == ["ratio"]
    assert "High refund / paid ratio over 30 days" in body and "ratio: 0.92" in body
    assert "Asked for a refund" in body and "Waiting for review" in body  # the timeline
    assert _url("approve", refund) in body and _url("reject", refund) in body
    assert _url("retry", refund) not in body
    assert 'name="csrfmiddlewaretoken"' in body


# --- approve, reject, retry -----------------------------------------------------------------


def test_approve_from_the_admin_pays_the_refund_out_through_the_sandbox_once(
        client, paysim, hq_manager, customer, store, menu, django_capture_on_commit_callbacks):
    order = order_for(customer, store, menu, noodles=6)  # 145.00
    payment = pay_by_wechat(paysim, customer, order)
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW
    client.force_login(hq_manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("approve", refund), {"note": "late delivery, confirmed"}, follow=True, **EN)
    assert response.redirect_chain == [(_change(refund), 302)]
    assert _messages(response) == [
        f"Refund {refund.display_number} approved: 145.00 CNY goes back to the customer."]
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.reviewer == hq_manager and refund.review_note == "late delivery, confirmed"
    attempt = RefundAttempt.objects.get(allocation__refund=refund)
    assert attempt.payment == payment and attempt.amount == Decimal("145.00")
    sandbox = paysim.query_refund(registry.get("wechat").config["mch_id"], attempt.out_refund_no)
    assert sandbox["amount"] == 14500
    event = AuditEvent.objects.get(action="refund.approved")
    assert event.actor_id == hq_manager.pk and event.ip == "127.0.0.1" and event.reason == "late delivery, confirmed"

    # Approving again is refused with the service's message; nothing is paid twice.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(_url("approve", refund), follow=True, **EN)
    assert again.status_code == 200
    assert _messages(again) == ["This request is no longer waiting for review: it is Refunded."]
    assert RefundAttempt.objects.filter(allocation__refund=refund).count() == 1
    assert AuditEvent.objects.filter(action="refund.approved").count() == 1
    assert _url("approve", refund) not in again.content.decode()  # no buttons once decided


def test_reject_needs_a_note_then_releases_the_money(client, store_manager, big, django_capture_on_commit_callbacks):
    client.force_login(store_manager)
    response = client.post(_url("reject", big), {"note": "   "}, follow=True, **EN)
    assert _messages(response) == ["Say why the refund is rejected; the customer is told."]
    big.refresh_from_db()
    assert big.status == RefundStatus.PENDING_REVIEW and big.reviewer is None
    assert not AuditEvent.objects.filter(action="refund.rejected").exists()
    assert OrderRefundTally.objects.get(order=big.order).committed == Decimal("145.00")

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("reject", big), {"note": "Collected and eaten."}, follow=True, **EN)
    assert _messages(response) == [f"Refund {big.display_number} rejected; the customer is told why."]
    big.refresh_from_db()
    assert big.status == RefundStatus.REJECTED and big.reviewer == store_manager
    assert big.review_note == "Collected and eaten."
    assert OrderRefundTally.objects.get(order=big.order).committed == Decimal("0.00")
    assert AuditEvent.objects.get(action="refund.rejected").ip == "127.0.0.1"
    assert not RefundAttempt.objects.exists()


def test_the_requester_cannot_approve_their_own_counter_request(client, customer, store, menu, store_manager):
    counter = ask(store_manager, paid(customer, store, menu, noodles=6))  # staff at the counter
    assert counter.requested_by == store_manager and counter.status == RefundStatus.PENDING_REVIEW
    client.force_login(store_manager)
    page = client.get(_change(counter), **EN).content.decode()
    assert _url("approve", counter) not in page and _url("reject", counter) not in page
    assert "You asked for this refund: somebody else approves or rejects it." in page
    response = client.post(_url("approve", counter), {"note": "fine"}, follow=True, **EN)
    assert _messages(response) == ["A refund is approved by somebody other than who asked for it."]
    counter.refresh_from_db()
    assert counter.status == RefundStatus.PENDING_REVIEW and counter.reviewer is None
    assert not AuditEvent.objects.filter(action="refund.approved").exists()


def test_get_on_the_decision_urls_changes_nothing_and_post_needs_the_csrf_token(hq_manager, big):
    client = Client(enforce_csrf_checks=True)
    client.force_login(hq_manager)
    for name in ("approve", "reject", "retry", "unfreeze"):
        assert client.get(_url(name, big), {"note": "x"}).status_code == 405
        assert client.post(_url(name, big), {"note": "x"}).status_code == 403  # no CSRF token
    big.refresh_from_db()
    assert big.status == RefundStatus.PENDING_REVIEW and big.reviewer is None
    assert not AuditEvent.objects.filter(action__in=["refund.approved", "refund.rejected"]).exists()


def test_hq_lifts_a_freeze_from_the_review_screen_with_a_reason_and_store_managers_cannot(
        client, hq_manager, store_manager, other_brand, customer, store, menu, big):
    user_freeze(user=customer, reason="Refund risk rule: velocity", brand_id=big.brand_id)  # this brand's rule
    client.force_login(hq_manager)
    assert _shown(client.get(reverse(QUEUE), {"customer_frozen": "yes"})) == [big.pk]
    assert _shown(client.get(reverse(QUEUE), {"customer_frozen": "no"})) == []
    page = client.get(_change(big), **EN).content.decode()
    assert "Refund risk rule: velocity" in page and _url("unfreeze", big) in page

    # The store manager sees the freeze but cannot lift it; another brand's HQ does not see the request.
    client.force_login(store_manager)
    page = client.get(_change(big), **EN).content.decode()
    assert "Only the brand's HQ managers can unfreeze it." in page and _url("unfreeze", big) not in page
    assert client.post(_url("unfreeze", big), {"reason": "fine"}).status_code == 403
    client.force_login(make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000080"))
    assert client.post(_url("unfreeze", big), {"reason": "fine"}).status_code == 404
    # HQ without a reason: told why, nothing changes.
    client.force_login(hq_manager)
    response = client.post(_url("unfreeze", big), {"reason": "  "}, follow=True, **EN)
    assert _messages(response) == ["Say why the account is unfrozen: the reason is kept in the audit log."]
    customer.refresh_from_db()
    assert customer.is_frozen and not AuditEvent.objects.filter(action="account.unfrozen").exists()

    response = client.post(_url("unfreeze", big), {"reason": "Called the customer: a kitchen mistake."},
                           follow=True, **EN)
    assert _messages(response) == [
        f"Account {customer.masked_phone} unfrozen: the customer may order and ask for refunds again."]
    customer.refresh_from_db()
    assert not customer.is_frozen and customer.frozen_reason == "" and customer.frozen_at is None
    event = AuditEvent.objects.get(action="account.unfrozen")
    assert (event.actor_id, event.brand_id, event.ip) == (hq_manager.pk, big.brand_id, "127.0.0.1")
    assert event.reason == "Called the customer: a kitchen mistake."
    assert event.data == {"frozen_reason": "Refund risk rule: velocity"}
    page = response.content.decode()
    assert "not frozen" in page and _url("unfreeze", big) not in page
    # Lifted once: a second post says so and records nothing; the customer orders again.
    response = client.post(_url("unfreeze", big), {"reason": "again"}, follow=True, **EN)
    assert _messages(response) == ["The customer's account is not frozen."]
    assert AuditEvent.objects.filter(action="account.unfrozen").count() == 1
    assert order_for(customer, store, menu).pk


def test_a_freeze_of_the_platform_or_another_brand_is_named_but_only_a_superuser_lifts_it(
        client, hq_manager, other_brand, customer, big):
    user_freeze(user=customer, reason="Chargeback at the bank")  # the platform's (a superuser)
    client.force_login(hq_manager)
    page = client.get(_change(big), **EN).content.decode()
    assert "by another brand or the platform" in page and "A superuser can lift that freeze." in page
    assert "Chargeback at the bank" not in page and _url("unfreeze", big) not in page
    assert client.post(_url("unfreeze", big), {"reason": "fine"}).status_code == 403
    customer.refresh_from_db()
    assert customer.is_frozen and not AuditEvent.objects.filter(action="account.unfrozen").exists()

    root = UserFactory(phone="13700000098", is_staff=True, is_superuser=True)
    client.force_login(root)
    page = client.get(_change(big), **EN).content.decode()
    assert "Chargeback at the bank" in page and _url("unfreeze", big) in page
    assert client.post(_url("unfreeze", big), {"reason": "The bank withdrew it"}).status_code == 302
    customer.refresh_from_db()
    assert not customer.is_frozen
    assert AuditEvent.objects.get(action="account.unfrozen").brand_id is None  # the platform's chain

    # Frozen by another brand's rule: this brand's HQ cannot lift it either.
    user_freeze(user=customer, reason="Refund risk rule: ratio", brand_id=other_brand.pk)
    client.force_login(hq_manager)
    assert client.post(_url("unfreeze", big), {"reason": "fine"}).status_code == 403
    customer.refresh_from_db()
    assert customer.is_frozen and customer.frozen_brand_id == other_brand.pk


def test_a_failed_refund_is_sent_again_from_the_admin(client, paysim, hq_manager, customer, store, menu,
                                                       django_capture_on_commit_callbacks):
    order = order_for(customer, store, menu)  # 45.00: approved at once
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    assert refund.status == RefundStatus.FAILED
    client.force_login(hq_manager)
    page = client.get(_change(refund), **EN).content.decode()
    assert _url("retry", refund) in page and _url("approve", refund) not in page

    paysim.configure({"refund_fail_rate": 0.0})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("retry", refund), follow=True, **EN)
    assert _messages(response) == [
        f"Refund {refund.display_number} sent again: 45.00 CNY through the original channel."]
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    attempts = list(RefundAttempt.objects.filter(allocation__refund=refund).order_by("created_at"))
    assert [a.status for a in attempts] == ["failed", "succeeded"]
    assert AuditEvent.objects.get(action="refund.retried").actor_id == hq_manager.pk

    again = client.post(_url("retry", refund), follow=True, **EN)
    assert _messages(again) == ["Only a refund that failed can be retried; this one is Refunded."]
    assert RefundAttempt.objects.filter(allocation__refund=refund).count() == 2


def test_an_approval_decided_elsewhere_meanwhile_is_reported_not_a_500(client, store_manager, hq_manager, big):
    client.force_login(store_manager)
    page = client.get(_change(big), **EN).content.decode()
    assert _url("approve", big) in page  # the store manager opened the page ...
    run(refund_approve, actor=hq_manager, refund_id=big.pk)  # ... while HQ approved it
    response = client.post(_url("reject", big), {"note": "too late"}, follow=True, **EN)
    assert response.status_code == 200
    assert _messages(response) == ["This request is no longer waiting for review: it is Refunded."]
    assert _refresh(big).reviewer == hq_manager


# --- refund policies ------------------------------------------------------------------------


def _policy_form(policy, **changes):
    data = {name: getattr(policy, name) for name in (
        "auto_approve_limit", "review_minutes", "window_days", "velocity_max_per_hour", "ratio_threshold",
        "ratio_min_orders", "network_window_minutes", "ip_max_accounts", "subnet_max_accounts")}
    if policy.network_rule_enabled:
        data["network_rule_enabled"] = "on"
    data.update(changes)
    return {key: str(value) for key, value in data.items() if value != ""}


def test_hq_edits_the_policy_through_the_service_and_the_version_goes_up(client, hq_manager, brand, other_brand,
                                                                         customer, store, menu):
    policy = RefundPolicy.objects.create(brand=brand)
    RefundPolicy.objects.create(brand=other_brand)
    client.force_login(hq_manager)
    listing = client.get(reverse(POLICIES), **EN)
    assert [row.pk for row in listing.context["cl"].result_list] == [policy.pk]
    url = reverse("admin:refunds_refundpolicy_change", args=[policy.pk])
    response = client.post(url, _policy_form(policy, auto_approve_limit="200.00", review_minutes="15"), **EN)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    policy.refresh_from_db()
    assert policy.version == 2 and policy.auto_approve_limit == Decimal("200.00") and policy.review_minutes == 15
    event = AuditEvent.objects.get(action="refund.policy_changed")
    assert event.actor_id == hq_manager.pk and event.data["version"] == 2
    assert event.data["changes"] == {"auto_approve_limit": ["100.00", "200.00"], "review_minutes": ["30", "15"]}
    # Saving without a change is no new version.
    assert client.post(url, _policy_form(policy), **EN).status_code == 302
    policy.refresh_from_db()
    assert policy.version == 2 and AuditEvent.objects.filter(action="refund.policy_changed").count() == 1
    # Invalid values are form errors; nothing changes.
    bad = client.post(url, _policy_form(policy, review_minutes="0"), **EN)
    assert bad.status_code == 200 and "review_minutes" in bad.context["adminform"].form.errors
    policy.refresh_from_db()
    assert policy.version == 2 and policy.review_minutes == 15
    # Requests from now on are decided by the new version: 145.00 is now approved at once.
    refund = ask(customer, paid(customer, store, menu, noodles=6))
    assert refund.status == RefundStatus.SUCCEEDED and refund.policy["version"] == 2


def test_policies_are_hq_only(client, store_manager, hq_manager, brand, other_brand):
    policy = RefundPolicy.objects.create(brand=brand)
    rival = RefundPolicy.objects.create(brand=other_brand)
    client.force_login(store_manager)
    assert client.get(reverse(POLICIES)).status_code == 403
    url = reverse("admin:refunds_refundpolicy_change", args=[policy.pk])
    assert client.post(url, _policy_form(policy, auto_approve_limit="999.00")).status_code == 403
    client.force_login(hq_manager)
    rival_url = reverse("admin:refunds_refundpolicy_change", args=[rival.pk])
    assert client.get(rival_url).status_code == 404
    assert client.post(rival_url, _policy_form(rival, auto_approve_limit="999.00")).status_code == 404
    assert client.get(reverse("admin:refunds_refundpolicy_add")).status_code == 403  # the brand has one
    assert client.post(reverse("admin:refunds_refundpolicy_delete", args=[policy.pk])).status_code == 403
    policy.refresh_from_db()
    rival.refresh_from_db()
    assert policy.version == rival.version == 1 and rival.auto_approve_limit == Decimal("100.00")
    assert not AuditEvent.objects.filter(action="refund.policy_changed").exists()


def test_hq_sets_up_the_policy_of_a_brand_that_has_none_yet_through_the_service(client, hq_manager, brand):
    assert not RefundPolicy.objects.filter(brand=brand).exists()
    client.force_login(hq_manager)
    add = reverse("admin:refunds_refundpolicy_add")
    assert client.get(add, **EN).status_code == 200
    response = client.post(add, _policy_form(RefundPolicy(), auto_approve_limit="50.00",
                                             network_rule_enabled=""), **EN)
    assert response.status_code == 302
    policy = RefundPolicy.objects.get(brand=brand)
    assert policy.auto_approve_limit == Decimal("50.00") and policy.network_rule_enabled is False
    assert policy.version == 2  # the defaults were version 1
    event = AuditEvent.objects.get(action="refund.policy_changed")
    assert event.actor_id == hq_manager.pk and event.brand_id == brand.pk
    assert set(event.data["changes"]) == {"auto_approve_limit", "network_rule_enabled"}
    assert client.get(add).status_code == 403  # one policy per brand
