"""Daily reconciliation (自动对账): a provider's statement against our payments and refunds.

``reconcile_day`` fetches the provider's statement of one day (Asia/Shanghai, the provider's
calendar) outside any transaction, compares it with what we recorded that day and stores one
``ReconciliationRun`` with a ``ReconciliationMismatch`` row per line that does not agree:

- ours: payments of the channel that succeeded that day (status succeeded, or refunded since),
  and refunds to the channel that succeeded that day;
- theirs: the statement's captures and refunds (the provider lists successes only);
- ``missing_here``: the provider captured/refunded it and we have no such payment/refund, or ours
  succeeded on another day; ``status_differs``: we have the row in another status (unknown,
  pending, failed, processing...); ``missing_there``: ours succeeded, the provider does not list
  it; ``amount_differs``: both list it with different amounts (several statement lines with one
  reference are summed, so a duplicated line shows as a difference), including a payment we
  failed because the provider captured another amount (``amount_mismatch``, see
  ``payments.services.provider``): the provider still holds that money, and this row is where
  staff see it, refund it at the provider and resolve it.

A line booked on one side just before midnight and on the other just after (within
``MIDNIGHT_WINDOW``) appears in two adjacent days. It is still a row, with ``explanation``
filled in: for a provider line, when our row succeeded on the adjacent day with the same amount;
for one of ours, when the adjacent day's statement (fetched only then, also outside any
transaction) lists it with the same amount. Everything else is unexplained.

A run is ``matched`` only when it has no mismatch rows at all, ``mismatches`` otherwise (explained
ones included: they are shown, just not alarming); ``unexplained_count`` /
``UNEXPLAINED_COUNT`` give the figure that matters. A statement that cannot be fetched gives a run
with status ``error`` and the message, and nothing else. Re-running a day adds a new run (the
history is kept); a mismatch resolved in an earlier run of the same channel and day, found again
identical, is carried over resolved. Each run is audited (``reconciliation.completed`` or
``reconciliation.failed``, on the global chain: a statement covers every brand); each resolution
as ``reconciliation.mismatch_resolved`` on the mismatch's brand chain.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.api import DomainError
from stores.selectors import brand_ids_visible_to, user_manages_whole_brand

from ..gateways import GatewayError, GatewayUnavailable, Statement, StatementLine, registry
from ..models import (
    MismatchKind,
    Payment,
    PaymentStatus,
    ReconciliationMismatch,
    ReconciliationRun,
    ReconciliationStatus,
    RefundAttempt,
    RefundAttemptStatus,
)
from ._common import _user
from .provider import AMOUNT_MISMATCH

logger = logging.getLogger(__name__)

PROVIDER_TZ = ZoneInfo("Asia/Shanghai")  # the providers' calendar day (PROTOCOL.md)
MIDNIGHT_WINDOW = timedelta(minutes=30)
CAPTURED = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
NOTE_MAX_LENGTH = 500
SUCCEEDED = "succeeded"  # the provider's status of every line of its statement

UNEXPLAINED = Q(explanation="")
UNEXPLAINED_COUNT = Count("mismatches", filter=Q(mismatches__explanation=""))
"""``ReconciliationRun.objects.annotate(unexplained=UNEXPLAINED_COUNT)``."""


class ReconciliationNotAvailable(DomainError):
    code = "reconciliation_not_available"
    status_code = 400


class ReconciliationDayInvalid(DomainError):
    code = "invalid_day"
    status_code = 400


class ResolutionNoteInvalid(DomainError):
    code = "invalid_note"
    status_code = 400


class MismatchNotFound(DomainError):
    code = "not_found"
    status_code = 404


class MismatchNotYours(DomainError):
    code = "forbidden"
    status_code = 403


class MismatchAlreadyResolved(DomainError):
    code = "already_resolved"
    status_code = 409


# --- days ----------------------------------------------------------------------------------------


def provider_today(now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), PROVIDER_TZ).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The provider day ``day`` as [start, end) aware datetimes."""
    start = datetime.combine(day, time.min, tzinfo=PROVIDER_TZ)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=PROVIDER_TZ)


def _local(at: datetime) -> datetime:
    return timezone.localtime(at, PROVIDER_TZ)


def _clock(at: datetime | None) -> str:
    return _local(at).strftime("%Y-%m-%d %H:%M:%S") if at is not None else "?"


def reconciled_channels() -> list[str]:
    """Channels whose provider publishes a daily statement (``Gateway.reconciled``)."""
    return [channel for channel in registry.channels() if registry.get(channel).reconciled]


