"""The risk rules: velocity (freeze and block), refund ratio (review), many accounts from one
network (flag and freeze), each recorded on the request and in the audit log."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.services import user_unfreeze
from audit.models import AuditEvent
from ordering.errors import AccountFrozen
from refunds.errors import RefundBlocked, RefundNotAllowed
from refunds.models import OrderRefundTally, RefundRequest, RefundStatus
from refunds.risk import network_of
from refunds.services import refund_policy_update
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, line_of, paid, send_code

pytestmark = pytest.mark.django_db


def test_network_of():
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2:3::9") == "2001:db8:1:2::/64"
    assert network_of("") == network_of(None) == network_of("bogus") == ""


def test_the_eleventh_request_in_an_hour_freezes_the_account_and_is_blocked(customer, store, menu, hq_manager,
                                                                           english):
    order = paid(customer, store, menu, dumplings=10)  # 20 + 125 = 145.00: eleven small requests fit
    noodles, dumplings = line_of(order, menu.noodles), line_of(order, menu.dumplings)
    # Keep the ratio rule out of this test: it is about velocity.
    refund_policy_update(actor=hq_manager, brand_id=store.brand_id, changes={"ratio_min_orders": 1000})
    for _i in range(10):
        refund = ask(customer, order, lines=[{"line": dumplings, "quantity": 1}])
        assert refund.status == RefundStatus.SUCCEEDED and refund.risk_flags == []
    code = send_code(customer, order)
    with pytest.raises(RefundBlocked) as exc:
        ask(customer, order, lines=[{"line": noodles, "quantity": 1}], code=code)
    assert exc.value.status_code == 403 and "frozen" in str(exc.value.message)
    blocked = RefundRequest.objects.get(order=order, lines__order_line_id=noodles)
    assert blocked.status == RefundStatus.REJECTED and blocked.reviewer is None
    assert blocked.risk_flags == [{"rule": "velocity", "requests_last_hour": 11, "max": 10, "freezes": True}]
    assert blocked.decision == "blocked: velocity"
    customer.refresh_from_db()
    assert customer.is_frozen and "velocity" in customer.frozen_reason
    assert customer.frozen_brand_id == store.brand_id  # this brand's HQ may lift it
    assert OrderRefundTally.objects.get(order=order).committed == Decimal("125.00")  # the block holds nothing
    frozen = AuditEvent.objects.get(action="account.frozen")
    assert frozen.brand_id == store.brand_id and frozen.data["refund"] == str(blocked.pk)
    assert AuditEvent.objects.filter(action__in=["refund.risk_flagged", "refund.blocked"]).count() == 2
    # Frozen: no more refunds, no more orders, and told why.
    with pytest.raises(RefundNotAllowed) as exc:
        ask(customer, order, lines=[{"line": noodles, "quantity": 1}], code="123456")
    assert exc.value.code == "account_frozen"
    from tests.refunds.factories import order_for

    with pytest.raises(AccountFrozen):
        order_for(customer, store, menu)
    # HQ unfreezes (audited) and the customer may ask again.
    user_unfreeze(user=customer, reason="checked with the customer", actor=hq_manager)
    unfrozen = AuditEvent.objects.get(action="account.unfrozen", actor_id=hq_manager.pk)
    assert unfrozen.brand_id == store.brand_id  # in the chain of the brand that froze it
    customer.refresh_from_db()
    assert not customer.is_frozen and customer.frozen_brand_id is None


def test_many_accounts_from_one_subnet_are_flagged_and_frozen(store, menu):
    refunds = []
    for i in range(10):
        customer = UserFactory(phone=f"1390000{i:04d}")
        order = paid(customer, store, menu)
        refunds.append(ask(customer, order, ip=f"198.51.100.{10 + i}"))
    assert all(r.status == RefundStatus.SUCCEEDED and r.risk_flags == [] for r in refunds[:9])
    tenth = refunds[9]
    assert tenth.status == RefundStatus.PENDING_REVIEW  # flagged: to review, not paid out
    assert tenth.risk_flags[0]["rule"] == "network_subnet" and tenth.risk_flags[0]["accounts"] == 10
    assert tenth.risk_flags[0]["subnet"] == "198.51.100.0/24"
    tenth.customer.refresh_from_db()
    assert tenth.customer.is_frozen


def test_many_accounts_from_one_address_trip_earlier(store, menu):
    for i in range(5):
        customer = UserFactory(phone=f"1390001{i:04d}")
        refund = ask(customer, paid(customer, store, menu), ip="192.0.2.200")
    assert refund.risk_flags[0]["rule"] == "network_ip" and refund.status == RefundStatus.PENDING_REVIEW


def test_one_ipv6_address_written_two_ways_counts_as_one_address(store, menu):
    forms = ["2001:db8:5::1", "2001:0DB8:0005:0000:0000:0000:0000:0001"]  # one address
    for i in range(5):
        customer = UserFactory(phone=f"1390003{i:04d}")
        refund = ask(customer, paid(customer, store, menu), ip=forms[i % 2])
    assert refund.risk_flags[0]["rule"] == "network_ip" and refund.risk_flags[0]["accounts"] == 5
    assert refund.status == RefundStatus.PENDING_REVIEW


def test_a_canteen_switches_the_network_rule_off(store, menu, hq_manager):
    refund_policy_update(actor=hq_manager, brand_id=store.brand_id, changes={"network_rule_enabled": False})
    for i in range(6):
        customer = UserFactory(phone=f"1390002{i:04d}")
        refund = ask(customer, paid(customer, store, menu), ip="192.0.2.201")
        assert refund.risk_flags == [] and refund.status == RefundStatus.SUCCEEDED


def test_a_high_refund_ratio_sends_even_a_small_request_to_review(customer, store, menu):
    orders = [paid(customer, store, menu) for _i in range(3)]  # 3 x 45.00 paid
    first = ask(customer, orders[0], lines=[{"line": line_of(orders[0], menu.noodles), "quantity": 1}])
    assert first.status == RefundStatus.SUCCEEDED  # 20 / 135: fine
    second = ask(customer, orders[1])  # (20 + 45) / 135 = 0.48: still fine
    assert second.risk_flags == []
    third = ask(customer, orders[2], lines=[{"line": line_of(orders[2], menu.noodles), "quantity": 1}])
    assert third.status == RefundStatus.PENDING_REVIEW  # (65 + 20) / 135 = 0.63 > 0.50
    flag = third.risk_flags[0]
    assert flag["rule"] == "ratio" and flag["ratio"] == "0.63" and flag["orders_30d"] == 3
    assert "risk: ratio" in third.decision
    third.customer.refresh_from_db()
    assert not third.customer.is_frozen  # review only


def test_lifting_a_freeze_from_a_request_is_the_brands_hq_s_with_a_reason(customer, store, menu, hq_manager,
                                                                          store_manager, other_brand):
    from accounts.services import user_freeze
    from refunds.errors import RefundForbidden, RefundInvalid, RefundNotFound
    from refunds.services import refund_customer_unfreeze

    refund = ask(customer, paid(customer, store, menu, noodles=6))  # waiting for review
    user_freeze(user=customer, reason="Refund risk rule: ratio", brand_id=other_brand.pk)
    for actor, code in [(store_manager, "not_hq"), (hq_manager, "not_our_freeze")]:  # the latter: another brand's
        with pytest.raises(RefundForbidden) as exc:
            refund_customer_unfreeze(actor=actor, refund_id=refund.pk, reason="fine")
        assert exc.value.code == code
    customer.refresh_from_db()
    customer.frozen_brand_id = store.brand_id  # as this brand's rule would have
    customer.save(update_fields=["frozen_brand_id"])
    with pytest.raises(RefundInvalid) as exc:
        refund_customer_unfreeze(actor=hq_manager, refund_id=refund.pk, reason="  ")
    assert exc.value.code == "reason_required"
    with pytest.raises(RefundNotFound):
        refund_customer_unfreeze(actor=hq_manager, refund_id="nonsense", reason="fine")
    customer.refresh_from_db()
    assert customer.is_frozen and not AuditEvent.objects.filter(action="account.unfrozen").exists()

    unfrozen = refund_customer_unfreeze(actor=hq_manager, refund_id=refund.pk, reason="a kitchen mistake",
                                        ip="10.0.0.9")
    assert not unfrozen.is_frozen
    event = AuditEvent.objects.get(action="account.unfrozen")
    assert (event.actor_id, event.brand_id, event.ip, event.reason) == (
        hq_manager.pk, store.brand_id, "10.0.0.9", "a kitchen mistake")
    with pytest.raises(RefundNotAllowed) as exc:
        refund_customer_unfreeze(actor=hq_manager, refund_id=refund.pk, reason="again")
    assert exc.value.code == "not_frozen" and exc.value.status_code == 409
