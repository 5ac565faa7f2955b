"""Daily reconciliation: a provider's statement against our payments and refunds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Role
from audit.models import AuditEvent
from payments.gateways import GatewayError, Statement, registry
from payments.gateways.paysim import alipay, wechat
from payments.models import (
    MismatchKind,
    PaymentStatus,
    ReconciliationMismatch,
    ReconciliationRun,
    ReconciliationStatus,
    RefundAttemptStatus,
)
from payments.services import reconcile_day, reconcile_yesterday, reconciliation_mismatch_resolve
from payments.services.reconciliation import (
    UNEXPLAINED_COUNT,
    MismatchAlreadyResolved,
    MismatchNotYours,
    ReconciliationDayInvalid,
    ReconciliationNotAvailable,
    ResolutionNoteInvalid,
    provider_today,
    reconciled_channels,
    reconciliation_runs_latest,
    unexplained_count,
)
from payments.tasks import reconcile_day_task, reconcile_yesterday_task
from tests.accounts.factories import UserFactory
from tests.ordering.factories import Menu
from tests.payments.reconciliation_world import (
    CHANNEL,
    at,
    captured,
    installed,
    open_payment,
    past_day,
    refunded,
    tea_order,
)
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

STRANGER = "f" * 32  # an out_trade_no we never issued


@pytest.fixture
def provider():
    yield from installed()


@pytest.fixture
def day():
    return past_day()


def _rows(run):
    return sorted(
        (m.kind, m.is_refund, m.reference, m.amount_ours, m.amount_theirs, m.status_ours, m.status_theirs)
        for m in run.mismatches.all()
    )


def _audits(action):
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- all matched -------------------------------------------------------------------------------------


def test_a_day_where_everything_agrees_is_matched_with_exact_totals(provider, customer, store, menu, day):
    one = captured(provider, customer, tea_order(customer, store, menu, 3), when=at(day, 9, 30))
    two = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 12, 5))
    refund = refunded(provider, one, "5.00", when=at(day, 15))
    assert (one.status, two.status, refund.status) == (PaymentStatus.SUCCEEDED, PaymentStatus.SUCCEEDED,
                                                       RefundAttemptStatus.SUCCEEDED)
    # Another day's payment is not part of this day.
    captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day - timedelta(days=1), 12))

    run = reconcile_day(channel=CHANNEL, day=day)

    assert run.status == ReconciliationStatus.MATCHED and run.error == ""
    assert (run.captures_ours, run.captures_theirs) == (Decimal("25.00"), Decimal("25.00"))
    assert (run.refunds_ours, run.refunds_theirs) == (Decimal("5.00"), Decimal("5.00"))
    assert (run.matched, run.mismatch_count) == (3, 0)
    assert not run.mismatches.exists() and unexplained_count(run) == 0
    assert provider.statement_calls == [day]  # no adjacent day needed
    [event] = _audits("reconciliation.completed")
    assert event.data["status"] == "matched" and event.data["matched"] == 3 and event.data["unexplained"] == 0
    assert event.data["captures_ours"] == "25.00" and event.data["channel"] == CHANNEL
    assert event.actor_type == "system"


def test_a_fully_refunded_payment_still_counts_as_captured(provider, customer, store, menu, day):
    payment = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 10))
    refunded(provider, payment, "10.00", when=at(day, 11))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    run = reconcile_day(channel=CHANNEL, day=day)
    assert run.status == ReconciliationStatus.MATCHED and run.matched == 2
    assert (run.captures_ours, run.refunds_ours) == (Decimal("10.00"), Decimal("10.00"))


# --- each kind ----------------------------------------------------------------------------------------


def test_each_kind_of_capture_mismatch_with_exact_amounts(provider, customer, store, menu, day, brand):
    fine = captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 9))
    lost = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 10))
    provider.trades[lost.out_trade_no]["status"] = "closed"  # the provider does not list it
    other_amount = captured(provider, customer, tea_order(customer, store, menu, 3), when=at(day, 11))
    provider.trades[other_amount.out_trade_no]["amount"] = Decimal("14.00")
    waiting = open_payment(customer, tea_order(customer, store, menu, 4))
    provider.pay(waiting, at=at(day, 12))  # captured there; we never asked (still pending here)
    provider.trades[STRANGER] = {"status": "succeeded", "amount": Decimal("88.00"), "paid_at": at(day, 13)}

    run = reconcile_day(channel=CHANNEL, day=day)

    assert run.status == ReconciliationStatus.MISMATCHES
    assert _rows(run) == sorted([
        (MismatchKind.MISSING_HERE, False, STRANGER, None, Decimal("88.00"), "", "succeeded"),
        (MismatchKind.MISSING_THERE, False, lost.out_trade_no, Decimal("10.00"), None, "succeeded", ""),
        (MismatchKind.AMOUNT_DIFFERS, False, other_amount.out_trade_no, Decimal("15.00"), Decimal("14.00"),
         "succeeded", "succeeded"),
        (MismatchKind.STATUS_DIFFERS, False, waiting.out_trade_no, Decimal("20.00"), Decimal("20.00"), "pending",
         "succeeded"),
    ])
    assert (run.matched, run.mismatch_count) == (1, 4)
    # Ours: what succeeded here that day (5 + 10 + 15); theirs: the statement (5 + 14 + 20 + 88).
    assert (run.captures_ours, run.captures_theirs) == (Decimal("30.00"), Decimal("127.00"))
    by_ref = {m.reference: m for m in run.mismatches.all()}
    assert by_ref[STRANGER].brand_id is None and by_ref[STRANGER].payment_id is None
    assert by_ref[waiting.out_trade_no].payment_id == waiting.pk and by_ref[waiting.out_trade_no].brand_id == brand.pk
    assert by_ref[lost.out_trade_no].payment_id == lost.pk
    assert unexplained_count(run) == 4
    assert ReconciliationRun.objects.annotate(unexplained=UNEXPLAINED_COUNT).get(pk=run.pk).unexplained == 4
    assert fine.out_trade_no not in by_ref
    [event] = _audits("reconciliation.completed")
    assert event.data["kinds"] == {"missing_here": 1, "missing_there": 1, "amount_differs": 1, "status_differs": 1}


def test_each_kind_of_refund_mismatch_with_exact_amounts(provider, customer, store, menu, day, brand):
    payment = captured(provider, customer, tea_order(customer, store, menu, 10), when=at(day, 9))  # 50.00
    lost = refunded(provider, payment, "5.00", when=at(day, 10))
    provider.refunds[lost.out_refund_no]["status"] = "failed"  # the provider lost it
    other_amount = refunded(provider, payment, "6.00", when=at(day, 11))
    provider.refunds[other_amount.out_refund_no]["amount"] = Decimal("6.50")
    slow = refunded(provider, payment, "7.00", when=at(day, 12), outcome="processing")
    assert slow.status == RefundAttemptStatus.PROCESSING
    provider.refunds[slow.out_refund_no].update(status="succeeded", at=at(day, 12, 30))  # done there, not here
    provider.refunds["rf-unknown"] = {"amount": Decimal("3.00"), "status": "succeeded", "at": at(day, 13),
                                      "out_trade_no": payment.out_trade_no}
    provider.refunds["rf-nobody"] = {"amount": Decimal("4.00"), "status": "succeeded", "at": at(day, 14),
                                     "out_trade_no": STRANGER}

    run = reconcile_day(channel=CHANNEL, day=day)

    assert _rows(run) == sorted([
        (MismatchKind.MISSING_THERE, True, lost.out_refund_no, Decimal("5.00"), None, "succeeded", ""),
        (MismatchKind.AMOUNT_DIFFERS, True, other_amount.out_refund_no, Decimal("6.00"), Decimal("6.50"), "succeeded",
         "succeeded"),
        (MismatchKind.STATUS_DIFFERS, True, slow.out_refund_no, Decimal("7.00"), Decimal("7.00"), "processing",
         "succeeded"),
        (MismatchKind.MISSING_HERE, True, "rf-unknown", None, Decimal("3.00"), "", "succeeded"),
        (MismatchKind.MISSING_HERE, True, "rf-nobody", None, Decimal("4.00"), "", "succeeded"),
    ])
    assert (run.refunds_ours, run.refunds_theirs) == (Decimal("11.00"), Decimal("20.50"))  # 5 + 6; 6.50 + 7 + 3 + 4
    assert run.matched == 1  # the capture
    by_ref = {m.reference: m for m in run.mismatches.all()}
    # A refund we do not know, of a payment we know, belongs to that payment's brand.
    assert (by_ref["rf-unknown"].brand_id, by_ref["rf-unknown"].payment_id) == (brand.pk, payment.pk)
    assert (by_ref["rf-nobody"].brand_id, by_ref["rf-nobody"].payment_id) == (None, None)
    assert by_ref[slow.out_refund_no].refund_attempt_id == slow.pk


def test_a_payment_of_another_channel_is_not_ours_on_this_statement(provider, customer, store, menu, day, card):
    from payments.services import payment_create

    gift = payment_create(actor=customer, order_id=tea_order(customer, store, menu).pk, channel="gift_card",
                          params={"gift_card": card.pk}).payment
    provider.trades[gift.out_trade_no] = {"status": "succeeded", "amount": Decimal("5.00"), "paid_at": at(day, 9)}
    run = reconcile_day(channel=CHANNEL, day=day)
    assert _rows(run) == [(MismatchKind.MISSING_HERE, False, gift.out_trade_no, None, Decimal("5.00"), "", "succeeded")]


# --- midnight ---------------------------------------------------------------------------------------------


def test_a_payment_across_midnight_is_explained_on_both_days(provider, customer, store, menu, day):
    provider.report_paid_at = False  # our query learns it was paid, not when: we take our own time
    payment = captured(provider, customer, tea_order(customer, store, menu, 2),
                       when=at(day, 23, 59, 50), recorded=at(day + timedelta(days=1), 0, 0, 20))
    assert payment.succeeded_at == at(day + timedelta(days=1), 0, 0, 20)

    first = reconcile_day(channel=CHANNEL, day=day)
    [row] = first.mismatches.all()
    assert (row.kind, row.payment_id, row.amount_ours, row.amount_theirs) == (
        MismatchKind.MISSING_HERE, payment.pk, Decimal("10.00"), Decimal("10.00"))
    assert (day + timedelta(days=1)).isoformat() in row.explanation  # where ours is
    assert "23:59:50" in row.explanation and "00:00:20" in row.explanation
    assert first.status == ReconciliationStatus.MISMATCHES and unexplained_count(first) == 0

    second = reconcile_day(channel=CHANNEL, day=day + timedelta(days=1))
    [row] = second.mismatches.all()
    assert (row.kind, row.amount_ours, row.amount_theirs) == (MismatchKind.MISSING_THERE, Decimal("10.00"), None)
    assert day.isoformat() in row.explanation
    assert unexplained_count(second) == 0
    # The adjacent statement was fetched once, for the line that needed it.
    assert provider.statement_calls == [day, day + timedelta(days=1), day]


def test_a_refund_across_midnight_is_explained(provider, customer, store, menu, day):
    payment = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 20))
    refund = refunded(provider, payment, "5.00", when=at(day, 23, 58))
    provider.refunds[refund.out_refund_no]["at"] = at(day + timedelta(days=1), 0, 1)  # booked after midnight there
    run = reconcile_day(channel=CHANNEL, day=day)
    [row] = run.mismatches.all()
    assert (row.kind, row.is_refund, row.refund_attempt_id) == (MismatchKind.MISSING_THERE, True, refund.pk)
    assert row.explanation and (day + timedelta(days=1)).isoformat() in row.explanation
    nxt = reconcile_day(channel=CHANNEL, day=day + timedelta(days=1))
    [row] = nxt.mismatches.all()
    assert (row.kind, row.is_refund) == (MismatchKind.MISSING_HERE, True) and row.explanation


def test_a_day_apart_far_from_midnight_is_not_explained(provider, customer, store, menu, day):
    provider.report_paid_at = False
    payment = captured(provider, customer, tea_order(customer, store, menu, 2),
                       when=at(day, 23, 0), recorded=at(day + timedelta(days=1), 0, 45))
    run = reconcile_day(channel=CHANNEL, day=day)
    [row] = run.mismatches.all()
    assert (row.kind, row.payment_id, row.explanation) == (MismatchKind.MISSING_HERE, payment.pk, "")
    nxt = reconcile_day(channel=CHANNEL, day=day + timedelta(days=1))
    [row] = nxt.mismatches.all()
    assert (row.kind, row.explanation) == (MismatchKind.MISSING_THERE, "")
    assert unexplained_count(run) == unexplained_count(nxt) == 1


def test_ours_just_after_midnight_missing_everywhere_stays_unexplained(provider, customer, store, menu, day):
    payment = captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 0, 0, 10))
    provider.trades[payment.out_trade_no]["status"] = "closed"
    run = reconcile_day(channel=CHANNEL, day=day)
    [row] = run.mismatches.all()
    assert (row.kind, row.explanation) == (MismatchKind.MISSING_THERE, "")
    assert provider.statement_calls == [day, day - timedelta(days=1)]


# --- errors and refusals ------------------------------------------------------------------------------------


def test_a_statement_that_cannot_be_fetched_gives_an_error_run_and_nothing_else(provider, customer, store, menu,
                                                                                  day):
    captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 9))
    provider.down = True
    run = reconcile_day(channel=CHANNEL, day=day)
    assert (run.status, run.error) == (ReconciliationStatus.ERROR, "provider down")
    assert (run.matched, run.mismatch_count, run.captures_ours, run.captures_theirs) == (0, 0, 0, 0)
    assert not ReconciliationMismatch.objects.exists()
    [event] = _audits("reconciliation.failed")
    assert event.reason == "provider down" and event.data == {"channel": CHANNEL, "day": day.isoformat()}
    assert not _audits("reconciliation.completed")

    provider.down = False
    provider.statement_error = GatewayError("PARAM_ERROR", "bad date")
    run = reconcile_day(channel=CHANNEL, day=day)
    assert (run.status, run.error) == (ReconciliationStatus.ERROR, "PARAM_ERROR: bad date")


def test_refused_channel_and_day(provider, day):
    with pytest.raises(ReconciliationDayInvalid):
        reconcile_day(channel=CHANNEL, day=provider_today() + timedelta(days=1))
    with pytest.raises(ReconciliationNotAvailable):
        reconcile_day(channel="gift_card", day=day)
    assert not ReconciliationRun.objects.exists()
    assert provider.statement_calls == []


# --- re-runs and resolving -----------------------------------------------------------------------------------


def test_running_a_day_again_adds_a_run_and_keeps_resolutions(provider, customer, store, menu, day):
    provider.trades[STRANGER] = {"status": "succeeded", "amount": Decimal("88.00"), "paid_at": at(day, 13)}
    admin = UserFactory(phone="13900000009", is_staff=True, is_superuser=True)
    first = reconcile_day(channel=CHANNEL, day=day, actor=admin, ip="10.0.0.1")
    [mismatch] = first.mismatches.all()
    reconciliation_mismatch_resolve(actor=admin, mismatch_id=mismatch.pk, note="refunded by hand at the provider")

    second = reconcile_day(channel=CHANNEL, day=day)

    assert ReconciliationRun.objects.filter(channel=CHANNEL, day=day).count() == 2
    assert list(reconciliation_runs_latest().filter(channel=CHANNEL, day=day)) == [second]
    assert first.started_by == admin and second.started_by is None
    [again] = second.mismatches.all()
    assert again.pk != mismatch.pk
    assert (again.resolved, again.resolved_by, again.resolution_note) == (
        True, admin, "refunded by hand at the provider")
    assert [e.ip for e in _audits("reconciliation.completed")] == ["10.0.0.1", None]


def test_resolving_needs_a_note_and_works_once(provider, customer, store, menu, day, hq_manager, brand):
    payment = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 9))
    provider.trades[payment.out_trade_no]["amount"] = Decimal("9.00")
    run = reconcile_day(channel=CHANNEL, day=day)
    [mismatch] = run.mismatches.all()
    assert mismatch.brand_id == brand.pk

    for note in ("", "   ", "x" * 501):
        with pytest.raises(ResolutionNoteInvalid):
            reconciliation_mismatch_resolve(actor=hq_manager, mismatch_id=mismatch.pk, note=note)
    mismatch.refresh_from_db()
    assert not mismatch.resolved

    done = reconciliation_mismatch_resolve(actor=hq_manager, mismatch_id=mismatch.pk, note="  customer paid 9, ok ",
                                           ip="10.1.2.3")
    mismatch.refresh_from_db()
    assert (mismatch.resolved, mismatch.resolved_by, mismatch.resolution_note) == (True, hq_manager,
                                                                                   "customer paid 9, ok")
    assert mismatch.resolved_at is not None and done.pk == mismatch.pk
    [event] = _audits("reconciliation.mismatch_resolved")
    assert (event.brand_id, event.amount, event.reason, event.ip) == (brand.pk, Decimal("9.00"),
                                                                      "customer paid 9, ok", "10.1.2.3")
    assert event.data["reference"] == payment.out_trade_no and event.data["kind"] == "amount_differs"

    with pytest.raises(MismatchAlreadyResolved):
        reconciliation_mismatch_resolve(actor=hq_manager, mismatch_id=mismatch.pk, note="again")
    assert len(_audits("reconciliation.mismatch_resolved")) == 1


def test_only_the_brands_hq_or_a_superuser_may_resolve(provider, customer, store, menu, day, other_brand,
                                                       hq_manager, store_manager):
    payment = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 9))
    provider.trades[payment.out_trade_no]["status"] = "closed"
    provider.trades[STRANGER] = {"status": "succeeded", "amount": Decimal("1.00"), "paid_at": at(day, 13)}
    run = reconcile_day(channel=CHANNEL, day=day)
    ours = run.mismatches.get(reference=payment.out_trade_no)
    nobodys = run.mismatches.get(reference=STRANGER)
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000077")
    for actor, mismatch in ((rival_hq, ours), (store_manager, ours), (hq_manager, nobodys), (None, ours)):
        with pytest.raises(MismatchNotYours):
            reconciliation_mismatch_resolve(actor=actor, mismatch_id=mismatch.pk, note="mine")
    admin = UserFactory(phone="13900000009", is_staff=True, is_superuser=True)
    reconciliation_mismatch_resolve(actor=admin, mismatch_id=nobodys.pk, note="not ours: provider error")
    reconciliation_mismatch_resolve(actor=hq_manager, mismatch_id=ours.pk, note="asked the provider")
    assert run.mismatches.filter(resolved=True).count() == 2


# --- the tasks ----------------------------------------------------------------------------------------------


def test_the_daily_task_reconciles_yesterday_for_every_reconciled_channel(provider, customer, store, menu,
                                                                          monkeypatch):
    yesterday = provider_today() - timedelta(days=1)
    # The sandbox channels are reconciled too; here their statements are empty.
    for gateway in (wechat, alipay):
        monkeypatch.setattr(gateway, "statement", lambda day: Statement(day=day, captures=[], refunds=[]))
    captured(provider, customer, tea_order(customer, store, menu, 1), when=at(yesterday, 12))
    channels = reconciled_channels()
    assert {"wechat", "alipay", CHANNEL} <= set(channels) and "gift_card" not in channels
    assert not registry.get("gift_card").reconciled

    ids = reconcile_yesterday_task.delay().get()

    runs = ReconciliationRun.objects.filter(pk__in=ids)
    assert sorted(runs.values_list("channel", flat=True)) == sorted(channels)
    assert set(runs.values_list("day", flat=True)) == {yesterday}
    assert set(runs.values_list("status", flat=True)) == {ReconciliationStatus.MATCHED}
    assert runs.get(channel=CHANNEL).captures_ours == Decimal("5.00")
    # Run twice (a beat hiccup): the day is done already, nothing added.
    assert reconcile_yesterday_task.delay().get() == []
    assert ReconciliationRun.objects.count() == len(channels)


def test_the_daily_task_tries_again_a_channel_whose_statement_failed(provider, monkeypatch):
    for gateway in (wechat, alipay):
        monkeypatch.setattr(gateway, "statement", lambda day: Statement(day=day, captures=[], refunds=[]))
    provider.down = True
    first = reconcile_yesterday()
    assert {run.channel: run.status for run in first}[CHANNEL] == ReconciliationStatus.ERROR
    provider.down = False
    [again] = reconcile_yesterday()
    assert (again.channel, again.status) == (CHANNEL, ReconciliationStatus.MATCHED)


def test_the_day_task_reconciles_the_given_day_each_time(provider, day):
    first = reconcile_day_task.delay(CHANNEL, day.isoformat()).get()
    second = reconcile_day_task.delay(CHANNEL, day.isoformat()).get()
    assert first != second
    assert list(ReconciliationRun.objects.order_by("pk").values_list("day", "status")) == [
        (day, ReconciliationStatus.MATCHED), (day, ReconciliationStatus.MATCHED)]


def test_a_second_brand_gets_its_own_rows(provider, customer, store, menu, day, other_brand):
    rival_store = StoreFactory(brand=other_brand, code="RV001")
    rival_menu = Menu(rival_store)
    ours = captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 9))
    theirs = captured(provider, customer, tea_order(customer, rival_store, rival_menu, 1), when=at(day, 10))
    for payment in (ours, theirs):
        provider.trades[payment.out_trade_no]["amount"] = Decimal("4.00")
    run = reconcile_day(channel=CHANNEL, day=day)
    assert sorted(run.mismatches.values_list("brand_id", flat=True)) == sorted([store.brand_id, other_brand.pk])
