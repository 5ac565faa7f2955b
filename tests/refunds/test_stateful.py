"""Refunds as a state machine: random sequences of requests, reviews, withdrawals, executions,
sandbox failures and unanswered calls, retries, redirections and syncs over a few paid orders,
with the money invariants checked after every step.

Hypothesis runs the machine inside a Django ``TestCase`` (hypothesis.extra.django): the class's
data (brand, store, menu, people) is made once; every example runs in a savepoint of its own
that is rolled back at its end, so no row of one example is seen by the next (pytest's
``django_db`` fixtures would be set up once for all examples). The machine opens and rolls back
that savepoint itself, with the TestCase's own ``_enter_atomics`` / ``_rollback_atomics``:
Hypothesis calls a TestCase's ``setup_example`` for ``@given`` methods, not for state machines.
The payment sandbox is built the way the ``paysim`` fixture builds it (tests/payments/conftest.py),
once per example with a new SQLite file, so its own storage starts empty too.

A service refusing a step (a ``DomainError``: refunds/errors.py, and the ordering and payments
errors it passes on) is an allowed outcome, provided that it changed nothing.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from django.db.models import Sum
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from accounts import sms
from accounts.models import Role
from audit.models import AuditEvent
from config.api import DomainError
from ordering.models import Order, OrderLine, OrderStatus
from ordering.services import order_bump, order_redeem
from payments.gateways.paysim import PaysimGateway, to_fen
from payments.models import (
    GiftCard,
    GiftCardEntry,
    GiftCardEntryKind,
    Payment,
    PaymentStatus,
    RefundAttempt,
    RefundAttemptStatus,
    RefundDestination,
)
from payments.sandbox.conf import build_paysim
from payments.services import payment_create
from payments.services.refunding import refund_attempts_check_due
from refunds.models import (
    HOLDING,
    OrderRefundTally,
    RefundAllocation,
    RefundLine,
    RefundRequest,
    RefundStatus,
)
from refunds.services import (
    refund_approve,
    refund_change_destination,
    refund_policy_update,
    refund_reject,
    refund_retry,
    refund_sync,
    refund_withdraw,
    refunds_sweep,
)
from tests.accounts.factories import StaffFactory, UserFactory
from tests.ordering.factories import Menu
from tests.refunds.factories import ask, order_for, pay_by_card, run, send_code
from tests.stores.factories import BrandFactory, StaffAssignmentFactory, StoreFactory

# About 30 s on the 2-CPU development VM; REFUND_MACHINE_EXAMPLES=200 for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("REFUND_MACHINE_EXAMPLES", "15"))
STEPS = 30
SANDBOX_URL = "http://paysim.test"
KITCHEN = (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY)  # not yet collected nor refunded
IN_FLIGHT = (RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING)
# Requests whose money is paid out, on its way, or waiting to go: never more than was paid.
OUT_OR_GOING = (RefundStatus.APPROVED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED, RefundStatus.FAILED)
FAULTS = {
    "pays": {"refund_fail_rate": 0.0, "refund_processing_seconds": 0.0, "error_rate": 0.0},
    "account_closed": {"refund_fail_rate": 1.0, "refund_processing_seconds": 0.0, "error_rate": 0.0},
    "slow": {"refund_fail_rate": 0.0, "refund_processing_seconds": 60.0, "error_rate": 0.0},
    "slow_then_closed": {"refund_fail_rate": 1.0, "refund_processing_seconds": 60.0, "error_rate": 0.0},
}
# Later in a run the sandbox may also stop answering: half of its API calls (refunds, queries)
# get a 500, half of those after the call took effect there (the answer is lost, as on a
# timeout). The orders are paid before that, with the modes above.
LATER_FAULTS = {
    **FAULTS,
    "no_answer": {"refund_fail_rate": 0.0, "refund_processing_seconds": 0.0, "error_rate": 0.5},
}

order_specs = st.fixed_dictionaries({
    "channel": st.sampled_from(["wechat", "gift_card", "wechat"]),
    "noodles": st.integers(0, 5),  # 20.00 each (hot): orders up to 140.00, some above the 100.00 limit
    "dumplings": st.integers(0, 2),  # 12.50 each, stock 10 per example
    "tea": st.integers(0, 3),  # 5.00 each
    "stage": st.sampled_from(["paid", "paid", "preparing", "ready", "completed"]),
}).filter(lambda spec: spec["noodles"] + spec["dumplings"] + spec["tea"] > 0)


@dataclass(frozen=True)
class OrderRef:
    number: int
    pk: object

    def __repr__(self) -> str:
        return f"order{self.number}"


def _sum(queryset, field: str = "amount") -> Decimal:
    return queryset.aggregate(s=Sum(field))["s"] or Decimal("0.00")


class RefundMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, case: RefundStateMachineTest):
        super().__init__()
        self.case = case
        self.order_pks: list = []
        self.clock_offset = 0.0
        self.outcomes: dict[str, int] = {}
        # This example's savepoint, made and rolled back the way the TestCase makes its own (so
        # services still see no transaction of a caller's: e.g. a WeChat payment opens at once).
        self._atomics = case._enter_atomics()
        sms.outbox.clear()
        site = Client()

        def send(url, headers, body):  # the sandbox's notifications reach the site (as in the fixture)
            extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
                     if name.lower() != "content-type"}
            return site.post(urlsplit(url).path, body, content_type="application/json", **extra).status_code

        case.examples += 1
        self.sim = build_paysim(db_path=str(Path(case.tmp.name) / f"paysim-{case.examples}.sqlite3"),
                                public_base_url=SANDBOX_URL, sender=send, faults={"seed": 1},
                                clock=lambda: time.time() + self.clock_offset)
        PaysimGateway.transport = httpx.WSGITransport(app=self.sim.wsgi_app)

    def teardown(self):
        self._settle()
        for status in self._requests().values_list("status", flat=True):
            self.outcomes[f"ended {status}"] = self.outcomes.get(f"ended {status}", 0) + 1
        PaysimGateway.transport = None
        self.sim.close()
        self.case._rollback_atomics(self._atomics)
        for name, count in self.outcomes.items():
            self.case.outcomes[name] = self.case.outcomes.get(name, 0) + count

    # --- helpers ---

    def _settle(self) -> None:
        """The sandbox answers again and an hour passes: every refund it made is known here as
        succeeded, whatever answers were lost on the way (a timeout is never a failure)."""
        self.sim.configure(FAULTS["pays"])
        for _check in range(12):
            self.time_passes(5)
        with self.sim.store.read() as db:
            made = [row[0] for row in db.execute("SELECT out_refund_no FROM refunds WHERE status = 'SUCCESS'")]
        lagging = RefundAttempt.objects.filter(out_refund_no__in=made).exclude(status=RefundAttemptStatus.SUCCEEDED)
        assert not lagging.exists(), list(lagging.values_list("out_refund_no", "status"))
        assert not RefundAttempt.objects.filter(status__in=IN_FLIGHT, destination=RefundDestination.ORIGINAL,
                                                payment__channel="wechat").exists()

    def _snapshot(self) -> tuple:
        """Everything a refused step must leave as it was (the SMS codes aside: asking for one,
        and a right code being used up, happen before the request is checked under the lock)."""
        requests = RefundRequest.objects.filter(order_id__in=self.order_pks)
        with self.sim.store.read() as db:
            sandbox = [tuple(row) for row in db.execute(
                "SELECT out_refund_no, status, amount FROM refunds ORDER BY id").fetchall()]
        return (
            sorted((str(pk), status) for pk, status in requests.values_list("pk", "status")),
            RefundLine.objects.filter(refund__in=requests).count(),
            sorted(RefundAllocation.objects.filter(refund__in=requests).values_list("pk", flat=True)),
            sorted((str(pk), status) for pk, status in RefundAttempt.objects.values_list("pk", "status")),
            GiftCardEntry.objects.count(),
            AuditEvent.objects.count(),
            sorted(OrderRefundTally.objects.values_list("order_id", "paid", "committed")),
            sorted((str(pk), status) for pk, status in Order.objects.filter(pk__in=self.order_pks)
                   .values_list("pk", "status")),
            sandbox,
        )

    def attempt(self, name: str, call):
        """Run ``call``; a ``DomainError`` is fine when nothing changed. Returns its result or None."""
        before = self._snapshot()
        try:
            result = call()
        except DomainError as exc:
            after = self._snapshot()
            assert after == before, f"{name} was refused ({type(exc).__name__} {exc.code}) but changed state"
            key = f"{name}: {exc.code}"
            self.outcomes[key] = self.outcomes.get(key, 0) + 1
            return None
        self.outcomes[f"{name}: done"] = self.outcomes.get(f"{name}: done", 0) + 1
        return result

    def _order(self, ref: OrderRef) -> Order:
        return Order.objects.get(pk=ref.pk)

    # --- set-up ---

    @initialize(mode=st.sampled_from(sorted(FAULTS)))
    def sandbox_starts(self, mode):
        self.sim.configure(FAULTS[mode])

    @initialize(target=orders, specs=st.lists(order_specs, min_size=1, max_size=2))
    def make_orders(self, specs):
        case, refs = self.case, []
        for number, spec in enumerate(specs):
            order = order_for(case.customer, case.store, case.menu, noodles=spec["noodles"],
                              dumplings=spec["dumplings"], tea=spec["tea"])
            if spec["channel"] == "gift_card":
                pay_by_card(case.customer, order)
            else:  # through the sandbox: the payer confirms, its notification reaches the site
                payment = payment_create(actor=case.customer, order_id=order.pk, channel="wechat").payment
                self.sim.sim_pay(payment.out_trade_no)
                with TestCase.captureOnCommitCallbacks(execute=True):
                    self.sim.deliver_due()
            order.refresh_from_db()
            assert order.status == OrderStatus.PAID, order.status
            for stage in ("preparing", "ready", "completed"):
                if spec["stage"] == "paid":
                    break
                self._advance(order)
                if spec["stage"] == stage:
                    break
            self.order_pks.append(order.pk)
            refs.append(OrderRef(number=number, pk=order.pk))
        return multiple(*refs)

    def _advance(self, order: Order) -> None:
        order.refresh_from_db()
        staff = self.case.store_manager
        assert order.status in KITCHEN, order.status
        if order.status == OrderStatus.PAID:
            run(order_bump, actor=staff, order_id=order.pk, move="start")
        elif order.status == OrderStatus.PREPARING:
            run(order_bump, actor=staff, order_id=order.pk, move="ready")
        else:
            run(order_redeem, actor=staff, store=self.case.store, pickup_code=order.pickup_code)

    # --- rules ---

    def _in_the_kitchen(self) -> list:
        return list(Order.objects.filter(pk__in=self.order_pks, status__in=KITCHEN).order_by("created_at")
                    .values_list("pk", flat=True))

    @precondition(lambda self: self._in_the_kitchen())
    @rule(data=st.data())
    def kitchen_moves_on(self, data):
        """The kitchen starts or finishes an order, or the customer collects it."""
        waiting = self._in_the_kitchen()
        pk = waiting[data.draw(st.integers(0, len(waiting) - 1), label="order in the kitchen")]
        self.attempt("kitchen", lambda: self._advance(Order.objects.get(pk=pk)))

    @rule(order=orders, data=st.data())
    def request(self, order, data):
        """The customer asks for the whole order (one time in four) or some portions of it (maybe
        more than are left), of an order not refunded yet unless the draw says otherwise."""
        open_orders = list(Order.objects.filter(pk__in=self.order_pks).exclude(status=OrderStatus.REFUNDED)
                           .order_by("created_at").values_list("pk", flat=True))
        if open_orders and data.draw(st.integers(0, 3), label="any order") != 0:
            order = OrderRef(number=-1, pk=open_orders[data.draw(st.integers(0, len(open_orders) - 1),
                                                                 label="order not refunded")])
        row = self._order(order)
        lines = list(OrderLine.objects.filter(order=row).order_by("position"))
        asks = None
        if data.draw(st.integers(0, 3), label="0: the whole order") != 0:
            asks = []
            for line in lines:
                quantity = data.draw(st.integers(0, line.quantity), label=f"portions of line {line.position}")
                if quantity:
                    asks.append({"line": line.pk, "quantity": quantity})
            asks = asks or [{"line": lines[0].pk, "quantity": 1}]
        reason = "quality" if row.status == OrderStatus.COMPLETED else "changed_plans"
        execute = data.draw(st.booleans(), label="tasks run at once")

        def call():
            code = send_code(self.case.customer, row)
            return ask(self.case.customer, row, lines=asks, reason_code=reason, code=code, execute=execute)

        refund = self.attempt("request", call)
        if refund is not None:
            assert refund.status in (RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.PROCESSING,
                                 RefundStatus.SUCCEEDED, RefundStatus.FAILED), refund.status

    def _pick(self, data, status: str):
        """A request of this example: one in ``status`` when there is one (three times in four),
        else any (which may be refused: then nothing may change)."""
        requests = self._requests().order_by("created_at")
        wanted = list(requests.filter(status=status).values_list("pk", flat=True))
        if not wanted or data.draw(st.integers(0, 3), label=f"not necessarily {status}") == 0:
            wanted = list(requests.values_list("pk", flat=True))
        return wanted[data.draw(st.integers(0, len(wanted) - 1), label="request")]

    @precondition(lambda self: self._requests().exists())
    @rule(decision=st.sampled_from(["approve", "reject", "withdraw"]), data=st.data())
    def review(self, decision, data):
        """HQ approves, the store rejects, or the customer withdraws a request in review (or one
        that is not, which must be refused)."""
        case, refund = self.case, self._pick(data, RefundStatus.PENDING_REVIEW)
        if decision == "approve":
            self.attempt(decision, lambda: run(refund_approve, actor=case.hq_manager, refund_id=refund, note="ok"))
        elif decision == "reject":
            self.attempt(decision, lambda: run(refund_reject, actor=case.store_manager, refund_id=refund,
                                               note="已经吃过了"))
        else:
            self.attempt(decision, lambda: run(refund_withdraw, actor=case.customer, refund_id=refund))

    @rule(mode=st.sampled_from(sorted(LATER_FAULTS)))
    def sandbox_behaves(self, mode):
        """From now on the sandbox pays refunds at once, fails them ("account closed"), keeps them
        processing for a minute, keeps them processing and then fails them, or answers half of
        the calls with an error (a timeout is never a failure: the refund stays on its way)."""
        self.sim.configure(LATER_FAULTS[mode])
        self.outcomes[f"sandbox: {mode}"] = self.outcomes.get(f"sandbox: {mode}", 0) + 1

    @precondition(lambda self: self._requests().exists())
    @rule(how=st.sampled_from(["retry", "gift_card"]), data=st.data())
    def after_a_failure(self, how, data):
        """Staff send a failed refund again through its channel, or the customer takes gift card
        credit instead (a refund that did not fail must be refused)."""
        refund = self._pick(data, RefundStatus.FAILED)
        if how == "retry":
            self.attempt(how, lambda: run(refund_retry, actor=self.case.hq_manager, refund_id=refund))
        else:
            self.attempt(how, lambda: run(refund_change_destination, actor=self.case.customer, refund_id=refund,
                                          destination=RefundDestination.GIFT_CARD))

    @rule(minutes=st.sampled_from([0, 2, 10]))
    def time_passes(self, minutes):
        """0: every request is synced with its attempts as they are. Otherwise minutes pass: the
        sandbox settles what it held, its notifications go out, and the periodic tasks ask about
        unfinished refunds, send approved requests whose task was lost, and sync the rest."""
        if not minutes:
            for refund_id in self._requests().order_by("created_at").values_list("pk", flat=True):
                run(refund_sync, refund_id=refund_id)
            return
        self.clock_offset += minutes * 60
        later = timezone.now() + timedelta(seconds=self.clock_offset)
        with TestCase.captureOnCommitCallbacks(execute=True):
            self.sim.tick()
        run(refund_attempts_check_due, now=later)
        run(refunds_sweep, now=later)

    # --- invariants ---

    def _requests(self):
        return RefundRequest.objects.filter(order_id__in=self.order_pks)

    @invariant()
    def refunds_never_exceed_what_was_paid(self):
        for order in Order.objects.filter(pk__in=self.order_pks):
            paid = min(order.total, _sum(Payment.objects.filter(
                order=order, status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED))))
            requests = RefundRequest.objects.filter(order=order)
            holding = _sum(requests.filter(status__in=HOLDING))
            out_or_going = _sum(requests.filter(status__in=OUT_OR_GOING))
            assert out_or_going <= holding <= paid, (order.pk, out_or_going, holding, paid)
            tally = OrderRefundTally.objects.filter(order=order).first()
            if tally is None:  # written by the first request that holds money
                assert not requests.filter(status__in=HOLDING).exists()
            else:
                assert (tally.paid, tally.committed) == (paid, holding), (tally.paid, tally.committed, paid, holding)
            sent_back = _sum(RefundAttempt.objects.filter(payment__order=order, status=RefundAttemptStatus.SUCCEEDED))
            assert sent_back <= _sum(requests.filter(status__in=OUT_OR_GOING)) <= paid
            for payment in Payment.objects.filter(order=order):
                live = _sum(payment.refund_attempts.exclude(status=RefundAttemptStatus.FAILED))
                assert live <= payment.amount, (payment.pk, live, payment.amount)
            for line in OrderLine.objects.filter(order=order):
                held = RefundLine.objects.filter(order_line=line, refund__status__in=HOLDING).aggregate(
                    q=Sum("quantity"))["q"] or 0
                assert held <= line.quantity, (line.pk, held, line.quantity)

    @invariant()
    def the_sandbox_refunds_each_number_once(self):
        with self.sim.store.read() as db:
            rows = [dict(row) for row in db.execute(
                "SELECT mch_id, out_refund_no, out_trade_no, amount, status FROM refunds").fetchall()]
            trades = {row["out_trade_no"]: dict(row) for row in db.execute(
                "SELECT out_trade_no, amount, refunded FROM trades").fetchall()}
        numbers = [(row["mch_id"], row["out_refund_no"]) for row in rows]
        assert len(numbers) == len(set(numbers)), "an out_refund_no was refunded twice"
        attempts = {a.out_refund_no: a for a in RefundAttempt.objects.filter(
            out_refund_no__in=[row["out_refund_no"] for row in rows]).select_related("payment")}
        success: dict[str, int] = {}
        unanswered: dict[str, int] = {}  # refunded there, its answer lost: still on its way here
        for row in rows:
            attempt = attempts.get(row["out_refund_no"])
            assert attempt is not None, f"the sandbox refunded {row['out_refund_no']}, which we never sent"
            assert attempt.destination == RefundDestination.ORIGINAL and attempt.payment.channel == "wechat"
            assert row["amount"] == to_fen(attempt.amount) and row["out_trade_no"] == attempt.payment.out_trade_no
            if row["status"] == "SUCCESS":
                # Money went back there: we know it, or we are still asking (the answer was lost);
                # never "failed", which would pay it again elsewhere.
                assert attempt.status == RefundAttemptStatus.SUCCEEDED or attempt.status in IN_FLIGHT, (
                    attempt.out_refund_no, attempt.status)
                success[row["out_trade_no"]] = success.get(row["out_trade_no"], 0) + row["amount"]
                if attempt.status in IN_FLIGHT:
                    unanswered[row["out_trade_no"]] = unanswered.get(row["out_trade_no"], 0) + row["amount"]
            elif row["status"] == "ABNORMAL":
                assert attempt.status != RefundAttemptStatus.SUCCEEDED, attempt.out_refund_no
        for payment in Payment.objects.filter(order_id__in=self.order_pks, channel="wechat"):
            ours = _sum(payment.refund_attempts.filter(status=RefundAttemptStatus.SUCCEEDED,
                                                       destination=RefundDestination.ORIGINAL))
            theirs = success.get(payment.out_trade_no, 0)
            assert theirs == to_fen(ours) + unanswered.get(payment.out_trade_no, 0), (payment.pk, theirs, ours)
            trade = trades[payment.out_trade_no]
            assert trade["refunded"] == theirs <= trade["amount"], trade

    @invariant()
    def gift_card_ledgers_balance(self):
        for card in GiftCard.objects.all():
            running = Decimal("0.00")
            for entry in card.entries.order_by("created_at", "pk"):
                running += entry.amount
                assert running >= 0 and entry.balance_after == running, (card.pk, entry.pk, running)
            assert card.balance == running >= 0, (card.pk, card.balance, running)
        # What the wallets got back is what the succeeded wallet refunds say, payment by payment.
        for payment in Payment.objects.filter(order_id__in=self.order_pks):
            credited = _sum(GiftCardEntry.objects.filter(payment=payment, kind=GiftCardEntryKind.REFUND))
            succeeded = payment.refund_attempts.filter(status=RefundAttemptStatus.SUCCEEDED)
            if payment.channel == "gift_card":
                expected = _sum(succeeded)
            else:
                expected = _sum(succeeded.filter(destination=RefundDestination.GIFT_CARD))
            assert credited == expected, (payment.pk, credited, expected)

    @invariant()
    def every_status_agrees_with_its_allocations(self):
        for refund in self._requests().prefetch_related("lines"):
            lines = list(refund.lines.all())
            assert lines and refund.amount == sum((line.amount for line in lines), Decimal("0")) + refund.delivery_fee
            assert all(line.amount == line.unit_price * line.quantity for line in lines)
            allocations = list(RefundAllocation.objects.filter(refund=refund).select_related("attempt", "payment")
                               .order_by("created_at", "pk"))
            replaced = {a.replaces_id for a in allocations if a.replaces_id}
            live = [a for a in allocations if a.pk not in replaced]
            statuses = [a.attempt.status for a in live]
            numbers = sorted(a.attempt.out_refund_no for a in allocations)
            assert numbers == sorted(f"rr{refund.id.hex}{n:02d}" for n in range(1, len(allocations) + 1)), numbers
            for allocation in allocations:
                assert allocation.attempt.amount == allocation.amount
                assert allocation.attempt.payment_id == allocation.payment_id
                assert allocation.payment.order_id == refund.order_id
                if allocation.pk in replaced:
                    assert allocation.attempt.status == RefundAttemptStatus.FAILED
            returned = _sum(RefundAttempt.objects.filter(allocation__refund=refund,
                                                         status=RefundAttemptStatus.SUCCEEDED))
            assert returned <= refund.amount, (refund.pk, returned, refund.amount)
            status = refund.status
            assert status != RefundStatus.REQUESTED, "a request is decided when it is made"
            if status in (RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.REJECTED,
                          RefundStatus.WITHDRAWN):
                assert not allocations, (refund.pk, status)
                assert (status == RefundStatus.PENDING_REVIEW) == (refund.finished_at is None
                                                                  and refund.approved_at is None)
                if status == RefundStatus.REJECTED:
                    assert refund.reviewer_id == self.case.store_manager.pk and refund.review_note
                continue
            assert live and sum((a.amount for a in live), Decimal("0")) == refund.amount, (refund.pk, status)
            assert refund.approved_at is not None and refund.submitted_at is not None
            if status == RefundStatus.SUCCEEDED:
                assert all(s == RefundAttemptStatus.SUCCEEDED for s in statuses), statuses
                assert returned == refund.amount and refund.finished_at is not None
            elif status == RefundStatus.FAILED:
                assert RefundAttemptStatus.FAILED in statuses and not any(s in IN_FLIGHT for s in statuses)
                assert refund.failure_reason and refund.finished_at is not None
            else:  # processing: something is still on its way (a finished set is synced at once)
                assert any(s in IN_FLIGHT for s in statuses), (refund.pk, statuses)


@override_settings(SMS_CODE_MIN_INTERVAL=timedelta(0), SMS_CODE_DAILY_LIMIT=1000)
class RefundStateMachineTest(TestCase):
    @classmethod
    def setUpTestData(cls):
        brand = BrandFactory(code="acme", name="阿可美")
        cls.store = StoreFactory(brand=brand, code="SH001")
        cls.menu = Menu(cls.store)
        cls.customer = UserFactory(phone="13800000001", name="顾客")
        cls.hq_manager = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
        StaffAssignmentFactory(user=cls.hq_manager, brand=brand)
        cls.store_manager = StaffFactory(phone="13700000002", role=Role.STORE_MANAGER)
        StaffAssignmentFactory(user=cls.store_manager, brand=brand, stores=[cls.store])
        # The velocity rule (10 requests an hour freeze the account) is tested in test_risk.py;
        # here it would end most runs after ten requests.
        refund_policy_update(actor=cls.hq_manager, brand_id=brand.pk, changes={"velocity_max_per_hour": 1000})

    def setUp(self):
        from django.conf import settings as django_settings

        self.tmp = tempfile.TemporaryDirectory(prefix="refund-machine-")
        self.addCleanup(self.tmp.cleanup)
        self.examples = 0
        self.outcomes: dict[str, int] = {}
        gateways = {channel: {**conf, "base_url": SANDBOX_URL}
                    for channel, conf in django_settings.PAYMENT_GATEWAYS.items()}
        self.enterContext(override_settings(PAYMENT_GATEWAYS=gateways))
        self.addCleanup(setattr, PaysimGateway, "transport", None)

    def test_refunds_keep_their_promises(self):
        run_state_machine_as_test(
            lambda: RefundMachine(self),
            settings=settings(max_examples=MAX_EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
                              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]),
        )
        assert self.examples >= MAX_EXAMPLES
        # What the steps did, for ``pytest -s``: how often each service went through or refused.
        print(f"\n{self.examples} examples; outcomes:",
              ", ".join(f"{name} x{count}" for name, count in sorted(self.outcomes.items())))

