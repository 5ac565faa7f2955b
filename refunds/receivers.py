"""Following the payments app: when a refund attempt that belongs to a request finishes
(succeeded or failed, sent after its transaction committed), bring the request up to date."""

from django.dispatch import receiver

from payments.models import RefundAttempt
from payments.services import refund_attempt_finished

from .models import RefundAllocation


@receiver(refund_attempt_finished, sender=RefundAttempt, dispatch_uid="refunds.follow_attempts")
def follow_refund_attempt(sender, attempt, succeeded, **kwargs):
    from .tasks import refund_sync_task

    refund_id = RefundAllocation.objects.filter(attempt_id=attempt.pk).values_list("refund_id", flat=True).first()
    if refund_id is not None:  # automatic refunds (second payments) belong to no request
        refund_sync_task.delay(refund_id=str(refund_id))