def unexplained_count(run: ReconciliationRun) -> int:
    return run.mismatches.filter(UNEXPLAINED).count()


def reconciliation_runs_latest(qs: QuerySet | None = None) -> QuerySet:
    """Runs that are the newest of their channel and day (the summary; older ones are history)."""
    qs = qs if qs is not None else ReconciliationRun.objects.all()
    newer = ReconciliationRun.objects.filter(channel=OuterRef("channel"), day=OuterRef("day")).filter(
        Q(started_at__gt=OuterRef("started_at")) | Q(started_at=OuterRef("started_at"), pk__gt=OuterRef("pk"))
    )
    return qs.filter(~Exists(newer))


# --- comparing ---------------------------------------------------------------------------------


@dataclass
class _Finding:
    kind: str
    is_refund: bool
    reference: str
    payment: Payment | None = None
    refund_attempt: RefundAttempt | None = None
    brand_id: int | None = None
    amount_ours: Decimal | None = None
    amount_theirs: Decimal | None = None
    status_ours: str = ""
    status_theirs: str = ""
    explanation: str = ""
    ours_at: datetime | None = None  # missing_there: when we recorded it (adjacent-day check)

    def key(self) -> tuple:
        return (self.kind, self.is_refund, self.reference, self.amount_ours, self.amount_theirs, self.status_ours,
                self.status_theirs)

    def row(self, run: ReconciliationRun) -> ReconciliationMismatch:
        return ReconciliationMismatch(
            run=run, brand_id=self.brand_id, kind=self.kind, is_refund=self.is_refund, reference=self.reference[:64],
            payment=self.payment, refund_attempt=self.refund_attempt, amount_ours=self.amount_ours,
            amount_theirs=self.amount_theirs, status_ours=self.status_ours, status_theirs=self.status_theirs,
            explanation=self.explanation[:255],
        )


@dataclass
class _Comparison:
    captures_ours: Decimal
    captures_theirs: Decimal
    refunds_ours: Decimal
    refunds_theirs: Decimal
    matched: int
    findings: list[_Finding]


def _by_reference(lines: list[StatementLine]) -> dict[str, tuple[Decimal, StatementLine]]:
    """Statement lines by reference; several lines with one reference are summed."""
    found: dict[str, tuple[Decimal, StatementLine]] = {}
    for line in lines:
        amount, first = found.get(line.reference, (Decimal("0.00"), line))
        found[line.reference] = (amount + line.amount, first)
    return found


def _payment_ids(references) -> list[uuid.UUID]:
    ids = []
    for reference in references:
        try:
            ids.append(uuid.UUID(hex=reference))
        except (ValueError, TypeError, AttributeError):
            continue  # not one of our numbers
    return ids


def _near_midnight(at: datetime | None, midnight: datetime) -> bool:
    return at is not None and abs(at - midnight) <= MIDNIGHT_WINDOW


def _boundary_explanation(*, day: date, ours_at: datetime, theirs_at: datetime | None) -> str:
    """A provider line of ``day`` whose counterpart we recorded on the adjacent day: explained
    when both times lie within ``MIDNIGHT_WINDOW`` of the midnight between the two days."""
    our_day = _local(ours_at).date()
    if abs((our_day - day).days) != 1:
        return ""
    midnight = day_bounds(max(day, our_day))[0]
    if not _near_midnight(ours_at, midnight):
        return ""
    if theirs_at is not None and not (_local(theirs_at).date() == day and _near_midnight(theirs_at, midnight)):
        return ""
    return _("Midnight boundary: the provider booked it at %(theirs)s, we recorded it at %(ours)s; "
             "it is in the reconciliation of %(other)s.") % {
        "theirs": _clock(theirs_at), "ours": _clock(ours_at), "other": our_day.isoformat()}


def _captured_for_another_amount(payment: Payment, amount: Decimal) -> bool:
    """A payment we failed because the provider captured another amount (``provider.AMOUNT_MISMATCH``):
    the provider kept that money, so the line is an ``amount_differs`` to act on (refund it at the
    provider), never explained automatically."""
    return (payment.status == PaymentStatus.FAILED and payment.failure_code == AMOUNT_MISMATCH
            and payment.amount != amount)


