"""Refunds by reason on the dashboard: from the refund requests (made through the refunds services),
counted on their order's business day, as a share of the paid amount; figures computed by hand.

Today (local), brand "acme", every order paid by gift card through the services; each order has
its own customer and IP address, so that no risk rule (velocity, ratio, network) interferes.
Menu: noodles (hot) 20.00, dumplings 12.50 (tests/ordering/factories.py); a default order is
noodles×1 + dumplings×2 = 45.00.

  SH001 (the store manager's)
    O1 45.00   whole order, changed_plans, approved at once      -> succeeded   counts 45.00
    O2 45.00   1 dumpling, quality, approved at once               -> succeeded   counts 12.50
    O3 145.00  whole order (noodles×6), late: over the limit       -> waiting for review: not counted
    O4 45.00   whole order, late, while being prepared -> review   -> approved by HQ, succeeded: 45.00
    O5 45.00   whole order, taste, while being prepared -> review  -> rejected: not counted
    O6 45.00   no refund
    L  18.00   refunded in full without a refund request (written directly) -> 18.00, no reason
  SH002
    P1 45.00   whole order, wrong_dish, approved at once           -> succeeded   counts 45.00
    P2 45.00   no refund

  SH001: paid 45×5 + 145 + 18 = 388.00, refunded 45 + 12.50 + 45 + 18 = 120.50 (31.06%)
  SH002: paid 90.00, refunded 45.00 (50%)
  brand: paid 478.00, refunded 165.50 (34.62%); orders refunded in full: O1, O4, L, P1
"""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from ordering.models import OrderStatus
from refunds.models import RefundStatus
from refunds.services import refund_approve, refund_reject
from reports.forms import ReportFilter
from reports.models import StoreDayRefunds, StoreDaySales
from reports.selectors import refunds_by_reason, sales_total, store_ranking
from reports.services import late_refund_days, rollups_refresh, rollups_refresh_recent
from stores.selectors import local_now
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, cook, line_of, paid, run
from tests.stores.factories import StoreFactory

from .factories import finished_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes_without_waiting(settings):
    settings.SMS_CODE_MIN_INTERVAL = timedelta(0)
    settings.SMS_CODE_DAILY_LIMIT = 1000


class Refunds:
    pass


def _customer(n: int):
    return UserFactory(phone=f"1390000{n:04d}")


@pytest.fixture
def refunds(store, menu, hq_manager, store_manager):
    w = Refunds()
    w.today = local_now().date()
    w.sh001, w.sh002 = store, StoreFactory(brand=store.brand, code="SH002", name="二店")
    n = iter(range(1, 100))

    def paid_by_new_customer(shop, **kwargs):
        i = next(n)
        customer = _customer(i)
        return customer, f"10.{i}.0.1", paid(customer, shop, menu, **kwargs)

    c, ip, w.o1 = paid_by_new_customer(store)
    w.r1 = ask(c, w.o1, reason_code="changed_plans", ip=ip)
    c, ip, w.o2 = paid_by_new_customer(store)
    w.r2 = ask(c, w.o2, lines=[{"line": line_of(w.o2, menu.dumplings), "quantity": 1}], reason_code="quality", ip=ip)
    c, ip, w.o3 = paid_by_new_customer(store, noodles=6)
    w.r3 = ask(c, w.o3, reason_code="late", ip=ip)
    c, ip, w.o4 = paid_by_new_customer(store)
    w.r4 = ask(c, cook(w.o4, store_manager), reason_code="late", ip=ip)
    w.r4 = run(refund_approve, actor=hq_manager, refund_id=w.r4.pk, note="ok")
    c, ip, w.o5 = paid_by_new_customer(store)
    w.r5 = ask(c, cook(w.o5, store_manager), reason_code="taste", ip=ip)
    w.r5 = run(refund_reject, actor=hq_manager, refund_id=w.r5.pk, note="it was fine")
    _c, _ip, w.o6 = paid_by_new_customer(store)
    w.legacy = finished_order(store, day=w.today, at="00:01", status=OrderStatus.REFUNDED,
                              lines=[(menu.noodles, 1)])
    c, ip, w.p1 = paid_by_new_customer(w.sh002)
    w.rp1 = ask(c, w.p1, reason_code="wrong_dish", ip=ip)
    _c, _ip, w.p2 = paid_by_new_customer(w.sh002)
    rollups_refresh(start=w.today, end=w.today)
    return w


