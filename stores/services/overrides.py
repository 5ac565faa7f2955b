"""Writes to one store's overrides: a single override, or the override edits of a store page."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from django.db import transaction

from audit.services import audit_record

from ..models import Dish, Store, StoreDishOverride
from ._common import CHANGE_OVERRIDE, OVERRIDE_FIELDS, _audit_values, _locked_override, _record
from .checks import (
    _as_list,
    _clean_override_fields,
    _one_brand,
    _require_perm,
    _require_price_perm,
    check_dishes_allowed,
    check_stores_allowed,
)
from .errors import StoreAccessDenied


@dataclass
class OverrideEdit:
    """One dish of one store to change: ``override`` when the row exists (``values`` then holds
    only the changed fields), else the ``dish`` whose override is created or updated."""

    values: dict
    override: StoreDishOverride | None = None
    dish: Dish | None = None


def _write_override(*, actor, store: Store, dish: Dish, locked: StoreDishOverride | None, values: dict, ip):
    """Create or change one override whose store (creation) or row (change) is locked.

    Returns the override and the keyword arguments of its audit event (``None``: nothing
    changed). Writes no audit event: the caller records it as its transaction's last write.
    """
    if locked is None:
        if values.get("price") is not None:
            _require_price_perm(actor)
        override = StoreDishOverride(brand_id=store.brand_id, store=store, dish=dish, **values)
        override._history_user = actor
        override.save(force_insert=True)
        event = {
            "action": "override.created", "actor": actor, "obj": override, "ip": ip,
            "data": {"store": store.code, "dish": dish.code, **_audit_values(values)},
        }
        return override, event
    changes = {
        name: {"from": getattr(locked, name), "to": value}
        for name, value in values.items()
        if getattr(locked, name) != value
    }
    if not changes:
        return locked, None
    if "price" in changes:
        _require_price_perm(actor)
    for name in changes:
        setattr(locked, name, values[name])
    locked._history_user = actor
    locked.save(update_fields=[*changes, "updated_at"])
    event = {
        "action": "override.updated", "actor": actor, "obj": locked, "ip": ip,
        "data": {
            "store": locked.store.code,
            "dish": locked.dish.code,
            "changes": {k: _audit_values(v) for k, v in changes.items()},
        },
    }
    return locked, event


def _apply_override_edits(*, actor, store: Store, edits: list[OverrideEdit], ip) -> tuple[list, list[dict]]:
    """The edits of one store's overrides, inside a transaction that holds the store's lock.

    Existing rows are locked in pk order, then missing rows are created. Returns the overrides
    and the audit events to record (by the caller, last).
    """
    if not edits:
        return [], []
    _require_perm(actor, CHANGE_OVERRIDE)
    cleaned = [_clean_override_fields(edit.values) for edit in edits]
    pks = sorted({edit.override.pk for edit in edits if edit.override is not None and edit.override.pk})
    locked_rows = {
        row.pk: row
        for row in StoreDishOverride.objects.select_for_update(of=("self",))
        .select_related("store", "dish").filter(pk__in=pks, store_id=store.pk).order_by("pk")
    }
    if len(locked_rows) != len(pks):
        raise StoreAccessDenied()
    new_dishes = _as_list([edit.dish for edit in edits if edit.override is None or not edit.override.pk], Dish)
    check_dishes_allowed(actor, new_dishes)
    if new_dishes:
        _one_brand([store], new_dishes)
    by_dish = {
        row.dish_id: row
        for row in StoreDishOverride.objects.select_for_update(of=("self",))
        .select_related("store", "dish")
        .filter(store_id=store.pk, dish_id__in=[d.pk for d in new_dishes]).order_by("pk")
    }
    dishes = {d.pk: d for d in new_dishes}
    results, events = [], []
    for edit, values in zip(edits, cleaned, strict=True):
        if edit.override is not None and edit.override.pk:
            locked = locked_rows[edit.override.pk]
            dish = locked.dish
        else:
            dish = dishes[edit.dish.pk if isinstance(edit.dish, Dish) else int(edit.dish)]
            locked = by_dish.get(dish.pk)
        override, event = _write_override(actor=actor, store=store, dish=dish, locked=locked, values=values, ip=ip)
        if locked is None:
            by_dish[dish.pk] = override
        results.append(override)
        if event is not None:
            events.append(event)
    return results, events


def override_update(*, actor, override: StoreDishOverride, ip: str | None = None, **fields) -> StoreDishOverride:
    """Change one override (price, is_available, stock, daily_stock); writes history and audit."""
    _require_perm(actor, CHANGE_OVERRIDE)
    values = _clean_override_fields(fields)
    with transaction.atomic():
        locked = _locked_override(override.pk)
        check_stores_allowed(actor, [locked.store])
        locked, event = _write_override(
            actor=actor, store=locked.store, dish=locked.dish, locked=locked, values=values, ip=ip
        )
        _record([event] if event else [])
    return locked


def override_set(*, actor, store: Store, dish: Dish, ip: str | None = None, **fields) -> StoreDishOverride:
    """Change the override of one dish in one store, creating it if missing."""
    _require_perm(actor, CHANGE_OVERRIDE)
    values = _clean_override_fields(fields)
    check_stores_allowed(actor, [store])
    check_dishes_allowed(actor, [dish])
    _one_brand([store], [dish])
    with transaction.atomic():
        Store.objects.select_for_update().filter(pk=store.pk).values_list("pk", flat=True).get()
        overrides, events = _apply_override_edits(
            actor=actor, store=store, edits=[OverrideEdit(values=values, dish=dish)], ip=ip
        )
        _record(events)
    return overrides[0]


def override_delete(*, actor, override: StoreDishOverride, ip: str | None = None) -> StoreDishOverride:
    """Remove an override: the store goes back to the brand price, available, unlimited."""
    _require_perm(actor, "stores.delete_storedishoverride")
    with transaction.atomic():
        locked = _locked_override(override.pk)
        check_stores_allowed(actor, [locked.store])
        data = {
            "store": locked.store.code,
            "dish": locked.dish.code,
            **_audit_values({name: getattr(locked, name) for name in OVERRIDE_FIELDS}),
        }
        gone = copy.copy(locked)  # keeps its pk for the audit event; delete() clears the original's
        locked._history_user = actor
        locked.delete()
        audit_record(action="override.deleted", actor=actor, obj=gone, ip=ip, data=data)
    return locked