def _compare_captures(channel: str, day: date, lines: list[StatementLine]) -> tuple[Decimal, Decimal, int, list]:
    start, end = day_bounds(day)
    ours = {
        p.out_trade_no: p
        for p in Payment.objects.filter(channel=channel, status__in=CAPTURED, succeeded_at__gte=start,
                                        succeeded_at__lt=end)
    }
    theirs = _by_reference(lines)
    elsewhere = {
        p.out_trade_no: p
        for p in Payment.objects.filter(channel=channel, pk__in=_payment_ids(set(theirs) - set(ours)))
    }
    findings, matched = [], 0
    for reference, (amount, line) in theirs.items():
        payment = ours.get(reference) or elsewhere.get(reference)
        common = {"is_refund": False, "reference": reference, "amount_theirs": amount, "status_theirs": SUCCEEDED}
        if payment is None:
            findings.append(_Finding(kind=MismatchKind.MISSING_HERE, **common))
            continue
        common.update(payment=payment, brand_id=payment.brand_id, amount_ours=payment.amount,
                      status_ours=payment.status)
        if payment.status not in CAPTURED and not _captured_for_another_amount(payment, amount):
            findings.append(_Finding(kind=MismatchKind.STATUS_DIFFERS, **common))
        elif payment.amount != amount:
            findings.append(_Finding(kind=MismatchKind.AMOUNT_DIFFERS, **common))
        elif reference in ours:
            matched += 1
        else:  # ours succeeded on another day
            findings.append(_Finding(kind=MismatchKind.MISSING_HERE, explanation=_boundary_explanation(
                day=day, ours_at=payment.succeeded_at, theirs_at=line.at), **common))
    for reference, payment in ours.items():
        if reference not in theirs:
            findings.append(_Finding(
                kind=MismatchKind.MISSING_THERE, is_refund=False, reference=reference, payment=payment,
                brand_id=payment.brand_id, amount_ours=payment.amount, status_ours=payment.status,
                ours_at=payment.succeeded_at,
            ))
    total_ours = sum((p.amount for p in ours.values()), Decimal("0.00"))
    total_theirs = sum((line.amount for line in lines), Decimal("0.00"))
    return total_ours, total_theirs, matched, findings


def _compare_refunds(channel: str, day: date, lines: list[StatementLine]) -> tuple[Decimal, Decimal, int, list]:
    start, end = day_bounds(day)
    attempts = RefundAttempt.objects.select_related("payment").filter(payment__channel=channel)
    ours = {
        r.out_refund_no: r
        for r in attempts.filter(status=RefundAttemptStatus.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end)
    }
    theirs = _by_reference(lines)
    elsewhere = {r.out_refund_no: r for r in attempts.filter(out_refund_no__in=set(theirs) - set(ours))}
    unknown = [line.out_trade_no for ref, (_amount, line) in theirs.items() if ref not in ours and ref not in elsewhere]
    refunded = {p.out_trade_no: p for p in Payment.objects.filter(channel=channel, pk__in=_payment_ids(unknown))}
    findings, matched = [], 0
    for reference, (amount, line) in theirs.items():
        attempt = ours.get(reference) or elsewhere.get(reference)
        common = {"is_refund": True, "reference": reference, "amount_theirs": amount, "status_theirs": SUCCEEDED}
        if attempt is None:
            payment = refunded.get(line.out_trade_no)  # whose payment it was, when we know it
            findings.append(_Finding(kind=MismatchKind.MISSING_HERE, payment=payment,
                                     brand_id=payment.brand_id if payment else None, **common))
            continue
        common.update(payment=attempt.payment, refund_attempt=attempt, brand_id=attempt.brand_id,
                      amount_ours=attempt.amount, status_ours=attempt.status)
        if attempt.status != RefundAttemptStatus.SUCCEEDED:
            findings.append(_Finding(kind=MismatchKind.STATUS_DIFFERS, **common))
        elif attempt.amount != amount:
            findings.append(_Finding(kind=MismatchKind.AMOUNT_DIFFERS, **common))
        elif reference in ours:
            matched += 1
        else:
            findings.append(_Finding(kind=MismatchKind.MISSING_HERE, explanation=_boundary_explanation(
                day=day, ours_at=attempt.succeeded_at, theirs_at=line.at), **common))
    for reference, attempt in ours.items():
        if reference not in theirs:
            findings.append(_Finding(
                kind=MismatchKind.MISSING_THERE, is_refund=True, reference=reference, payment=attempt.payment,
                refund_attempt=attempt, brand_id=attempt.brand_id, amount_ours=attempt.amount,
                status_ours=attempt.status, ours_at=attempt.succeeded_at,
            ))
    total_ours = sum((r.amount for r in ours.values()), Decimal("0.00"))
    total_theirs = sum((line.amount for line in lines), Decimal("0.00"))
    return total_ours, total_theirs, matched, findings


