"""The sales dashboard (HQ: the whole brand; store managers: their stores) and its CSV exports.

Views only check access, validate the filter and call the selectors; every figure is an aggregate
computed by the database from the rollups (reports.selectors).
"""

from __future__ import annotations

import csv
from datetime import date

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from . import selectors
from .access import report_access
from .charts import bar_chart, heatmap_chart
from .forms import ReportFilter, report_filter_from_request
from .pages import page_context

STORE_DAY_ROWS_ON_PAGE = 200
WEEKDAYS = [
    gettext_lazy("Mon"), gettext_lazy("Tue"), gettext_lazy("Wed"), gettext_lazy("Thu"),
    gettext_lazy("Fri"), gettext_lazy("Sat"), gettext_lazy("Sun"),
]


def _day_label(day: date) -> str:
    return date_format(day, "m-d")


@login_required(login_url="admin:login")
@require_GET
def dashboard(request):
    access = report_access(request.user)
    form, flt = report_filter_from_request(request, access)
    context = page_context(request, title=_("Sales dashboard"), current="reports:dashboard", form=form, flt=flt)
    if flt is None:
        return render(request, "reports/dashboard.html", context, status=400)

    total = selectors.sales_total(flt)
    by_day = selectors.sales_by_day(flt)
    store_days, store_day_count = selectors.sales_by_store_day(flt, limit=STORE_DAY_ROWS_ON_PAGE)
    heatmap = selectors.peak_hours(flt)
    dish_sums = selectors.dish_sums(flt)
    context.update(
        total=total,
        by_day=by_day,
        revenue_chart=bar_chart([(_day_label(row.day), row.figures.net_revenue) for row in by_day],
                                title=_("Net revenue per day")),
        orders_chart=bar_chart([(_day_label(row.day), row.figures.orders) for row in by_day],
                               title=_("Paid orders per day"), height=160),
        ranking=selectors.store_ranking(flt),
        store_days=store_days,
        store_day_count=store_day_count,
        store_days_cut=store_day_count > len(store_days),
        refunds=selectors.refunds_by_reason(flt, total=total),
        dishes=selectors.hot_dishes(flt, limit=10, sums=dish_sums),
        categories=selectors.favourite_categories(flt, sums=dish_sums),
        customers=selectors.customer_figures(flt),
        heatmap=heatmap,
        heatmap_chart=heatmap_chart(heatmap.cells, row_labels=[str(day) for day in WEEKDAYS],
                                    columns=heatmap.hours_with_orders()),
        refreshed_at=selectors.last_refresh(flt),
        query=request.GET.urlencode(),
        csv_tables=CSV_TABLES,
    )
    return render(request, "reports/dashboard.html", context)


# --- CSV exports: every table of the dashboard, whole (not only what the page shows) ---

# Cells that a spreadsheet would read as a formula start with one of these; such text cells
# get a leading apostrophe (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_safe(value) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _pct(value) -> str | None:
    return None if value is None else f"{value}"


def _figures_columns():
    return [_("Paid orders"), _("Refunded orders"), _("Paid amount"), _("Refunded amount"), _("Net revenue"),
            _("Average ticket"), _("Refund rate (percent of the paid amount)"), _("Cancelled unpaid orders")]


def _figures_cells(figures) -> list:
    return [figures.orders, figures.refunded_orders, figures.revenue, figures.refunded_amount,
            figures.net_revenue, figures.average_ticket, _pct(figures.refund_rate), figures.cancelled_orders]


def _csv_daily(flt: ReportFilter):
    yield [_("Day"), *_figures_columns()]
    for row in selectors.sales_by_day(flt):
        yield [row.day.isoformat(), *_figures_cells(row.figures)]


def _csv_store_days(flt: ReportFilter):
    yield [_("Day"), _("Store code"), _("Store"), *_figures_columns()]
    rows, _count = selectors.sales_by_store_day(flt)
    for row in rows:
        yield [row.day.isoformat(), row.store_code, row.store_name, *_figures_cells(row.figures)]


