"""The sales dashboard against the fixed data set of conftest.py (figures computed by hand there)."""

import re
from decimal import Decimal

import pytest
from django.utils import translation

from reports.forms import ReportFilter
from reports.selectors import (
    customer_figures,
    favourite_categories,
    hot_dishes,
    peak_hours,
    refunds_by_reason,
    sales_by_day,
    sales_by_store_day,
    sales_total,
    store_ranking,
)

from .conftest import D1, D2, RANGE

pytestmark = pytest.mark.django_db

URL = "/reports/"


def _filter(world, stores=None, *, whole_brand=False):
    stores = stores or (world.sh001, world.sh002, world.sh003)
    return ReportFilter(brand=world.brand, start=D1, end=D2, store_ids=frozenset(s.pk for s in stores),
                        all_stores=False, whole_brand=whole_brand)


def test_totals_of_the_brand(world):
    total = sales_total(_filter(world))
    assert (total.orders, total.revenue, total.refunded_orders, total.refunded_amount) == (
        8, Decimal("236.00"), 1, Decimal("18.00"))
    assert total.net_revenue == Decimal("218.00")
    assert total.kept_orders == 7
    assert total.average_ticket == Decimal("31.14")  # 218 / 7 = 31.142…
    assert total.refund_rate == Decimal("7.6")  # 18 of 236 paid back = 7.63%
    assert total.cancelled_orders == 1


def test_by_day(world):
    rows = [(r.day, r.figures.orders, r.figures.net_revenue, r.figures.average_ticket)
            for r in sales_by_day(_filter(world))]
    assert rows == [
        (D1, 4, Decimal("85.00"), Decimal("28.33")),  # 42 + 12.50 + 30.50 kept (18 refunded); 85 / 3
        (D2, 4, Decimal("133.00"), Decimal("33.25")),  # 25 + 12 + 6 + 90
    ]


def test_store_ranking_by_net_revenue(world):
    rows = [(r.rank, r.code, r.figures.orders, r.figures.net_revenue, r.figures.average_ticket, r.figures.refund_rate)
            for r in store_ranking(_filter(world))]
    assert rows == [
        (1, "SH001", 5, Decimal("91.50"), Decimal("22.88"), Decimal("16.4")),  # 91.50 / 4 = 22.875 -> half up;
        # refund rate 18 / 109.50 = 16.44%
        (2, "SH003", 1, Decimal("90.00"), Decimal("90.00"), Decimal("0.0")),
        (3, "SH002", 2, Decimal("36.50"), Decimal("18.25"), Decimal("0.0")),
    ]


def test_store_and_day_rows(world):
    rows, count = sales_by_store_day(_filter(world))
    assert count == 5
    assert [(r.day, r.store_code, r.figures.orders, r.figures.net_revenue) for r in rows] == [
        (D1, "SH001", 3, Decimal("54.50")),
        (D1, "SH002", 1, Decimal("30.50")),
        (D2, "SH001", 2, Decimal("37.00")),
        (D2, "SH002", 1, Decimal("6.00")),
        (D2, "SH003", 1, Decimal("90.00")),
    ]
    limited, count = sales_by_store_day(_filter(world), limit=2)
    assert (len(limited), count) == (2, 5)


def test_an_order_refunded_without_a_refund_request_has_no_reason(world, english):
    rows = refunds_by_reason(_filter(world))
    assert [(r.reason_code, r.refunds, r.amount, r.rate, r.share) for r in rows] == [
        ("", 1, Decimal("18.00"), Decimal("7.6"), Decimal("100.0"))]
    assert str(rows[0].reason) == "— (no reason recorded)"
    assert refunds_by_reason(_filter(world, [world.sh002])) == []


def test_hot_dishes_count_kept_portions(world, english):
    rows = [(r.rank, r.dish_code, r.name, r.quantity, r.revenue, r.orders, r.refunded_quantity, r.share)
            for r in hot_dishes(_filter(world))]
    assert rows == [
        (1, "noodles", "Beef noodles", 8, Decimal("144.00"), 3, 1, Decimal("50.0")),
        (2, "dumplings", "Dumplings", 4, Decimal("50.00"), 3, 0, Decimal("25.0")),
        (3, "tea", "Tea", 4, Decimal("24.00"), 3, 0, Decimal("25.0")),
    ]
    assert [r.dish_code for r in hot_dishes(_filter(world), limit=1)] == ["noodles"]


def test_favourite_categories(world):
    with translation.override("zh-hans"):  # category names in the reader's language
        rows = [(r.name, r.quantity, r.revenue, r.share) for r in favourite_categories(_filter(world))]
    assert rows == [("面食", 12, Decimal("194.00"), Decimal("75.0")), ("饮品", 4, Decimal("24.00"), Decimal("25.0"))]


