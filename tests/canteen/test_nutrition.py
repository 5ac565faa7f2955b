"""Nutrition from what members ate: the member page's 7 and 30 day figures equal sums worked out by
hand; the canteen staff's page per department; the HQ page's light-meal share per canteen store;
who may see the last two."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from canteen import nutrition
from ordering.models import OrderStatus
from ordering.services import LineRequest
from stores.models import Tag
from tests.accounts.factories import StaffFactory, UserFactory
from tests.canteen.factories import canteen_staff_of, member_of, organisation_for
from tests.ordering.factories import paid_order, submit
from tests.stores.factories import BrandFactory, StaffAssignmentFactory, StoreFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=SHANGHAI)


@pytest.fixture
def web():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def set_nutrition(dish, kcal, protein, fat, carbs):
    dish.kcal, dish.protein_g, dish.fat_g, dish.carbs_g = kcal, Decimal(protein), Decimal(fat), Decimal(carbs)
    dish.save()


def eaten(customer, store, menu, at, **quantities):
    """A paid order (gift card) placed at local time ``at``: ``noodles=1, dumplings=2, tea=3``."""
    lines = [LineRequest(dish_id=getattr(menu, name).pk, quantity=quantity,
                         option_ids=(menu.hot.pk,) if name == "noodles" else ())
             for name, quantity in quantities.items()]
    with time_machine.travel(at, tick=False):
        return paid_order(customer, store, menu, lines=lines)


@pytest.fixture
def history(store, menu, organisation, customer):
    """Per portion: noodles 650 kcal, 30.0 g protein, 20.5 g fat, 80.0 g carbs; dumplings (a light
    meal) 420 / 18.0 / 12.0 / 50.5; tea 10 / 0.5 / 0.1 / 2.0.

    The member (研发部) ate, before NOW = 2026-06-15 12:00 Beijing time:
      today 12:00         noodles 1 + dumplings 2   1490 kcal  66.0 P  44.5 F  181.0 C  3 portions, 2 light
      06-09 00:30 (day 7) tea 3                       30 kcal   1.5 P   0.3 F    6.0 C  3 portions
      06-08 23:30 (day 8) dumplings 2                840 kcal  36.0 P  24.0 F  101.0 C  2 portions, 2 light
      20 days ago         noodles 2                 1300 kcal  60.0 P  41.0 F  160.0 C  2 portions
      40 days ago         dumplings 1                (outside both windows)
    and did not pay an order today (it counts for nothing). A second member (财务部) ate noodles 1
    yesterday; a third (研发部) nothing; a customer who is no member had a tea today.
    """
    light, _ = Tag.objects.update_or_create(code="light_meal", defaults={"name_zh": "轻食", "name_en": "Light meal"})
    set_nutrition(menu.noodles, 650, "30.0", "20.5", "80.0")
    set_nutrition(menu.dumplings, 420, "18.0", "12.0", "50.5")
    set_nutrition(menu.tea, 10, "0.5", "0.1", "2.0")
    menu.dumplings.tags.add(light)
    member = member_of(organisation, user=customer, department="研发部")
    eaten(customer, store, menu, NOW, noodles=1, dumplings=2)
    eaten(customer, store, menu, datetime(2026, 6, 9, 0, 30, tzinfo=SHANGHAI), tea=3)
    eaten(customer, store, menu, datetime(2026, 6, 8, 23, 30, tzinfo=SHANGHAI), dumplings=2)
    eaten(customer, store, menu, NOW - timedelta(days=20), noodles=2)
    eaten(customer, store, menu, NOW - timedelta(days=40), dumplings=1)
    with time_machine.travel(NOW, tick=False):
        unpaid = submit(customer, store, menu, lines=[LineRequest(dish_id=menu.noodles.pk, quantity=5,
                                                                  option_ids=(menu.mild.pk,))])
    assert unpaid.status == OrderStatus.PENDING_PAYMENT
    colleague = member_of(organisation, number="E002", phone="13900000102", department="财务部")
    eaten(colleague.user, store, menu, NOW - timedelta(days=1), noodles=1)
    member_of(organisation, number="E003", phone="13900000103", department="研发部")
    stranger = UserFactory(phone="13900000104")
    eaten(stranger, store, menu, NOW, tea=1)
    return SimpleNamespace(member=member, colleague=colleague)


def figures(html: str, days: int) -> dict[str, list[str]]:
    """The member page's table for one window: figure -> [total, per day]; plus the light-meal line."""
    section = html[html.index(f'id="nutrition-{days}"'):]
    section = section[:section.index("</section>")]
    rows = dict(re.findall(r'<tr data-figure="(\w+)">(.*?)</tr>', section, re.S))
    found = {name: re.findall(r'<td class="num">([^<]*)</td>', row) for name, row in rows.items()}
    light = re.search(r'<p data-figure="light">(.*?)</p>', section, re.S)[1]
    found["light"] = re.sub(r"<[^>]+>", " ", light).split()
    return found