def _filter(w, stores=None):
    picked = stores or (w.sh001, w.sh002)
    return ReportFilter(brand=w.sh001.brand, start=w.today, end=w.today, store_ids=frozenset(s.pk for s in picked),
                        all_stores=stores is None, whole_brand=len(picked) == 2)


def _rows(rows):
    return [(r.reason_code, r.refunds, r.amount, r.rate, r.share) for r in rows]


def test_the_data_set_is_what_the_docstring_says(refunds):
    w = refunds
    statuses = [r.status for r in (w.r1, w.r2, w.r3, w.r4, w.r5, w.rp1)]
    assert statuses == [RefundStatus.SUCCEEDED, RefundStatus.SUCCEEDED, RefundStatus.PENDING_REVIEW,
                        RefundStatus.SUCCEEDED, RefundStatus.REJECTED, RefundStatus.SUCCEEDED]
    assert [r.amount for r in (w.r1, w.r2, w.r3, w.r4, w.rp1)] == [
        Decimal("45.00"), Decimal("12.50"), Decimal("145.00"), Decimal("45.00"), Decimal("45.00")]
    for order in (w.o1, w.o2, w.o4):
        order.refresh_from_db()
    assert (w.o1.status, w.o2.status, w.o4.status) == (OrderStatus.REFUNDED, OrderStatus.PAID, OrderStatus.REFUNDED)


def test_refunds_by_reason_of_the_brand(refunds):
    flt = _filter(refunds)
    total = sales_total(flt)
    assert (total.orders, total.revenue, total.refunded_orders, total.refunded_amount) == (
        9, Decimal("478.00"), 4, Decimal("165.50"))
    assert total.refund_rate == Decimal("34.6")  # 165.50 / 478 = 34.62%
    assert total.net_revenue == Decimal("312.50")
    # equal amounts: more refunds first, then in the order of the reasons; no reason recorded last
    assert _rows(refunds_by_reason(flt)) == [
        ("changed_plans", 1, Decimal("45.00"), Decimal("9.4"), Decimal("27.2")),  # 45 / 478; 45 / 165.50
        ("wrong_dish", 1, Decimal("45.00"), Decimal("9.4"), Decimal("27.2")),
        ("late", 1, Decimal("45.00"), Decimal("9.4"), Decimal("27.2")),  # O3 waits for review: not counted
        ("quality", 1, Decimal("12.50"), Decimal("2.6"), Decimal("7.6")),  # the partial refund's amount
        ("", 1, Decimal("18.00"), Decimal("3.8"), Decimal("10.9")),
    ]
    assert sum(r.amount for r in refunds_by_reason(flt)) == total.refunded_amount


def test_refunds_by_reason_of_one_store_and_the_rollup_adds_up(refunds):
    w = refunds
    assert _rows(refunds_by_reason(_filter(w, [w.sh002]))) == [
        ("wrong_dish", 1, Decimal("45.00"), Decimal("50.0"), Decimal("100.0")),
    ]
    ranking = {row.code: row.figures for row in store_ranking(_filter(w))}
    assert (ranking["SH001"].refunded_amount, ranking["SH001"].refund_rate) == (Decimal("120.50"), Decimal("31.1"))
    assert (ranking["SH002"].refunded_amount, ranking["SH002"].refund_rate) == (Decimal("45.00"), Decimal("50.0"))
    for row in StoreDaySales.objects.filter(day=w.today):
        reasons = StoreDayRefunds.objects.filter(store_id=row.store_id, day=row.day)
        assert row.refunded_amount == sum(r.amount for r in reasons)


