"""The monthly grant task: scheduled by beat, and however often it runs a member gets one grant a month."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from audit.models import AuditEvent
from canteen.models import EntryKind, SubsidyEntry, SubsidyWallet
from canteen.tasks import monthly_grants_task

pytestmark = pytest.mark.django_db


def test_the_task_is_on_the_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert monthly_grants_task.name == "canteen.tasks.monthly_grants_task"
    assert monthly_grants_task.name in scheduled


def test_the_task_run_twice_grants_once(member):
    assert monthly_grants_task.delay().get() == {"granted": 1, "expired": 0}
    assert monthly_grants_task.delay().get() == {"granted": 0, "expired": 0}

    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("300.00")
    grants = SubsidyEntry.objects.filter(wallet_id=member.pk, kind=EntryKind.GRANT)
    assert grants.count() == 1
    assert AuditEvent.objects.filter(action="subsidy.granted").count() == 1


def test_the_next_month_expires_what_was_left_then_grants_again(member, monkeypatch):
    from django.utils import timezone

    shanghai = ZoneInfo(settings.TIME_ZONE)
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 11, 30, 23, 0, tzinfo=shanghai))
    assert monthly_grants_task() == {"granted": 1, "expired": 0}
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 12, 1, 0, 5, tzinfo=shanghai))
    assert monthly_grants_task() == {"granted": 1, "expired": 1}
    assert monthly_grants_task() == {"granted": 0, "expired": 0}

    entries = SubsidyEntry.objects.filter(wallet_id=member.pk).order_by("pk")
    assert [(e.kind, e.amount, f"{e.month:%Y-%m}") for e in entries] == [
        (EntryKind.GRANT, Decimal("300.00"), "2026-11"),
        (EntryKind.EXPIRY, Decimal("-300.00"), "2026-12"),
        (EntryKind.GRANT, Decimal("300.00"), "2026-12"),
    ]
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("300.00")
