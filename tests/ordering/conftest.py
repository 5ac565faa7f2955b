import pytest

from tests.ordering.factories import Menu


@pytest.fixture
def menu(store):
    return Menu(store)