def test_a_review_decided_later_counts_after_the_next_refresh(refunds, hq_manager):
    w = refunds
    run(refund_approve, actor=hq_manager, refund_id=w.r3.pk)
    assert StoreDaySales.objects.get(store=w.sh001, day=w.today).refunded_amount == Decimal("120.50")  # not yet
    rollups_refresh_recent(days=1)
    late = {r.reason_code: r for r in refunds_by_reason(_filter(w, [w.sh001]))}["late"]
    assert (late.refunds, late.amount) == (2, Decimal("190.00"))  # O4 45.00 + O3 145.00


def test_store_manager_sees_only_their_stores_refunds(refunds, store_manager):
    client = Client()
    client.force_login(store_manager)
    params = {"start": refunds.today.isoformat(), "end": refunds.today.isoformat()}
    response = client.get("/reports/", params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    # SH001 only: paid 388.00, refunded 120.50
    assert _rows(response.context["refunds"]) == [
        ("changed_plans", 1, Decimal("45.00"), Decimal("11.6"), Decimal("37.3")),  # 45 / 388; 45 / 120.50
        ("late", 1, Decimal("45.00"), Decimal("11.6"), Decimal("37.3")),
        ("quality", 1, Decimal("12.50"), Decimal("3.2"), Decimal("10.4")),
        ("", 1, Decimal("18.00"), Decimal("4.6"), Decimal("14.9")),
    ]
    html = response.content.decode()
    assert 'data-reason="wrong_dish"' not in html and 'data-reason="changed_plans"' in html
    assert 'id="total-refund-rate">31.1%<' in html
    assert "Changed my plans" in html and "Wrong dish" not in html
    csv_text = client.get("/reports/export/refunds.csv", params, HTTP_ACCEPT_LANGUAGE="en").content.decode("utf-8-sig")
    assert "wrong_dish" not in csv_text and "changed_plans,Changed my plans,1,45.00,37.3,11.6" in csv_text
    # asking for the other store is a form error, not its figures
    other = client.get("/reports/export/refunds.csv", {**params, "stores": [refunds.sh002.pk]})
    assert other.status_code == 400 and b"45.00" not in other.content


def test_hq_refunds_csv(refunds, hq_manager):
    client = Client()
    client.force_login(hq_manager)
    day = refunds.today.isoformat()
    response = client.get("/reports/export/refunds.csv", {"start": day, "end": day}, HTTP_ACCEPT_LANGUAGE="en")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "Reason code,Reason,Refunds,Refunded amount,Share of refunds (%),Refund rate (percent of the paid amount)",
        "changed_plans,Changed my plans,1,45.00,27.2,9.4",
        "wrong_dish,Wrong dish,1,45.00,27.2,9.4",
        "late,Took too long / late delivery,1,45.00,27.2,9.4",
        'quality,"Quality problem (cold, spilled, spoiled)",1,12.50,7.6,2.6',
        ",— (no reason recorded),1,18.00,10.9,3.8",
    ]


def test_a_late_refund_rebuilds_its_orders_day(store, menu, customer):
    """An order of three days ago refunded today counts on its own day, rebuilt by the recent refresh."""
    three_days_ago = local_now() - timedelta(days=3)
    with time_machine.travel(three_days_ago, tick=False):
        order = paid(customer, store, menu)
        rollups_refresh_recent(days=1)
    day = order.business_date
    assert StoreDaySales.objects.get(store=store, day=day).refunded_amount == Decimal("0.00")
    refund = ask(customer, order, reason_code="duplicate")
    assert refund.status == RefundStatus.SUCCEEDED
    today = local_now().date()
    assert late_refund_days(start=today - timedelta(days=1), since=refund.approved_at - timedelta(seconds=1)) == [day]
    written = rollups_refresh_recent(days=2)
    assert written["StoreDayRefunds"] == 1
    row = StoreDaySales.objects.get(store=store, day=day)
    assert (row.refunded_orders, row.refunded_amount) == (1, Decimal("45.00"))
    assert list(StoreDayRefunds.objects.filter(day=day).values_list("reason_code", "refunds", "amount")) == [
        ("duplicate", 1, Decimal("45.00"))]
