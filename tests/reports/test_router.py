"""config.db_routers: reports read their rollups from the ``reports`` alias when it is configured."""

import pytest
from django.conf import settings
from django.test import override_settings

from config.db_routers import REPORTS_ALIAS, ReportsReplicaRouter
from ordering.models import Order
from reports.models import DishDaySales, StoreDaySales

router = ReportsReplicaRouter()


@pytest.fixture
def replica(monkeypatch):
    """As if REPORTS_DATABASE_URL were set (the router asks config.db_routers.reports_alias_configured)."""
    monkeypatch.setattr("config.db_routers.reports_alias_configured", lambda: True)


def test_without_a_replica_everything_uses_the_default_routing():
    assert REPORTS_ALIAS not in settings.DATABASES
    assert router.db_for_read(DishDaySales) is None
    assert router.db_for_write(DishDaySales) is None
    assert DishDaySales.objects.all().db == "default"
    assert router.allow_migrate("default", "reports") is None


def test_with_a_replica_reports_read_from_it_and_write_to_default(replica):
    assert router.db_for_read(DishDaySales) == REPORTS_ALIAS
    assert router.db_for_read(StoreDaySales) == REPORTS_ALIAS
    assert router.db_for_read(Order) is None  # the orders themselves stay on the primary
    assert router.db_for_write(DishDaySales) == "default"
    assert router.db_for_write(Order) == "default"
    assert router.allow_migrate(REPORTS_ALIAS, "reports") is False
    assert router.allow_migrate(REPORTS_ALIAS, "ordering") is False
    assert router.allow_migrate("default", "reports") is None


def test_querysets_pick_the_alias_through_the_configured_router(replica):
    assert "config.db_routers.ReportsReplicaRouter" in settings.DATABASE_ROUTERS
    assert DishDaySales.objects.filter(day__isnull=False).db == REPORTS_ALIAS
    assert Order.objects.all().db == "default"


def test_relations_between_primary_and_replica_rows_are_allowed():
    a, b = StoreDaySales(), StoreDaySales()
    a._state.db, b._state.db = "default", REPORTS_ALIAS
    assert router.allow_relation(a, b) is True
    b._state.db = "other"
    assert router.allow_relation(a, b) is None


def test_settings_add_the_alias_from_the_environment(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("REPORTS_DATABASE_URL", "postgres://reader@10.0.0.2:5432/restaurant")
    try:
        reloaded = importlib.reload(base)
        assert reloaded.DATABASES[REPORTS_ALIAS]["HOST"] == "10.0.0.2"
        assert reloaded.DATABASES[REPORTS_ALIAS]["USER"] == "reader"
        assert reloaded.DATABASES[REPORTS_ALIAS]["TEST"] == {"MIRROR": "default"}
    finally:
        monkeypatch.delenv("REPORTS_DATABASE_URL")
        importlib.reload(base)


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_the_alias_is_read_from_the_settings():
    from config import db_routers

    with override_settings(DATABASES={**settings.DATABASES, REPORTS_ALIAS: settings.DATABASES["default"]}):
        assert db_routers.reports_alias_configured() is True
    assert db_routers.reports_alias_configured() is False


@pytest.mark.django_db
def test_dashboard_selectors_read_from_the_replica(world, replica):
    from reports.selectors import _in_filter
    from reports.services import rollups_refresh

    from .conftest import D1
    from .test_dashboard import _filter

    assert _in_filter(StoreDaySales, _filter(world)).db == REPORTS_ALIAS
    assert StoreDaySales.objects.filter(store=world.sh001).db == REPORTS_ALIAS
    # the refresh writes on the primary, with the same router in place
    assert rollups_refresh(start=D1, end=D1)["StoreDaySales"] == 3
