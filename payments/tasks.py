"""Celery tasks of payments: take ids, call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from .services.provider import payments_check_due
from .services.refunding import refund_attempt_execute, refund_attempts_check_due


@shared_task(name="payments.tasks.refund_attempt_execute_task")
def refund_attempt_execute_task(*, attempt_id: str) -> str:
    """After commit: send a refund to its channel (or ask about it again)."""
    return refund_attempt_execute(attempt_id=attempt_id).status


@shared_task(name="payments.tasks.refund_attempts_check_due_task")
def refund_attempts_check_due_task() -> int:
    """Every few seconds: refunds still processing whose next check is due."""
    return refund_attempts_check_due()


@shared_task(name="payments.tasks.payments_check_due_task")
def payments_check_due_task() -> int:
    """Every few seconds: ask providers about payments without a final answer whose check is due."""
    return payments_check_due()


@shared_task(name="payments.tasks.reconcile_yesterday_task")
def reconcile_yesterday_task() -> list[int]:
    """Daily (beat): reconcile yesterday's provider statements; channels done already are skipped."""
    from .services.reconciliation import reconcile_yesterday

    return [run.pk for run in reconcile_yesterday()]


@shared_task(name="payments.tasks.reconcile_day_task")
def reconcile_day_task(channel: str, day_iso: str) -> int:
    """Reconcile one channel and day (``YYYY-MM-DD``); each call adds a run. Returns its id."""
    from datetime import date

    from .services.reconciliation import reconcile_day

    return reconcile_day(channel=channel, day=date.fromisoformat(day_iso)).pk
