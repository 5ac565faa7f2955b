import pytest

from tests.ordering.factories import gift_card_for, submit


@pytest.fixture
def order(customer, store, menu):
    return submit(customer, store, menu)  # 45.00: noodles (hot) 20.00 + 2 dumplings at 12.50


@pytest.fixture
def card(customer, brand):
    return gift_card_for(customer, brand, "100.00")