def test_repeat_customers(world):
    figures = customer_figures(_filter(world))
    # A: 4 paid orders (one refunded), B: 2, D: 1; C never paid; the kiosk order has no customer.
    assert (figures.customers, figures.repeat_customers, figures.orders, figures.repeat_orders) == (3, 2, 7, 6)
    assert figures.repeat_rate == Decimal("66.7")
    assert figures.repeat_order_share == Decimal("85.7")
    assert [count for _, count in figures.buckets] == [1, 1, 1, 0]
    # A customer's orders at several stores count together; at SH002 alone B and D ordered once.
    only_sh002 = customer_figures(_filter(world, [world.sh002]))
    assert (only_sh002.customers, only_sh002.repeat_customers) == (2, 0)


def test_peak_hours_heatmap(world):
    heatmap = peak_hours(_filter(world))
    filled = {(weekday, hour): n for weekday, row in enumerate(heatmap.cells) for hour, n in enumerate(row) if n}
    assert filled == {(0, 10): 1, (0, 12): 3, (1, 7): 1, (1, 12): 1, (1, 18): 2}
    assert heatmap.peak == 3
    assert heatmap.hours_with_orders() == range(7, 19)


def test_whole_brand_reads_give_the_same_figures(world, english):
    """All three stores through the brand-wide rollup (no store condition) equal the per-store path."""
    stores, brand = _filter(world), _filter(world, whole_brand=True)
    assert hot_dishes(brand) == hot_dishes(stores)
    assert favourite_categories(brand) == favourite_categories(stores)
    assert customer_figures(brand) == customer_figures(stores)
    assert peak_hours(brand) == peak_hours(stores)
    assert sales_total(brand) == sales_total(stores)
    assert store_ranking(brand) == store_ranking(stores)


def test_the_form_marks_a_whole_brand_view(hq_client, sm_client, world):
    assert hq_client.get(URL, RANGE).context["flt"].whole_brand is True
    picked = hq_client.get(URL, {**RANGE, "stores": [world.sh001.pk, world.sh002.pk, world.sh003.pk]})
    assert picked.context["flt"].whole_brand is True
    assert hq_client.get(URL, {**RANGE, "stores": [world.sh001.pk]}).context["flt"].whole_brand is False
    assert sm_client.get(URL, RANGE).context["flt"].whole_brand is False


def test_a_deleted_dish_keeps_its_name_and_has_no_category(world):
    from ordering.models import OrderLine

    OrderLine.objects.filter(dish=world.tea).update(dish=None)
    world.tea.delete()
    from reports.services import rollups_refresh

    rollups_refresh(start=D1, end=D2)
    dishes = {row.dish_code: row.name for row in hot_dishes(_filter(world))}
    assert dishes["tea"] == "茶"
    assert [(row.name, row.quantity) for row in favourite_categories(_filter(world))] == [("面食", 12), ("—", 4)]


def _text(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert match, element_id
    return match.group(1).strip()


def test_hq_page_shows_the_figures(hq_client, world, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        response = hq_client.get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert _text(html, "total-orders") == "8"
    assert _text(html, "total-net-revenue") == "¥218.00"
    assert _text(html, "total-average-ticket") == "¥31.14"
    assert _text(html, "total-refund-rate") == "7.6%"
    assert _text(html, "total-customers") == "3"
    assert _text(html, "total-repeat") == "2 (66.7%)"
    assert [row.code for row in response.context["ranking"]] == ["SH001", "SH003", "SH002"]
    assert re.findall(r'data-store="(\w+)"', html) == ["SH001", "SH003", "SH002"]
    assert re.findall(r'data-dish="(\w+)"', html) == ["noodles", "dumplings", "tea"]
    assert html.count('class="bar"') == 4  # two days in the revenue and the orders chart
    assert '<svg viewBox="0 0 ' in html and 'class="heatmap"' in html
    assert "cdn" not in html.lower()
    assert "/static/reports/reports.css" in html
    assert "对手店" not in html and "RV001" not in html


def test_page_in_english(hq_client, world):
    response = hq_client.get(URL, RANGE, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert "Sales dashboard" in html and "Hot dishes" in html and "Peak hours" in html
    assert "Beef noodles" in html


def test_default_range_is_the_last_30_days(hq_client, world):
    response = hq_client.get(URL)
    assert response.status_code == 200
    flt = response.context["flt"]
    assert flt.days == 30 and flt.all_stores
    assert flt.store_ids == {world.sh001.pk, world.sh002.pk, world.sh003.pk}


def test_store_filter(hq_client, world):
    response = hq_client.get(URL, {**RANGE, "stores": [world.sh002.pk, world.sh003.pk]})
    html = response.content.decode()
    assert _text(html, "total-orders") == "3"
    assert _text(html, "total-net-revenue") == "¥126.50"
    assert re.findall(r'data-store="(\w+)"', html) == ["SH003", "SH002"]


def test_days_without_a_refresh_are_flagged(hq_client, world):
    response = hq_client.get(URL, {"start": "2026-02-27", "end": "2026-03-03"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["refreshed_at"] is None
    assert "have not been computed yet" in response.content.decode()
    response = hq_client.get(URL, RANGE, HTTP_ACCEPT_LANGUAGE="en")
    assert response.context["refreshed_at"] is not None
    assert "figures as of" in response.content.decode()
