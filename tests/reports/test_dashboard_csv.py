"""CSV exports of every dashboard table, and bad filter input (form errors, never a 500)."""

import csv
import io

import pytest

from ordering.models import OrderStatus
from reports.services import rollups_refresh
from reports.views import CSV_TABLES, csv_safe

from .conftest import D1, RANGE
from .factories import finished_order

pytestmark = pytest.mark.django_db


def _rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _get(client, table, **extra):
    return client.get(f"/reports/export/{table}.csv", {**RANGE, **extra}, HTTP_ACCEPT_LANGUAGE="en")


def test_every_table_exports(hq_client, world):
    for table in CSV_TABLES:
        response = _get(hq_client, table)
        assert response["Content-Disposition"] == f'attachment; filename="{table}-acme-20260302-20260303.csv"'
        assert len(_rows(response)) >= 2, table


def test_daily_csv(hq_client, world):
    assert _rows(_get(hq_client, "daily")) == [
        ["Day", "Paid orders", "Refunded orders", "Paid amount", "Refunded amount", "Net revenue",
         "Average ticket", "Refund rate (percent of the paid amount)", "Cancelled unpaid orders"],
        ["2026-03-02", "4", "1", "103.00", "18.00", "85.00", "28.33", "17.5", "1"],  # 18 / 103
        ["2026-03-03", "4", "0", "133.00", "0.00", "133.00", "33.25", "0.0", "0"],
    ]


def test_store_ranking_and_store_day_csv(hq_client, world):
    stores = _rows(_get(hq_client, "stores"))
    assert [[*row[:5], row[8]] for row in stores[1:]] == [
        ["1", "SH001", world.sh001.name, "上海", "5", "91.50"],
        ["2", "SH003", "三店", "北京", "1", "90.00"],
        ["3", "SH002", "二店", "上海", "2", "36.50"],
    ]
    store_days = _rows(_get(hq_client, "store-days"))
    assert [(row[0], row[1], row[3], row[7]) for row in store_days[1:]] == [
        ("2026-03-02", "SH001", "3", "54.50"),
        ("2026-03-02", "SH002", "1", "30.50"),
        ("2026-03-03", "SH001", "2", "37.00"),
        ("2026-03-03", "SH002", "1", "6.00"),
        ("2026-03-03", "SH003", "1", "90.00"),
    ]


def test_dishes_categories_refunds_customers_hours_csv(hq_client, world):
    assert _rows(_get(hq_client, "dishes"))[1:] == [
        ["1", "noodles", "Beef noodles", "8", "144.00", "3", "1", "50.0"],
        ["2", "dumplings", "Dumplings", "4", "50.00", "3", "0", "25.0"],
        ["3", "tea", "Tea", "4", "24.00", "3", "0", "25.0"],
    ]
    assert _rows(_get(hq_client, "categories"))[1:] == [
        ["Noodles", "12", "194.00", "75.0"], ["Drinks", "4", "24.00", "25.0"],
    ]
    assert _rows(_get(hq_client, "refunds")) == [
        ["Reason code", "Reason", "Refunds", "Refunded amount", "Share of refunds (%)",
         "Refund rate (percent of the paid amount)"],
        ["", "— (no reason recorded)", "1", "18.00", "100.0", "7.6"],
    ]
    customers = dict(_rows(_get(hq_client, "customers"))[1:])
    assert customers["Customers"] == "3"
    assert customers["Repeat customers (2+ orders)"] == "2"
    assert customers["Orders of repeat customers"] == "6"
    hours = _rows(_get(hq_client, "hours"))
    assert hours[0][:3] == ["Weekday", "00:00", "01:00"]
    assert hours[1][0] == "Mon" and hours[1][1 + 10] == "1" and hours[1][1 + 12] == "3"
    assert hours[2][1 + 7] == "1" and hours[2][1 + 18] == "2"
    assert len(hours) == 8 and all(len(row) == 25 for row in hours)


def test_store_filter_applies_to_csv(hq_client, world):
    rows = _rows(_get(hq_client, "stores", stores=[world.sh002.pk]))
    assert [row[1] for row in rows[1:]] == ["SH002"]


def test_text_cells_cannot_become_formulas(hq_client, world):
    world.sh002.name = "=HYPERLINK(\"http://x\")"
    world.sh002.save()
    world.tea.name_en = "+SUM(A1:A9)"
    world.tea.save()
    finished_order(world.sh002, day=D1, at="13:00", status=OrderStatus.COMPLETED, lines=[(world.tea, 1)])
    rollups_refresh(start=D1, end=D1)
    stores = _rows(_get(hq_client, "stores"))
    assert "'=HYPERLINK(\"http://x\")" in [row[2] for row in stores]
    dishes = _rows(_get(hq_client, "dishes"))
    assert "'+SUM(A1:A9)" in [row[2] for row in dishes]


def test_csv_safe():
    assert csv_safe("=1+2") == "'=1+2"
    assert csv_safe("-2") == "'-2"
    assert csv_safe("@cmd") == "'@cmd"
    assert csv_safe("\tx") == "'\tx"
    assert csv_safe("面条") == "面条"
    assert csv_safe(-3) == "-3"  # numbers stay numbers
    assert csv_safe(None) == ""


def test_unknown_table_is_404(hq_client, world):
    assert hq_client.get("/reports/export/orders.csv").status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "end"),
        ({"start": "2024-01-01", "end": "2026-03-01"}, "end"),
        ({"stores": ["abc"]}, "stores"),
        ({"stores": ["999999"]}, "stores"),
        ({"brand": "x"}, "brand"),
    ],
)
def test_bad_filters_are_form_errors(hq_client, world, params, field):
    response = hq_client.get("/reports/", params, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="errorlist' in response.content.decode()
    csv_response = hq_client.get("/reports/export/daily.csv", params, HTTP_ACCEPT_LANGUAGE="en")
    assert csv_response.status_code == 400
    assert csv_response.content.decode().startswith(f"{field}:")


def test_range_errors_say_why(hq_client, world):
    response = hq_client.get("/reports/", {"start": "2026-03-05", "end": "2026-03-01"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "The end date must not be before the start date." in response.content.decode()
    response = hq_client.get("/reports/", {"start": "2024-01-01", "end": "2026-03-01"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Choose at most 366 days." in response.content.decode()
