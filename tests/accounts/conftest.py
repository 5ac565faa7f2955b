import pytest
from django.core.cache import cache

from accounts import services, sms
from accounts.validators import normalize_phone
from tests.accounts.helpers import code_from_outbox


@pytest.fixture(autouse=True)
def _clear_cache():
    """DRF throttles count in the (locmem) cache: no test may see another's requests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def send_code(db, django_capture_on_commit_callbacks):
    """Request a login code through the service and return the 6 digits the SMS carried."""

    def _send(phone: str, **kwargs) -> str:
        before = len(sms.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            services.sms_code_request(phone=phone, **kwargs)
        assert len(sms.outbox) == before + 1
        return code_from_outbox(normalize_phone(phone))

    return _send
