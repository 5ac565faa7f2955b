"""The 72-hour security report: its figures on a known set of refunds and codes, written once per
period by the periodic task, a broken audit chain named, shown in the admin to HQ of the brand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent, SecurityReport
from audit.security import security_report_generate, security_reports_due
from tests.accounts.factories import StaffFactory
from tests.refunds.factories import ask, line_of, paid
from tests.stores.factories import StaffAssignmentFactory

pytestmark = pytest.mark.django_db
BACKEND = "accounts.backends.RoleModelBackend"


def _figures(report) -> dict[str, dict[str, object]]:
    return {section["title"]: dict(section["rows"]) for section in report.data["sections"]}


@pytest.fixture
def activity(customer, store, menu, hq_manager):
    small = paid(customer, store, menu)
    ask(customer, small, lines=[{"line": line_of(small, menu.dumplings), "quantity": 1}])      # auto, 12.50
    big = paid(customer, store, menu, noodles=5, dumplings=4)
    ask(customer, big, reason_code="changed_plans")                                             # review, 150.00
    return small, big


def test_the_report_counts_refunds_codes_and_verifies_the_chain(activity, brand):
    now = timezone.now()
    report = security_report_generate(brand_id=brand.pk, start=now - timedelta(hours=72), end=now + timedelta(1))
    figures = _figures(report)
    refunds = figures["Refunds"]
    assert refunds["Refund requests"] == 2
    assert refunds["Amount asked (CNY)"] == "162.50"
    assert refunds["Approved automatically"] == 1
    assert refunds["Still waiting for review"] == 1
    assert refunds["Refunded"] == 1 and refunds["Amount refunded (CNY)"] == "12.50"
    assert figures["Refund risk rules"]["Requests with a risk flag"] == 0
    codes = figures["SMS codes"]
    assert codes["of which refund confirmation codes"] == 2
    assert figures["Audit trail"]["Audit chain verified"] == "intact"
    assert report.chain_ok is True


def test_a_tampered_audit_row_makes_the_report_say_broken(activity, brand):
    victim = AuditEvent.objects.filter(brand_id=brand.pk, action="refund.requested").first()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("UPDATE audit_auditevent SET amount = 1.00 WHERE id = %s", [victim.pk])
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    now = timezone.now()
    report = security_report_generate(brand_id=brand.pk, start=now - timedelta(hours=72), end=now + timedelta(1))
    assert report.chain_ok is False
    assert _figures(report)["Audit trail"]["Audit chain verified"] == "BROKEN"


def test_the_periodic_task_writes_one_report_per_72_hours(activity, brand):
    now = timezone.now()
    first = security_reports_due(now=now)
    assert sorted(r.brand_id or 0 for r in first) == [0, brand.pk]  # the platform's and the brand's
    assert security_reports_due(now=now + timedelta(hours=71)) == []
    assert SecurityReport.objects.count() == 2
    later = security_reports_due(now=now + timedelta(hours=72))
    assert len(later) == 2
    assert {r.period_start for r in later} == {now}  # the next period starts where the last ended
    call_command("security_report", stdout=open("/dev/null", "w"))  # noqa: SIM115 - the command writes one too
    assert SecurityReport.objects.filter(brand_id__isnull=True).count() == 3


def test_hq_reads_their_brands_report_in_the_admin_and_store_staff_do_not(client, activity, brand, hq_manager,
                                                                        store):
    now = timezone.now()
    mine = security_report_generate(brand_id=brand.pk, start=now - timedelta(hours=72), end=now + timedelta(1))
    platform = security_report_generate(brand_id=None, start=now - timedelta(hours=72), end=now + timedelta(1))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(hq_manager, backend=BACKEND)
    page = client.get(reverse("admin:audit_securityreport_change", args=[mine.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Refund requests" in body and "162.50" in body
    assert client.get(reverse("admin:audit_securityreport_change", args=[platform.pk])).status_code in (302, 403,
                                                                                                       404)
    kitchen = StaffFactory(phone="13700000009", role=Role.KITCHEN_STAFF)
    StaffAssignmentFactory(user=kitchen, brand=brand, stores=[store])
    client.force_login(kitchen, backend=BACKEND)
    assert client.get(reverse("admin:audit_securityreport_changelist")).status_code == 403