def _explain_missing_there(findings: list[_Finding], *, gateway, day: date, today: date) -> None:
    """Ours recorded within ``MIDNIGHT_WINDOW`` of one of the day's edges and absent from its
    statement: explained when the adjacent day's statement lists it with the same amount. Fetched
    at most once per adjacent day, only when needed, outside any transaction."""
    start, end = day_bounds(day)
    statements: dict[date, Statement | None] = {}
    for finding in findings:
        if finding.kind != MismatchKind.MISSING_THERE or finding.ours_at is None:
            continue
        if finding.ours_at - start <= MIDNIGHT_WINDOW:
            other, midnight = day - timedelta(days=1), start
        elif end - finding.ours_at <= MIDNIGHT_WINDOW:
            other, midnight = day + timedelta(days=1), end
        else:
            continue
        if other > today:
            continue
        if other not in statements:
            try:
                statements[other] = gateway.statement(other)
            except (GatewayUnavailable, GatewayError) as exc:
                logger.warning("reconciliation %s %s: adjacent statement %s not fetched: %s",
                               gateway.channel, day, other, exc)
                statements[other] = None
        statement = statements[other]
        if statement is None:
            continue
        lines = _by_reference(statement.refunds if finding.is_refund else statement.captures)
        amount, line = lines.get(finding.reference, (None, None))
        if amount != finding.amount_ours or (line.at is not None and not _near_midnight(line.at, midnight)):
            continue
        finding.explanation = _(
            "Midnight boundary: we recorded it at %(ours)s, the provider booked it at %(theirs)s; "
            "it is in the provider's statement of %(other)s.") % {
            "ours": _clock(finding.ours_at), "theirs": _clock(line.at), "other": other.isoformat()}


def _compare(channel: str, day: date, statement: Statement) -> _Comparison:
    c_ours, c_theirs, c_matched, c_findings = _compare_captures(channel, day, statement.captures)
    r_ours, r_theirs, r_matched, r_findings = _compare_refunds(channel, day, statement.refunds)
    return _Comparison(captures_ours=c_ours, captures_theirs=c_theirs, refunds_ours=r_ours, refunds_theirs=r_theirs,
                       matched=c_matched + r_matched, findings=c_findings + r_findings)


def _carry_resolutions(findings: list[_Finding], *, channel: str, day: date) -> dict[tuple, ReconciliationMismatch]:
    """Resolved mismatches of earlier runs of this channel and day, by what they said."""
    earlier = ReconciliationMismatch.objects.filter(run__channel=channel, run__day=day, resolved=True).order_by(
        "resolved_at", "pk")
    wanted = {f.reference for f in findings}
    resolved: dict[tuple, ReconciliationMismatch] = {}
    for mismatch in earlier.filter(reference__in=wanted):
        resolved[(mismatch.kind, mismatch.is_refund, mismatch.reference, mismatch.amount_ours, mismatch.amount_theirs,
                  mismatch.status_ours, mismatch.status_theirs)] = mismatch
    return resolved


# --- services ------------------------------------------------------------------------------------


def _checked_channel(channel: str):
    gateway = registry.get(channel)  # UnknownChannel (400) for a name we do not know
    if not gateway.reconciled:
        raise ReconciliationNotAvailable(_("This payment channel has no provider statement to reconcile."))
    return gateway