def _csv_stores(flt: ReportFilter):
    yield [_("Rank"), _("Store code"), _("Store"), _("City"), *_figures_columns()]
    for row in selectors.store_ranking(flt):
        yield [row.rank, row.code, row.name, row.city, *_figures_cells(row.figures)]


def _csv_refunds(flt: ReportFilter):
    yield [_("Reason code"), _("Reason"), _("Refunds"), _("Refunded amount"), _("Share of refunds (%)"),
           _("Refund rate (percent of the paid amount)")]
    for row in selectors.refunds_by_reason(flt):
        yield [row.reason_code, str(row.reason), row.refunds, row.amount, _pct(row.share), _pct(row.rate)]


def _csv_dishes(flt: ReportFilter):
    yield [_("Rank"), _("Dish code"), _("Dish"), _("Portions sold"), _("Revenue"), _("Orders"),
           _("Portions refunded"), _("Share of portions (%)")]
    for row in selectors.hot_dishes(flt, limit=None):
        yield [row.rank, row.dish_code, row.name, row.quantity, row.revenue, row.orders, row.refunded_quantity,
               _pct(row.share)]


def _csv_categories(flt: ReportFilter):
    yield [_("Category"), _("Portions sold"), _("Revenue"), _("Share of portions (%)")]
    for row in selectors.favourite_categories(flt):
        yield [row.name, row.quantity, row.revenue, _pct(row.share)]


def _csv_hours(flt: ReportFilter):
    heatmap = selectors.peak_hours(flt)
    yield [_("Weekday"), *[f"{hour:02d}:00" for hour in range(24)]]
    for label, row in zip(WEEKDAYS, heatmap.cells, strict=True):
        yield [str(label), *row]


def _csv_customers(flt: ReportFilter):
    figures = selectors.customer_figures(flt)
    yield [_("Figure"), _("Value")]
    yield [_("Customers"), figures.customers]
    yield [_("Repeat customers (2+ orders)"), figures.repeat_customers]
    yield [_("Repeat customers (%)"), _pct(figures.repeat_rate)]
    yield [_("Orders of customers"), figures.orders]
    yield [_("Orders of repeat customers"), figures.repeat_orders]
    for label, count in figures.buckets:
        yield [_("Customers with %(bucket)s") % {"bucket": label}, count]


# slug: (label, rows)
CSV_TABLES = {
    "daily": (gettext_lazy("By day"), _csv_daily),
    "store-days": (gettext_lazy("By store and day"), _csv_store_days),
    "stores": (gettext_lazy("Store ranking"), _csv_stores),
    "refunds": (gettext_lazy("Refunds by reason"), _csv_refunds),
    "dishes": (gettext_lazy("Hot dishes"), _csv_dishes),
    "categories": (gettext_lazy("Favourite categories"), _csv_categories),
    "hours": (gettext_lazy("Peak hours"), _csv_hours),
    "customers": (gettext_lazy("Repeat customers"), _csv_customers),
}


@login_required(login_url="admin:login")
@require_GET
def dashboard_csv(request, table: str):
    if table not in CSV_TABLES:
        raise Http404
    access = report_access(request.user)
    form, flt = report_filter_from_request(request, access)
    if flt is None:
        return form_errors_response(form)
    filename = f"{table}-{flt.brand.code}-{flt.start:%Y%m%d}-{flt.end:%Y%m%d}.csv"
    return csv_response(filename, CSV_TABLES[table][1](flt))


def csv_response(filename: str, rows) -> HttpResponse:
    """A CSV download of ``rows`` (lists of cells), the way every reports export is written."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # a BOM, so that spreadsheets read the Chinese names as UTF-8
    writer = csv.writer(response)
    for row in rows:
        writer.writerow([csv_safe(cell) for cell in row])
    return response


def form_errors_response(form) -> HttpResponse:
    """400 with the form's errors as plain text (``field: message``), for the CSV exports."""
    errors = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in form.errors.items())
    return HttpResponse(errors, status=400, content_type="text/plain; charset=utf-8")
