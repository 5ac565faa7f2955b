"""The 72-hour security report: its figures on a known set of refunds and codes, written once per
period by the periodic task, a broken audit chain named, shown in the admin to HQ of the brand."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import SmsCodeInvalid
from audit.models import AuditEvent, SecurityReport
from audit.security import security_report_generate, security_reports_due
from refunds.models import RefundPolicy
from refunds.services import refund_request_create
from tests.accounts.factories import StaffFactory, UserFactory
from tests.refunds.factories import ask, line_of, paid, send_code
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
    out = io.StringIO()
    call_command("security_report", stdout=out)  # now, whatever the schedule: the platform's and the brand's
    assert SecurityReport.objects.filter(brand_id__isnull=True).count() == 3
    assert SecurityReport.objects.filter(brand_id=brand.pk).count() == 3
    assert "(platform)" in out.getvalue() and f"(brand {brand.pk})" in out.getvalue()


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


def test_the_report_counts_risk_hits_frozen_accounts_wrong_codes_and_admin_changes(
        client, customer, store, menu, brand, hq_manager, django_capture_on_commit_callbacks):
    # Ten accounts ask from one /24: the tenth is flagged and frozen.
    refunds = []
    for i in range(10):
        someone = UserFactory(phone=f"1390000{i:04d}")
        refunds.append(ask(someone, paid(someone, store, menu), ip=f"198.51.100.{10 + i}"))
    flagged = refunds[-1]
    assert [flag["rule"] for flag in flagged.risk_flags] == ["network_subnet"]
    # Two wrong tries of a refund code.
    order = paid(customer, store, menu)
    right = send_code(customer, order)
    for wrong in [code for code in ("000000", "111111", "222222") if code != right][:2]:
        with pytest.raises(SmsCodeInvalid):
            refund_request_create(actor=customer, order_id=order.pk, reason_code="changed_plans", code=wrong)
    # HQ lifts the freeze from the review screen and changes the policy in the admin (its log);
    # a superuser's admin change belongs to no brand.
    client.force_login(hq_manager, backend=BACKEND)
    unfreeze = reverse("admin:refunds_refundrequest_unfreeze", args=[flagged.pk])
    assert client.post(unfreeze, {"reason": "Students of one dormitory"}).status_code == 302
    policy = RefundPolicy.objects.get(brand=brand)
    form = {name: str(getattr(policy, name)) for name in (
        "auto_approve_limit", "review_minutes", "window_days", "velocity_max_per_hour", "ratio_threshold",
        "ratio_min_orders", "network_window_minutes", "ip_max_accounts", "subnet_max_accounts")}
    form.update(network_rule_enabled="on", subnet_max_accounts="20")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:refunds_refundpolicy_change", args=[policy.pk]), form)
    assert response.status_code == 302
    root = StaffFactory(phone="13700000099", role=Role.HQ_MANAGER, is_superuser=True)
    StaffAssignmentFactory(user=root, brand=brand)  # a superuser acts for the platform all the same
    LogEntry.objects.log_actions(root.pk, [store], CHANGE, change_message="opening hours")

    now = timezone.now()
    period = {"start": now - timedelta(hours=72), "end": now + timedelta(minutes=1)}
    figures = _figures(security_report_generate(brand_id=brand.pk, **period))
    assert figures["Refund risk rules"]["Requests with a risk flag"] == 1
    assert figures["Refund risk rules"]["Customers flagged"] == 1
    assert figures["Refund risk rules"]["· network_subnet"] == 1
    accounts = figures["Accounts and logins"]
    assert (accounts["Accounts frozen"], accounts["Accounts unfrozen"], accounts["Accounts frozen now (platform)"]) \
        == (1, 1, 0)
    assert figures["SMS codes"]["Wrong code tries (platform)"] == 2
    back_office = figures["Back office"]
    assert back_office["Admin changes (Django admin log)"] == 1 and back_office["· changes"] == 1
    assert back_office["People who made them"] == 1 and back_office["· refunds.refundpolicy"] == 1
    people = figures["Admin actions"]
    assert people["· account.unfrozen"] == 1 and people["· refund.policy_changed"] == 1
    platform = _figures(security_report_generate(brand_id=None, **period))["Back office"]
    assert platform["Admin changes (Django admin log)"] == 2 and platform["People who made them"] == 2
