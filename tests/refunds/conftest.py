from datetime import timedelta

import pytest

from tests.payments.conftest import paysim  # noqa: F401  (the payment sandbox, in process)


@pytest.fixture(autouse=True)
def _codes_without_waiting(settings):
    """Refund tests ask for many codes in a row: no minute to wait between two, no daily cap."""
    settings.SMS_CODE_MIN_INTERVAL = timedelta(0)
    settings.SMS_CODE_DAILY_LIMIT = 1000