def reconcile_day(*, channel: str, day: date, actor=None, ip=None, now=None) -> ReconciliationRun:
    """Compare the provider statement of ``day`` for ``channel`` with our records; a new run."""
    gateway = _checked_channel(channel)
    today = provider_today(now)
    if day > today:
        raise ReconciliationDayInvalid(_("A day in the future has no statement yet."))
    user = _user(actor)
    started_at = now or timezone.now()
    try:
        statement = gateway.statement(day)  # outside any transaction: a network call
        if statement.day != day:
            raise GatewayError("WRONG_DAY", f"statement of {statement.day} for {day}")
    except (GatewayUnavailable, GatewayError) as exc:
        message = str(exc)[:255] or type(exc).__name__
        with transaction.atomic():
            run = ReconciliationRun.objects.create(channel=channel, day=day, status=ReconciliationStatus.ERROR,
                                                   started_at=started_at, started_by=user, error=message)
            audit_record(action="reconciliation.failed", actor=user, obj=run, brand_id=None, ip=ip, reason=message,
                         data={"channel": channel, "day": day.isoformat()})
        return run

    comparison = _compare(channel, day, statement)
    _explain_missing_there(comparison.findings, gateway=gateway, day=day, today=today)
    findings = comparison.findings
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            channel=channel, day=day, started_at=started_at, started_by=user,
            status=ReconciliationStatus.MISMATCHES if findings else ReconciliationStatus.MATCHED,
            captures_ours=comparison.captures_ours, captures_theirs=comparison.captures_theirs,
            refunds_ours=comparison.refunds_ours, refunds_theirs=comparison.refunds_theirs,
            matched=comparison.matched, mismatch_count=len(findings),
        )
        earlier = _carry_resolutions(findings, channel=channel, day=day) if findings else {}
        rows = []
        for finding in findings:
            row = finding.row(run)
            previous = earlier.get(finding.key())
            if previous is not None:
                row.resolved, row.resolved_by_id = True, previous.resolved_by_id
                row.resolved_at, row.resolution_note = previous.resolved_at, previous.resolution_note
            rows.append(row)
        ReconciliationMismatch.objects.bulk_create(rows)
        unexplained = sum(1 for f in findings if not f.explanation)
        kinds = {kind: sum(1 for f in findings if f.kind == kind) for kind in MismatchKind.values}
        audit_record(
            action="reconciliation.completed", actor=user, obj=run, brand_id=None, ip=ip,
            data={"channel": channel, "day": day.isoformat(), "status": run.status, "matched": run.matched,
                  "mismatches": run.mismatch_count, "unexplained": unexplained, "kinds": kinds,
                  "captures_ours": run.captures_ours, "captures_theirs": run.captures_theirs,
                  "refunds_ours": run.refunds_ours, "refunds_theirs": run.refunds_theirs},
        )
    return run


def reconcile_yesterday(*, now=None) -> list[ReconciliationRun]:
    """Every reconciled channel for yesterday (Asia/Shanghai). Safe to run twice: a channel that
    already has a run of that day that did not fail is skipped (re-run a day from the admin)."""
    day = provider_today(now) - timedelta(days=1)
    done = set(
        ReconciliationRun.objects.filter(day=day).exclude(status=ReconciliationStatus.ERROR)
        .values_list("channel", flat=True)
    )
    return [reconcile_day(channel=channel, day=day, now=now) for channel in reconciled_channels()
            if channel not in done]


def may_review_mismatch(user, brand_id: int | None) -> bool:
    """Superusers: every mismatch; HQ managers: their brand's. Provider lines we cannot attribute
    to a brand (no brand) are for superusers only."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if brand_id is None:
        return brand_ids_visible_to(user) is None  # an active superuser
    return user_manages_whole_brand(user, brand_id)


def reconciliation_mismatch_resolve(*, actor, mismatch_id, note: str, ip=None) -> ReconciliationMismatch:
    """Mark a mismatch handled, with what was done (required, at most 500 characters). Once."""
    note = (note or "").strip()
    if not note:
        raise ResolutionNoteInvalid(_("Write down what was done about this mismatch."))
    if len(note) > NOTE_MAX_LENGTH:
        raise ResolutionNoteInvalid(_("The note can be at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH})
    user = _user(actor)
    with transaction.atomic():
        mismatch = ReconciliationMismatch.objects.select_for_update().filter(pk=mismatch_id).first()
        if mismatch is None:
            raise MismatchNotFound(_("This mismatch does not exist."))
        if not may_review_mismatch(user, mismatch.brand_id):
            raise MismatchNotYours(_("You may not resolve this mismatch."))
        if mismatch.resolved:
            raise MismatchAlreadyResolved(_("This mismatch has been resolved already."))
        mismatch.resolved, mismatch.resolved_by = True, user
        mismatch.resolved_at, mismatch.resolution_note = timezone.now(), note
        mismatch.save(update_fields=["resolved", "resolved_by", "resolved_at", "resolution_note"])
        run = mismatch.run
        audit_record(
            action="reconciliation.mismatch_resolved", actor=user, obj=mismatch, brand_id=mismatch.brand_id,
            amount=mismatch.amount_theirs if mismatch.amount_theirs is not None else mismatch.amount_ours,
            ip=ip, reason=note,
            data={"run": run.pk, "channel": run.channel, "day": run.day.isoformat(), "kind": mismatch.kind,
                  "refund": mismatch.is_refund, "reference": mismatch.reference,
                  "explained": bool(mismatch.explanation)},
        )
    return mismatch
