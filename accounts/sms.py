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
    """The interface a provider implements. ``settings.SMS_BACKEND`` names the subclass.

    ``send(phone, text)`` delivers one message to an 11-digit mainland number and returns
    nothing. It is called from ``accounts.tasks.sms_send_task`` (never inside a transaction),
    which retries with back-off when ``SmsSendError`` is raised; raise it for anything worth
    retrying (timeouts, 5xx, provider throttling). Any other exception fails the task without
    retry. A real provider reads its credentials from settings in ``__init__``, e.g.::

        class AliyunSmsBackend(SmsBackend):
            def __init__(self):
                self.key, self.secret = settings.ALIYUN_SMS_KEY, settings.ALIYUN_SMS_SECRET

            def send(self, phone, text):
                try:
                    response = requests.post(URL, data=sign(...), timeout=5)
                except requests.RequestException as exc:
                    raise SmsSendError(str(exc)) from exc
                if response.status_code != 200 or response.json().get("Code") != "OK":
                    raise SmsSendError(response.text[:200])
    """

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