# --- the member ------------------------------------------------------------------------------


def test_the_member_page_shows_the_sums_of_7_and_30_days(web, history, customer, now,
                                                           django_assert_max_num_queries):
    web.force_login(customer)
    with django_assert_max_num_queries(14):
        response = web.get(reverse("canteen:member-home"))
    html = response.content.decode()
    assert response.status_code == 200
    week = figures(html, 7)
    # 1490 + 30 kcal in 7 days: 217.1 a day; 66.0 + 1.5 protein = 67.5 (9.64 a day) ...
    assert week["kcal"] == ["1520", "217"]
    assert week["protein"] == ["67.5", "9.6"]
    assert week["fat"] == ["44.8", "6.4"]
    assert week["carbs"] == ["187.0", "26.7"]
    assert week["meals"] == ["2", "0.3"]
    assert week["light"] == ["Light", "meals:", "33.3%", "(2", "of", "6", "portions)"]
    month = figures(html, 30)
    # + 840 + 1300 kcal: 3660 in 30 days, 122 a day; protein 163.5 (5.45 -> 5.5 a day) ...
    assert month["kcal"] == ["3660", "122"]
    assert month["protein"] == ["163.5", "5.5"]
    assert month["fat"] == ["109.8", "3.7"]
    assert month["carbs"] == ["448.0", "14.9"]
    assert month["meals"] == ["4", "0.1"]
    assert month["light"] == ["Light", "meals:", "40.0%", "(4", "of", "10", "portions)"]


def test_the_figures_come_from_the_database_sums(history, now):
    week = nutrition.member_nutrition(history.member, days=7)
    assert (week.window.first_day.isoformat(), week.window.last_day.isoformat()) == ("2026-06-09", "2026-06-15")
    assert week.totals == nutrition.Intake(kcal=1520, protein_g=Decimal("67.5"), fat_g=Decimal("44.8"),
                                           carbs_g=Decimal("187.0"), portions=6, light_portions=2, meals=2)
    assert week.totals.light_share == Decimal("33.3")
    month = nutrition.member_nutrition(history.member, days=30)
    assert month.totals == nutrition.Intake(kcal=3660, protein_g=Decimal("163.5"), fat_g=Decimal("109.8"),
                                            carbs_g=Decimal("448.0"), portions=10, light_portions=4, meals=4)
    assert month.per_day.kcal == Decimal("122") and month.per_day.protein_g == Decimal("5.5")


def test_the_chart_has_a_bar_per_day_with_the_days_kcal(web, history, customer, now):
    web.force_login(customer)
    html = web.get(reverse("canteen:member-home")).content.decode()
    bars = re.findall(r"<title>(\d\d-\d\d): (\d+)</title>", html)
    assert len(bars) == 30
    assert bars[-1] == ("06-15", "1490") and ("06-09", "30") in bars and ("06-08", "840") in bars
    assert ("05-26", "1300") in bars
    assert sum(int(kcal) for _, kcal in bars) == 3660


def test_the_member_page_shows_balance_and_ledger(web, member, customer, canteen_staff, now):
    from canteen.services import subsidy_topup

    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="88.50", note="June")
    web.force_login(customer)
    html = web.get(reverse("canteen:member-home")).content.decode()
    assert re.search(r"data-balance>[^<]*88\.50<", html)
    assert "Top-up by canteen staff" in html and "June" in html
    assert "no meals yet" in html


# --- canteen staff: per department ------------------------------------------------------------


def staff_url(organisation, days=None):
    url = reverse("canteen:staff-nutrition", args=[organisation.pk])
    return f"{url}?days={days}" if days else url


