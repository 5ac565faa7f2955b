"""Constants and helpers shared by the services: the grouped bulk update manager, the result
of a bulk service, and the audit helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models

from audit.services import audit_record_many

from ..models import StoreDishOverride

BATCH_SIZE = 500
MAX_STOCK = 2_147_483_647
MAX_PRICE = Decimal("9999999999.99")
OVERRIDE_FIELDS = ("price", "is_available", "stock", "daily_stock")
CHANGE_OVERRIDE = "stores.change_storedishoverride"
SET_PRICE = "stores.set_store_price"


class _GroupedBulkUpdateManager(models.Manager):
    """``bulk_update`` for rows that share a few distinct value sets (a bulk action across
    stores, the nightly restore): one ``UPDATE ... WHERE id IN (...)`` per value set and batch
    instead of Django's per-row CASE expression, which is far too slow for 200 stores x 60
    dishes. Only used through ``bulk_update_with_history(manager=...)``, so every row still
    gets its history record. Many distinct value sets fall back to the ordinary ``bulk_update``.
    """

    max_groups = 50

    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        if not objs:
            return 0
        attnames = [self.model._meta.get_field(name).attname for name in fields]
        groups: dict[tuple, list[int]] = {}
        for obj in objs:
            groups.setdefault(tuple(getattr(obj, name) for name in attnames), []).append(obj.pk)
        if len(groups) > self.max_groups:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        size = batch_size or len(objs)
        updated = 0
        for key, pks in groups.items():
            values = dict(zip(attnames, key, strict=True))
            for i in range(0, len(pks), size):
                updated += self.get_queryset().filter(pk__in=pks[i : i + size]).update(**values)
        return updated


_grouped_overrides = _GroupedBulkUpdateManager()
_grouped_overrides.model = StoreDishOverride


@dataclass
class OverrideChange:
    """What a bulk override service did."""

    created: list[StoreDishOverride] = field(default_factory=list)
    updated: list[StoreDishOverride] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> list[StoreDishOverride]:
        return self.created + self.updated

    @property
    def count(self) -> int:
        return len(self.created) + len(self.updated)


def _locked_override(pk: int) -> StoreDishOverride:
    return StoreDishOverride.objects.select_for_update(of=("self",)).select_related("store", "dish").get(pk=pk)


class _PerBrandTally:
    """What a bulk change did per brand, written as one audit event per brand."""

    def __init__(self):
        self._entries: dict[int, dict] = {}

    def _entry(self, brand_id: int) -> dict:
        return self._entries.setdefault(brand_id, {"updated": 0, "unchanged": 0, "stores": set(), "dishes": set()})

    def unchanged(self, brand_id: int) -> None:
        self._entry(brand_id)["unchanged"] += 1

    def updated(self, brand_id: int, *, store_code: str, dish_code: str) -> None:
        entry = self._entry(brand_id)
        entry["updated"] += 1
        entry["stores"].add(store_code)
        entry["dishes"].add(dish_code)

    def events(
        self, *, action: str, actor, ip, extra: dict | None = None, brand_ids=None, actor_type=None
    ) -> list[dict]:
        """One event per brand tallied (or per brand of ``brand_ids``, tallied or not)."""
        events = []
        for brand_id in sorted(self._entries if brand_ids is None else brand_ids):
            entry = self._entries.get(brand_id) or {"updated": 0, "unchanged": 0, "stores": (), "dishes": ()}
            events.append({
                "action": action, "actor": actor, "actor_type": actor_type, "brand_id": brand_id, "ip": ip,
                "data": {
                    **(extra or {}),
                    "updated": entry["updated"],
                    "unchanged": entry["unchanged"],
                    "stores": sorted(entry["stores"]),
                    "dishes": sorted(entry["dishes"]),
                },
            })
        return events


def _audit_values(values: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


def _record(events: list[dict]) -> None:
    """Write a transaction's audit events: its last writes (see ``audit_record``)."""
    audit_record_many(events)
