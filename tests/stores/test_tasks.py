import pytest
from django.conf import settings

from audit.models import AuditEvent
from stores.models import StoreDishOverride
from stores.tasks import stock_restore_daily_task
from tests.stores.factories import StoreDishOverrideFactory, StoreFactory

pytestmark = pytest.mark.django_db


def test_task_name_matches_beat_schedule():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert stock_restore_daily_task.name == "stores.tasks.stock_restore_daily_task"
    assert stock_restore_daily_task.name in scheduled


def test_restore_task_restores_and_is_safe_to_run_twice(store):
    sold = StoreDishOverrideFactory(store=store, stock=0, daily_stock=40)
    untouched = StoreDishOverrideFactory(store=store, stock=3, daily_stock=None)

    assert stock_restore_daily_task.delay().get() == 1
    assert stock_restore_daily_task.delay().get() == 0

    sold.refresh_from_db()
    untouched.refresh_from_db()
    assert sold.stock == 40
    assert untouched.stock == 3
    assert sold.history.filter(history_type="~").count() == 1
    assert AuditEvent.objects.filter(action="stock.daily_restored").count() == 2


def test_restore_task_limited_to_given_stores(brand, store):
    other = StoreFactory(brand=brand, code="SH009")
    mine = StoreDishOverrideFactory(store=store, stock=0, daily_stock=10)
    theirs = StoreDishOverrideFactory(store=other, stock=0, daily_stock=10)

    assert stock_restore_daily_task(store_ids=[store.pk]) == 1

    assert StoreDishOverride.objects.get(pk=mine.pk).stock == 10
    assert StoreDishOverride.objects.get(pk=theirs.pk).stock == 0