def row_cells(html: str, label: str) -> list[str]:
    row = re.search(rf'<tr data-group="{re.escape(label)}">(.*?)</tr>', html, re.S)[1]
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def test_staff_see_averages_per_member_and_day_by_department(web, history, organisation, canteen_staff, now):
    web.force_login(canteen_staff)
    response = web.get(staff_url(organisation, days=7))
    html = response.content.decode()
    assert response.status_code == 200
    # members, who ate, meals, kcal / protein / fat / carbs per eater per day, light share
    assert row_cells(html, "研发部") == ["2", "1", "2", "217", "9.6", "6.4", "26.7", "33.3%"]
    assert row_cells(html, "财务部") == ["1", "1", "1", "93", "4.3", "2.9", "11.4", "0.0%"]
    # the organisation: 2170 kcal, 97.5 g protein by 2 eaters over 7 days; 2 light of 7 portions
    assert row_cells(html, organisation.name) == ["3", "2", "3", "155", "7.0", "4.7", "19.1", "28.6%"]


def test_staff_nutrition_over_30_days_by_default(history, organisation, now):
    report = nutrition.organisation_nutrition(organisation, days=nutrition.window_days(None))
    assert report.window.days == 30
    research = next(group for group in report.departments if group.label == "研发部")
    assert (research.totals.kcal, research.totals.portions, research.totals.light_portions) == (3660, 10, 4)
    assert research.per_member_day.kcal == Decimal("122")
    assert report.total.totals.meals == 5 and report.total.eaters == 2


@pytest.fixture
def superuser(db):
    return UserFactory(phone="13700000008", is_staff=True, is_superuser=True)


@pytest.fixture
def rival_hq(other_brand):
    user = StaffFactory(phone="13700000031", role=Role.HQ_MANAGER)
    StaffAssignmentFactory(user=user, brand=other_brand)
    return user


def test_who_may_see_an_organisations_nutrition(web, organisation, store, customer, canteen_staff, hq_manager,
                                                store_manager, superuser, rival_hq):
    url = staff_url(organisation)
    response = web.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    for user, status in [(canteen_staff, 200), (hq_manager, 200), (superuser, 200), (customer, 403),
                         (store_manager, 403), (rival_hq, 403)]:
        web.force_login(user)
        assert web.get(url).status_code == status, user
    # canteen staff of another organisation of the brand: this one is unknown to them
    other_staff = canteen_staff_of(store, phone="13700000078")
    other = organisation_for(store, code="other-org", staff=[other_staff])
    web.force_login(other_staff)
    assert web.get(staff_url(other)).status_code == 200
    assert web.get(url).status_code == 404
    assert web.get(reverse("canteen:staff-nutrition", args=[999999])).status_code == 404


# --- HQ: light meals per canteen store ---------------------------------------------------------


def test_hq_sees_the_light_meal_share_of_each_canteen_store(web, history, store, hq_manager, now):
    StoreFactory(brand=store.brand, code="SH009")  # serves no organisation: not a canteen store
    web.force_login(hq_manager)
    response = web.get(reverse("canteen:hq-nutrition"))
    html = response.content.decode()
    assert response.status_code == 200
    row = re.search(r'<tr data-store="SH001">(.*?)</tr>', html, re.S)[1]
    # 30 days at SH001: the member's 10 portions (4 light), the colleague's 1, the stranger's 1
    assert re.findall(r'<td class="num">([^<]*)</td>', row) == ["6", "12", "4", "33.3%"]
    assert 'data-store="SH009"' not in html
    week = re.search(r'<tr data-store="SH001">(.*?)</tr>', web.get(reverse("canteen:hq-nutrition"),
                                                                   {"days": 7}).content.decode(), re.S)[1]
    assert re.findall(r'<td class="num">([^<]*)</td>', week) == ["4", "8", "2", "25.0%"]


def test_who_may_see_the_canteen_stores_report(web, store, organisation, customer, canteen_staff, hq_manager,
                                               store_manager, superuser, rival_hq):
    rival_store = StoreFactory(brand=BrandFactory(code="third"), code="TH001")
    organisation_for(rival_store, code="third-org")
    url = reverse("canteen:hq-nutrition")
    response = web.get(url)
    assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    for user in (customer, canteen_staff, store_manager):
        web.force_login(user)
        assert web.get(url).status_code == 403, user
    web.force_login(hq_manager)
    html = web.get(url).content.decode()
    assert 'data-store="SH001"' in html and 'data-store="TH001"' not in html
    web.force_login(rival_hq)
    html = web.get(url).content.decode()
    assert 'data-store="SH001"' not in html and "No store serves an organisation yet." in html
    web.force_login(superuser)
    html = web.get(url).content.decode()
    assert 'data-store="SH001"' in html and 'data-store="TH001"' in html
