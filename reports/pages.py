"""What every reports page shares: the admin's look (header, breadcrumbs) and the section tabs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (url name, label) of the tabs above every reports page; a tab whose url is not there is left out.
REPORT_TABS = [
    ("reports:dashboard", _("Sales dashboard")),
    ("reports:forecast", _("Demand forecast")),
]


def report_tabs(current: str) -> list[dict]:
    tabs = []
    for name, label in REPORT_TABS:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        tabs.append({"url": url, "label": label, "active": name == current})
    return tabs


def page_context(request, *, title, current: str, **extra) -> dict:
    """The context a page extending ``reports/base.html`` needs (admin header, tabs, title)."""
    return {**admin.site.each_context(request), "title": title, "report_tabs": report_tabs(current), **extra}
