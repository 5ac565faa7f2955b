"""Sending SMS. ``settings.SMS_BACKEND`` names the backend.

A real provider (Aliyun SMS, Tencent Cloud SMS, ...) is a subclass of ``SmsBackend`` whose
``send`` performs one HTTP call and raises ``SmsSendError`` when the provider refuses; it
must never run inside a database transaction (services dispatch ``sms_send_task`` on commit).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsSendError(Exception):
    """The provider refused or could not be reached; the task retries."""


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    text: str
    sent_at: datetime = field(default_factory=timezone.now)


class SmsBackend:
    def send(self, phone: str, text: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    """Development: write the message to the log (the `make run` console)."""

    def send(self, phone: str, text: str) -> None:
        logger.warning("[SMS to %s] %s", phone, text)


# The in-memory outbox of LocmemSmsBackend, read by tests (cleared per test by conftest).
outbox: list[SmsMessage] = []


class LocmemSmsBackend(SmsBackend):
    """Tests: keep messages in ``accounts.sms.outbox``."""

    def send(self, phone: str, text: str) -> None:
        outbox.append(SmsMessage(phone=phone, text=text))


def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str) -> None:
    get_sms_backend().send(phone, text)
