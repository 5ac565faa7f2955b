"""Celery tasks of accounts. SMS is sent here, after the code's transaction committed."""

from celery import shared_task

from .sms import SmsSendError, send_sms


@shared_task(
    autoretry_for=(SmsSendError,),
    retry_backoff=5,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=5,
)
def sms_send_task(phone: str, text: str) -> None:
    """Send one SMS through ``settings.SMS_BACKEND``; a provider refusal is retried with back-off.

    A code is useless after ``SMS_CODE_TTL`` (5 minutes), so retries stop well before that.
    """
    send_sms(phone, text)
