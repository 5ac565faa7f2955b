import pytest

from accounts import sms
from accounts.sms import SmsSendError
from accounts.tasks import sms_send_task


class FlakySmsBackend(sms.SmsBackend):
    """Refuses the first ``failures`` sends, then delivers to the in-memory outbox."""

    calls = 0
    failures = 2

    def send(self, phone: str, text: str) -> None:
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise SmsSendError("provider busy")
        sms.outbox.append(sms.SmsMessage(phone=phone, text=text))


@pytest.fixture
def flaky_backend(settings, monkeypatch):
    monkeypatch.setitem(sms_send_task.app.conf, "task_eager_propagates", False)
    settings.SMS_BACKEND = "tests.accounts.test_tasks.FlakySmsBackend"
    FlakySmsBackend.calls = 0
    FlakySmsBackend.failures = 2
    return FlakySmsBackend


def test_sms_send_task_delivers_to_the_configured_backend():
    sms_send_task.delay(phone="13800000001", text="hello")
    assert [(m.phone, m.text) for m in sms.outbox] == [("13800000001", "hello")]


# Eager Celery re-raises ``Retry`` when exceptions propagate (the test settings); without
# propagation ``apply`` runs the retries in-process, as a worker would (minus the back-off waits).


def test_sms_send_task_retries_provider_errors(flaky_backend):
    result = sms_send_task.apply(kwargs={"phone": "13800000001", "text": "code 123456"})
    assert result.successful()
    assert flaky_backend.calls == 3
    assert [m.text for m in sms.outbox] == ["code 123456"]


def test_sms_send_task_gives_up_after_its_retries(flaky_backend):
    flaky_backend.failures = 100
    result = sms_send_task.apply(kwargs={"phone": "13800000001", "text": "code 123456"})
    assert result.failed()
    assert isinstance(result.result, SmsSendError)
    assert flaky_backend.calls == 1 + sms_send_task.max_retries
    assert sms.outbox == []


def test_console_backend_logs_the_message(settings, caplog):
    settings.SMS_BACKEND = "accounts.sms.ConsoleSmsBackend"
    sms.send_sms("13800000001", "your code")
    assert "13800000001" in caplog.text
    assert "your code" in caplog.text
    assert sms.outbox == []
