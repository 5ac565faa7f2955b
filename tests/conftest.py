import pytest
from django.utils import translation
from rest_framework.test import APIClient

from accounts import sms
from accounts.models import Role
from tests.accounts.factories import StaffFactory, UserFactory
from tests.stores.factories import BrandFactory, StaffAssignmentFactory, StoreFactory


@pytest.fixture(autouse=True)
def _clean_sms_outbox():
    sms.outbox.clear()
    yield
    sms.outbox.clear()


@pytest.fixture
def english():
    """Run a test in English, for assertions on the wording of a message (Chinese is the default)."""
    with translation.override("en"):
        yield


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def brand(db):
    return BrandFactory(code="acme", name="阿可美")


@pytest.fixture
def other_brand(db):
    return BrandFactory(code="rival", name="对手")


@pytest.fixture
def store(brand):
    return StoreFactory(brand=brand, code="SH001")


@pytest.fixture
def customer(db):
    return UserFactory(phone="13800000001", name="顾客")


@pytest.fixture
def hq_manager(brand):
    user = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    StaffAssignmentFactory(user=user, brand=brand)
    return user


@pytest.fixture
def store_manager(store):
    user = StaffFactory(phone="13700000002", role=Role.STORE_MANAGER)
    StaffAssignmentFactory(user=user, brand=store.brand, stores=[store])
    return user


@pytest.fixture
def menu(store):
    """A small menu at SH001 (tests/ordering/factories.py: noodles, dumplings, tea, soup; table A1)."""
    from tests.ordering.factories import Menu

    return Menu(store)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Browser tests run last. They are transactional (the live server sees only committed rows),
    so each one empties every table afterwards, the vocabulary the migrations load included;
    pytest-django runs transactional tests after the others, but pytest-playwright's
    session-scoped browser parameter makes pytest regroup them among the others."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
