"""Data migrations of accounts, run against today's models."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from accounts.models import User
from accounts.services import user_freeze
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_freezes_from_before_frozen_brand_id_get_the_brand_of_their_audit_event(brand):
    by_rule = UserFactory(phone="13800000011")
    user_freeze(user=by_rule, reason="Refund risk rule: velocity", brand_id=brand.pk)
    by_superuser = UserFactory(phone="13800000012")
    user_freeze(user=by_superuser, reason="Chargeback")
    User.objects.update(frozen_brand_id=None)  # as they were before the field

    migration = importlib.import_module("accounts.migrations.0003_frozen_brand")
    migration.brands_of_current_freezes(apps, None)

    assert User.objects.get(pk=by_rule.pk).frozen_brand_id == brand.pk
    assert User.objects.get(pk=by_superuser.pk).frozen_brand_id is None
