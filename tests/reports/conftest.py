"""A small fixed data set for the dashboard tests; every figure in the tests is computed by hand from it.

Brand "acme": stores SH001, SH002 (the store manager's) and SH003; dishes noodles 18.00 and
dumplings 12.50 (category Noodles), tea 6.00 (category Drinks). Days: Monday 2026-03-02 (D1) and
Tuesday 2026-03-03 (D2); the reports range is D1..D2. Orders (A, B, C, D are customers):

  SH001 D1 10:05 completed A  noodles×2 + tea×1   42.00
  SH001 D1 12:10 completed B  dumplings×1          12.50
  SH001 D1 12:20 refunded  A  noodles×1            18.00
  SH001 D1 12:30 cancelled C  tea×3                18.00   (never paid)
  SH001 D1 12:40 pending   C  tea×1                 6.00   (not paid yet)
  SH001 D2 18:00 paid      A  dumplings×2          25.00
  SH001 D2 18:30 ready     —  tea×2                12.00   (kiosk: no customer)
  SH002 D1 12:50 completed B  noodles×1 + dumplings×1  30.50
  SH002 D2 07:30 preparing D  tea×1                 6.00   (23:30 UTC on Monday)
  SH003 D2 12:00 completed A  noodles×5            90.00
  SH001 D0 (Sunday 03-01) 12:00 completed A  noodles×1 18.00   (outside the range)
  RV001 (another brand) D1 12:00 completed A  its dish×1 100.00 (never visible to acme)
"""

from datetime import date

import pytest
from django.test import Client

from accounts.models import Role
from ordering.models import OrderStatus as S
from reports.services import rollups_refresh
from tests.accounts.factories import UserFactory
from tests.stores.factories import DishFactory, MenuCategoryFactory, StoreFactory, make_staff

from .factories import finished_order

D0, D1, D2 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)
RANGE = {"start": "2026-03-02", "end": "2026-03-03"}


class World:
    pass


@pytest.fixture
def world(brand, store, other_brand):
    w = World()
    w.brand, w.sh001 = brand, store
    w.sh002 = StoreFactory(brand=brand, code="SH002", name="二店", city="上海")
    w.sh003 = StoreFactory(brand=brand, code="SH003", name="三店", city="北京")
    noodles_cat = MenuCategoryFactory(brand=brand, code="noodle-cat", name_zh="面食", name_en="Noodles")
    drinks_cat = MenuCategoryFactory(brand=brand, code="drinks", name_zh="饮品", name_en="Drinks")
    w.noodles = DishFactory(brand=brand, category=noodles_cat, code="noodles", name_zh="牛肉面",
                            name_en="Beef noodles", price="18.00")
    w.dumplings = DishFactory(brand=brand, category=noodles_cat, code="dumplings", name_zh="水饺",
                              name_en="Dumplings", price="12.50")
    w.tea = DishFactory(brand=brand, category=drinks_cat, code="tea", name_zh="茶", name_en="Tea", price="6.00")
    for dish in (w.noodles, w.dumplings, w.tea):
        dish.refresh_from_db()  # prices as Decimals
    a, b, c, d = (UserFactory(phone=f"1380000100{i}") for i in range(4))
    w.customers = (a, b, c, d)
    n, dp, t = w.noodles, w.dumplings, w.tea
    order = finished_order
    order(w.sh001, day=D1, at="10:05", status=S.COMPLETED, customer=a, lines=[(n, 2), (t, 1)])
    order(w.sh001, day=D1, at="12:10", status=S.COMPLETED, customer=b, lines=[(dp, 1)])
    order(w.sh001, day=D1, at="12:20", status=S.REFUNDED, customer=a, lines=[(n, 1)])
    order(w.sh001, day=D1, at="12:30", status=S.CANCELLED, customer=c, lines=[(t, 3)])
    order(w.sh001, day=D1, at="12:40", status=S.PENDING_PAYMENT, customer=c, lines=[(t, 1)])
    order(w.sh001, day=D2, at="18:00", status=S.PAID, customer=a, lines=[(dp, 2)])
    order(w.sh001, day=D2, at="18:30", status=S.READY, customer=None, lines=[(t, 2)])
    order(w.sh002, day=D1, at="12:50", status=S.COMPLETED, customer=b, lines=[(n, 1), (dp, 1)])
    order(w.sh002, day=D2, at="07:30", status=S.PREPARING, customer=d, lines=[(t, 1)])
    order(w.sh003, day=D2, at="12:00", status=S.COMPLETED, customer=a, lines=[(n, 5)])
    order(w.sh001, day=D0, at="12:00", status=S.COMPLETED, customer=a, lines=[(n, 1)])
    w.rival = StoreFactory(brand=other_brand, code="RV001", name="对手店")
    rival_dish = DishFactory(brand=other_brand, code="rival-dish", price="100.00")
    rival_dish.refresh_from_db()
    order(w.rival, day=D1, at="12:00", status=S.COMPLETED, customer=a, lines=[(rival_dish, 1)])
    rollups_refresh(start=D0, end=D2)
    return w


@pytest.fixture
def hq_client(world, hq_manager):
    client = Client()
    client.force_login(hq_manager)
    return client


@pytest.fixture
def sm_user(world):
    return make_staff(role=Role.STORE_MANAGER, brand=world.brand, stores=[world.sh001, world.sh002],
                      phone="13700000012")


@pytest.fixture
def sm_client(sm_user):
    client = Client()
    client.force_login(sm_user)
    return client
