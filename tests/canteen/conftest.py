import pytest

from tests.canteen.factories import canteen_staff_of, member_of, organisation_for


@pytest.fixture
def canteen_staff(store):
    return canteen_staff_of(store)


@pytest.fixture
def organisation(store, canteen_staff):
    return organisation_for(store, staff=[canteen_staff])


@pytest.fixture
def member(organisation, customer):
    return member_of(organisation, user=customer)
