"""Celery tasks of refunds: each takes ids, re-reads, calls one service and is safe to run twice."""

from celery import shared_task

from .services import refund_submit, refund_sync, refunds_escalate_overdue, refunds_sweep


@shared_task(name="refunds.tasks.refund_submit_task")
def refund_submit_task(refund_id: str) -> str:
    """After an approval commits: send the refund to its payment channels (once)."""
    return refund_submit(refund_id=refund_id).status


@shared_task(name="refunds.tasks.refund_sync_task")
def refund_sync_task(refund_id: str) -> str:
    """After one of the refund's attempts finished: succeeded, failed or still in progress."""
    return refund_sync(refund_id=refund_id).status


@shared_task(name="refunds.tasks.refund_notify_task")
def refund_notify_task(refund_id: str, kind: str) -> None:
    """After a step commits: the SMS to the customer (approved, rejected, succeeded, failed)."""
    from accounts.tasks import sms_send_task

    from .models import RefundRequest
    from .services._common import notify_text

    refund = RefundRequest.objects.select_related("order__store", "customer").get(pk=refund_id)
    sms_send_task.delay(phone=refund.customer.phone, text=notify_text(refund, kind))  # retried on its own


@shared_task(name="refunds.tasks.refunds_sweep_task")
def refunds_sweep_task() -> int:
    """Every minute (beat): approved requests whose task was lost, requests in progress."""
    return refunds_sweep()


@shared_task(name="refunds.tasks.refunds_escalate_overdue_task")
def refunds_escalate_overdue_task() -> int:
    """Every minute (beat): reviews past their deadline are flagged and HQ told."""
    return refunds_escalate_overdue()
