"""The security report: every 72 hours, what happened to money and accounts, and whether the
audit chains are intact (DESIGN.md, Audit and security).

audit imports no other app, so the figures come from sections that apps register here from their
``AppConfig.ready()`` (accounts: failed codes, frozen accounts, staff lockouts; refunds: refund
counts and amounts, risk hits; stores: changes made in the Django admin). audit adds its own: the
audited acts by people and the audit chain check.

A section is ``f(brand_id, start, end) -> list[(label, value)]``; ``brand_id`` is None for the
platform-wide report. Labels are English source strings marked with ``gettext_noop``: they are
stored as they are and translated when the report is shown, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_noop

from .models import ActorType, AuditEvent, SecurityReport
from .services import chain_key_for
from .verify import audit_verify

PERIOD = timedelta(hours=72)
Section = Callable[[int | None, datetime, datetime], list[tuple[str, object]]]
_sections: list[tuple[str, Section]] = []


def register_section(title: str, section: Section) -> None:
    """Add a section (``title`` marked with ``gettext_noop``); registering twice is ignored."""
    if all(existing is not section for _title, existing in _sections):
        _sections.append((title, section))


def _events(brand_id, start, end):
    events = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    return events if brand_id is None else events.filter(brand_id=brand_id)


def _staff_actions(brand_id, start, end) -> list[tuple[str, object]]:
    by_users = _events(brand_id, start, end).filter(actor_type=ActorType.USER)
    rows: list[tuple[str, object]] = [(gettext_noop("Audited acts by people"), by_users.count())]
    top = by_users.values("action").annotate(n=Count("pk")).order_by("-n", "action")[:10]
    rows += [(f"· {row['action']}", row["n"]) for row in top]
    return rows


def _chain(brand_id, start, end) -> list[tuple[str, object]]:
    result = audit_verify(chain=chain_key_for(brand_id) if brand_id is not None else None)
    rows: list[tuple[str, object]] = [
        (gettext_noop("Audit chain verified"), gettext_noop("intact") if result.ok else gettext_noop("BROKEN")),
        (gettext_noop("Events checked"), result.events_checked),
    ]
    rows += [(gettext_noop("Problem"), str(problem)) for problem in result.problems[:5]]
    return rows


def _all_sections() -> list[tuple[str, Section]]:
    return [*_sections, (gettext_noop("Admin actions"), _staff_actions), (gettext_noop("Audit trail"), _chain)]


def security_report_generate(*, brand_id: int | None, start: datetime, end: datetime) -> SecurityReport:
    sections = []
    chain_ok = True
    for title, section in _all_sections():
        rows = [[label, value if isinstance(value, int | str) else str(value)] for label, value in
                section(brand_id, start, end)]
        sections.append({"title": title, "rows": rows})
        if section is _chain:
            chain_ok = rows[0][1] == "intact"
    return SecurityReport.objects.create(brand_id=brand_id, period_start=start, period_end=end,
                                         chain_ok=chain_ok, data={"sections": sections})


def security_reports_due(*, now=None) -> list[SecurityReport]:
    """The periodic task (hourly): once 72 hours have passed since the last report, write the next
    one, for the whole platform and for every brand with audited activity in the period. Running
    it again within the period writes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        last = SecurityReport.objects.select_for_update().filter(brand_id__isnull=True).order_by("-period_end").first()
        if last is not None and now - last.period_end < PERIOD:
            return []
        start = last.period_end if last is not None else now - PERIOD
        return security_reports_write(start=start, end=now)


def security_reports_write(*, start: datetime, end: datetime) -> list[SecurityReport]:
    """The platform's report and one per brand that had audited activity in the period or had a
    report before, for ``start``-``end``; the platform's first."""
    brands = sorted(set(
        AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end, brand_id__isnull=False)
        .values_list("brand_id", flat=True).distinct()
    ) | set(SecurityReport.objects.filter(brand_id__isnull=False).values_list("brand_id", flat=True).distinct()))
    with transaction.atomic():
        reports = [security_report_generate(brand_id=None, start=start, end=end)]
        reports += [security_report_generate(brand_id=brand_id, start=start, end=end) for brand_id in brands]
    return reports


def count_by(queryset, field: str, label_prefix: str = "· ") -> list[tuple[str, object]]:
    """Rows ``· value: count`` for a field (a helper for sections)."""
    return [(f"{label_prefix}{row[field]}", row["n"]) for row in
            queryset.values(field).annotate(n=Count("pk")).order_by("-n", field)]


__all__ = ["PERIOD", "count_by", "register_section", "security_report_generate", "security_reports_due",
           "security_reports_write"]
