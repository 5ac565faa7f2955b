"""Writes to stores, menus and per-store overrides.

Every service is keyword-only, takes the acting user (``actor``; ``None`` only for the nightly
task), checks that the actor may act on every store and dish it is given (defence in depth
behind the admin and API scoping), writes history rows and one audit event per brand and
action, and returns what it changed.

Lock order, the same in every service: stores, then overrides (each in pk order), then the
audit chain. Audit events are the last writes of their transaction (see ``audit_record``): a
service that changes several rows collects its events and records them at the end, and an
admin page that saves a store with its overrides does so through one call (``store_save``).
Changing a store price needs ``stores.set_store_price`` on top of changing overrides.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from audit.models import ActorType
from audit.services import audit_record
from config.api import DomainError
from config.money import CENT

from .models import Dish, Store, StoreDishOverride
from .selectors import brand_ids_visible_to, store_ids_visible_to, user_manages_whole_brand

BATCH_SIZE = 500
MAX_STOCK = 2_147_483_647
MAX_PRICE = Decimal("9999999999.99")
OVERRIDE_FIELDS = ("price", "is_available", "stock", "daily_stock")
CHANGE_OVERRIDE = "stores.change_storedishoverride"
SET_PRICE = "stores.set_store_price"


class StoreAccessDenied(DomainError):
    code = "not_yours"
    status_code = 403

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("You may not act on this store or dish."), **kwargs)


class MixedBrands(DomainError):
    code = "mixed_brands"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("Stores and dishes must all belong to one brand."), **kwargs)


class InvalidOverrideValue(DomainError):
    code = "invalid"
    status_code = 400


class NothingSelected(DomainError):
    code = "nothing_selected"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("Pick at least one store and one dish."), **kwargs)


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


# --------------------------------------------------------------------------- checks


def _actor_may(actor, perm: str) -> bool:
    return (
        actor is not None
        and actor.is_authenticated
        and actor.is_active
        and not getattr(actor, "is_frozen", False)
        and actor.has_perm(perm)
    )


def _require_perm(actor, perm: str) -> None:
    if not _actor_may(actor, perm):
        raise StoreAccessDenied(_("You do not have permission to do this."))


def may_set_price(actor) -> bool:
    """Whether the actor may change store prices (HQ and store managers; not kitchen staff)."""
    return _actor_may(actor, SET_PRICE)


def _require_price_perm(actor) -> None:
    if not may_set_price(actor):
        raise StoreAccessDenied(_("You may not change store prices."))


def _as_list(items, model) -> list:
    """Stores or dishes given as instances, a queryset or ids -> a list of instances, pk order."""
    if items is None:
        return []
    items = list(items)
    ids = [item.pk if isinstance(item, model) else int(item) for item in items]
    qs = model.objects.filter(pk__in=ids).order_by("pk")
    if model is Dish:
        qs = qs.only("id", "brand_id", "code", "price")
    result = list(qs)
    if len(result) != len(set(ids)):
        raise StoreAccessDenied()
    return result


def check_stores_allowed(actor, stores: Iterable[Store]) -> None:
    """Refuse when any store lies outside the actor's stores."""
    allowed = store_ids_visible_to(actor)
    if allowed is None:
        return
    if any(store.pk not in allowed for store in stores):
        raise StoreAccessDenied()


def check_dishes_allowed(actor, dishes: Iterable[Dish]) -> None:
    allowed = brand_ids_visible_to(actor)
    if allowed is None:
        return
    if any(dish.brand_id not in allowed for dish in dishes):
        raise StoreAccessDenied()


def _one_brand(stores: list[Store], dishes: list[Dish]) -> int:
    brand_ids = {s.brand_id for s in stores} | {d.brand_id for d in dishes}
    if len(brand_ids) != 1:
        raise MixedBrands()
    return brand_ids.pop()


def clean_price(price) -> Decimal | None:
    if price is None or price == "":
        return None
    if isinstance(price, bool | float):
        raise InvalidOverrideValue(_("Give the price as a decimal number such as 12.50."))
    try:
        value = Decimal(str(price))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidOverrideValue(_("Give the price as a decimal number such as 12.50.")) from None
    if not value.is_finite():
        raise InvalidOverrideValue(_("Give the price as a decimal number such as 12.50."))
    if value < 0:
        raise InvalidOverrideValue(_("A price cannot be negative."))
    if value > MAX_PRICE:
        raise InvalidOverrideValue(_("This price is too large."))
    if value != value.quantize(CENT):
        raise InvalidOverrideValue(_("A price has at most two decimal places."))
    return value.quantize(CENT)


def clean_stock(stock, *, label: str = "stock") -> int | None:
    if stock is None or stock == "":
        return None
    if isinstance(stock, bool) or not isinstance(stock, int):
        raise InvalidOverrideValue(_("Stock must be a whole number of portions or empty for unlimited."))
    if stock < 0:
        raise InvalidOverrideValue(_("Stock cannot be negative."))
    if stock > MAX_STOCK:
        raise InvalidOverrideValue(_("This stock is too large."))
    return stock


def _clean_available(value) -> bool:
    if not isinstance(value, bool):
        raise InvalidOverrideValue(_("Availability must be true or false."))
    return value


def _clean_override_fields(fields: dict) -> dict:
    unknown = set(fields) - set(OVERRIDE_FIELDS)
    if unknown:
        raise InvalidOverrideValue(_("Unknown field: %(fields)s.") % {"fields": ", ".join(sorted(unknown))})
    cleaned = {}
    if "price" in fields:
        cleaned["price"] = clean_price(fields["price"])
    if "is_available" in fields:
        cleaned["is_available"] = _clean_available(fields["is_available"])
    if "stock" in fields:
        cleaned["stock"] = clean_stock(fields["stock"])
    if "daily_stock" in fields:
        cleaned["daily_stock"] = clean_stock(fields["daily_stock"])
    return cleaned


def _locked_override(pk: int) -> StoreDishOverride:
    return StoreDishOverride.objects.select_for_update(of=("self",)).select_related("store", "dish").get(pk=pk)


def _new_entry() -> dict:
    return {"updated": 0, "unchanged": 0, "stores": set(), "dishes": set()}


def _audit_values(values: dict) -> dict:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


# --------------------------------------------------------------------------- bulk overrides


def _bulk_apply(*, actor, stores, dishes, values: dict, action: str, ip: str | None) -> OverrideChange:
    """Set ``values`` on the override of every (store, dish) pair, creating missing rows."""
    _require_perm(actor, CHANGE_OVERRIDE)
    if "price" in values:
        _require_price_perm(actor)
    store_list = _as_list(stores, Store)
    dish_list = _as_list(dishes, Dish)
    if not store_list or not dish_list:
        raise NothingSelected()
    check_stores_allowed(actor, store_list)
    check_dishes_allowed(actor, dish_list)
    brand_id = _one_brand(store_list, dish_list)
    store_ids = [s.pk for s in store_list]
    dish_ids = [d.pk for d in dish_list]
    now = timezone.now()
    result = OverrideChange()

    with transaction.atomic():
        # Lock the stores first (pk order): concurrent bulk writers of the same stores wait here,
        # so two of them never insert the same missing override.
        list(Store.objects.select_for_update().filter(pk__in=store_ids).order_by("pk").values_list("pk", flat=True))
        existing = {
            (o.store_id, o.dish_id): o
            for o in StoreDishOverride.objects.select_for_update()
            .filter(store_id__in=store_ids, dish_id__in=dish_ids)
            .order_by("pk")
        }
        for store in store_list:
            for dish in dish_list:
                override = existing.get((store.pk, dish.pk))
                if override is None:
                    override = StoreDishOverride(brand_id=brand_id, store_id=store.pk, dish_id=dish.pk, **values)
                    result.created.append(override)
                elif any(getattr(override, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(override, name, value)
                    override.updated_at = now
                    result.updated.append(override)
                else:
                    result.unchanged += 1
        if result.created:
            result.created = bulk_create_with_history(
                result.created, StoreDishOverride, batch_size=BATCH_SIZE, default_user=actor, default_date=now
            )
        if result.updated:
            bulk_update_with_history(
                result.updated, StoreDishOverride, fields=[*values, "updated_at"],
                batch_size=BATCH_SIZE, default_user=actor, default_date=now, manager=_grouped_overrides,
            )
        audit_record(
            action=action,
            actor=actor,
            brand_id=brand_id,
            ip=ip,
            data={
                **_audit_values(values),
                "created": len(result.created),
                "updated": len(result.updated),
                "unchanged": result.unchanged,
                "stores": [s.code for s in store_list],
                "dishes": [d.code for d in dish_list],
            },
        )
    return result


def override_set_availability(*, actor, stores, dishes, available: bool, ip: str | None = None) -> OverrideChange:
    """Mark dishes available or sold out in many stores at once."""
    return _bulk_apply(
        actor=actor, stores=stores, dishes=dishes, values={"is_available": _clean_available(available)},
        action="override.availability_set", ip=ip,
    )


def override_set_price(
    *, actor, stores, dishes, price: Decimal | None, ip: str | None = None
) -> OverrideChange:
    """Set a store price for dishes in many stores; ``None`` goes back to the brand price."""
    return _bulk_apply(
        actor=actor, stores=stores, dishes=dishes, values={"price": clean_price(price)},
        action="override.price_set", ip=ip,
    )


_KEEP = object()


def override_set_stock(
    *, actor, stores, dishes, stock: int | None, daily_stock=_KEEP, ip: str | None = None
) -> OverrideChange:
    """Set today's stock (``None`` = unlimited) and, when given, the daily stock."""
    values = {"stock": clean_stock(stock)}
    if daily_stock is not _KEEP:
        values["daily_stock"] = clean_stock(daily_stock)
    return _bulk_apply(
        actor=actor, stores=stores, dishes=dishes, values=values, action="override.stock_set", ip=ip,
    )


def _reset_stock(*, actor, store_list: list[Store], dish_ids: list[int] | None, action: str, ip) -> OverrideChange:
    """Stock back to daily stock on every override that has one, one audit event per brand."""
    now = timezone.now()
    result = OverrideChange()
    store_ids = [s.pk for s in store_list]
    codes = {s.pk: s.code for s in store_list}
    with transaction.atomic():
        qs = StoreDishOverride.objects.select_for_update(of=("self",)).filter(
            store_id__in=store_ids, daily_stock__isnull=False
        )
        if dish_ids is not None:
            qs = qs.filter(dish_id__in=dish_ids)
        per_brand: dict[int, dict] = {}
        for override in qs.select_related("dish").order_by("pk"):
            entry = per_brand.setdefault(override.brand_id, _new_entry())
            if override.stock == override.daily_stock:
                entry["unchanged"] += 1
                result.unchanged += 1
                continue
            override.stock = override.daily_stock
            override.updated_at = now
            result.updated.append(override)
            entry["updated"] += 1
            entry["stores"].add(codes[override.store_id])
            entry["dishes"].add(override.dish.code)
        if result.updated:
            bulk_update_with_history(
                result.updated, StoreDishOverride, fields=["stock", "updated_at"],
                batch_size=BATCH_SIZE, default_user=actor, default_date=now, manager=_grouped_overrides,
            )
        brands = {s.brand_id for s in store_list} if actor is not None else set(per_brand)
        for brand_id in sorted(brands):
            entry = per_brand.get(brand_id, _new_entry())
            audit_record(
                action=action,
                actor=actor,
                actor_type=None if actor is not None else ActorType.TASK,
                brand_id=brand_id,
                ip=ip,
                data={
                    "updated": entry["updated"],
                    "unchanged": entry["unchanged"],
                    "stores": sorted(entry["stores"]),
                    "dishes": sorted(entry["dishes"]),
                },
            )
    return result


def override_reset_stock(*, actor, stores, dishes=None, ip: str | None = None) -> OverrideChange:
    """Put stock back to the daily stock wherever one is set (others are left as they are)."""
    _require_perm(actor, CHANGE_OVERRIDE)
    store_list = _as_list(stores, Store)
    if not store_list:
        raise NothingSelected(_("Pick at least one store."))
    check_stores_allowed(actor, store_list)
    dish_ids = None
    if dishes is not None:
        dish_list = _as_list(dishes, Dish)
        if not dish_list:
            raise NothingSelected()
        check_dishes_allowed(actor, dish_list)
        _one_brand(store_list, dish_list)
        dish_ids = [d.pk for d in dish_list]
    return _reset_stock(actor=actor, store_list=store_list, dish_ids=dish_ids, action="override.stock_reset", ip=ip)


def overrides_apply(*, actor, overrides, action: str, ip: str | None = None) -> OverrideChange:
    """A simple admin action on selected override rows: "sold_out", "available" or "reset_stock".

    Only the selected rows change; one audit event per brand.
    """
    _require_perm(actor, CHANGE_OVERRIDE)
    if action not in ("sold_out", "available", "reset_stock"):
        raise InvalidOverrideValue(_("Unknown action."))
    pks = sorted({o.pk if isinstance(o, StoreDishOverride) else int(o) for o in overrides})
    now = timezone.now()
    result = OverrideChange()
    with transaction.atomic():
        rows = list(
            StoreDishOverride.objects.select_for_update(of=("self",))
            .filter(pk__in=pks).select_related("store", "dish").order_by("pk")
        )
        if not rows or len(rows) != len(pks):
            raise NothingSelected(_("Pick at least one override."))
        check_stores_allowed(actor, [r.store for r in rows])
        per_brand: dict[int, dict] = {}
        for row in rows:
            entry = per_brand.setdefault(row.brand_id, _new_entry())
            if action == "reset_stock":
                if row.daily_stock is None or row.stock == row.daily_stock:
                    entry["unchanged"] += 1
                    result.unchanged += 1
                    continue
                row.stock = row.daily_stock
            else:
                value = action == "available"
                if row.is_available == value:
                    entry["unchanged"] += 1
                    result.unchanged += 1
                    continue
                row.is_available = value
            row.updated_at = now
            result.updated.append(row)
            entry["updated"] += 1
            entry["stores"].add(row.store.code)
            entry["dishes"].add(row.dish.code)
        if result.updated:
            fields = ["stock"] if action == "reset_stock" else ["is_available"]
            bulk_update_with_history(
                result.updated, StoreDishOverride, fields=[*fields, "updated_at"],
                batch_size=BATCH_SIZE, default_user=actor, default_date=now, manager=_grouped_overrides,
            )
        audit_action = "override.stock_reset" if action == "reset_stock" else "override.availability_set"
        extra = {} if action == "reset_stock" else {"is_available": action == "available"}
        for brand_id, entry in sorted(per_brand.items()):
            audit_record(
                action=audit_action, actor=actor, brand_id=brand_id, ip=ip,
                data={
                    **extra,
                    "updated": entry["updated"],
                    "unchanged": entry["unchanged"],
                    "stores": sorted(entry["stores"]),
                    "dishes": sorted(entry["dishes"]),
                },
            )
    return result


# --------------------------------------------------------------------------- single override


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


def _record(events: list[dict]) -> None:
    """Write a transaction's audit events: its last writes (see ``audit_record``)."""
    for event in events:
        audit_record(**event)


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


# --------------------------------------------------------------------------- stores


def store_set_open(*, actor, store: Store, is_open: bool, ip: str | None = None) -> Store:
    """Open or close a store for orders at once."""
    _require_perm(actor, "stores.change_store")
    is_open = _clean_available(is_open)
    with transaction.atomic():
        locked = Store.objects.select_for_update().get(pk=store.pk)
        check_stores_allowed(actor, [locked])
        if locked.is_open == is_open:
            return locked
        locked.is_open = is_open
        locked._history_user = actor
        locked.save(update_fields=["is_open"])
        audit_record(
            action="store.opened" if is_open else "store.closed", actor=actor, obj=locked, ip=ip,
            data={"store": locked.code},
        )
    return locked


class BrandImmutable(DomainError):
    code = "brand_immutable"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("The brand cannot be changed once the row exists."), **kwargs)


def store_save(
    *,
    actor,
    store: Store,
    changed: Iterable[str],
    overrides: Iterable[OverrideEdit] = (),
    save_children: Callable[[Store], None] | None = None,
    ip: str | None = None,
) -> Store:
    """Save a store edited in the admin (new or changed fields) with its override edits.

    One transaction: the store row, then ``save_children(store)`` (the admin's opening hours),
    then its overrides, then the audit events (store created or updated, opened or closed,
    each override created or updated). A store never changes brand: its overrides, opening
    hours and staff belong to the brand it was created in.
    """
    changed = list(changed)
    edits = list(overrides)
    is_new = store.pk is None
    if is_new:
        _require_perm(actor, "stores.add_store")
        if not (actor.is_superuser or user_manages_whole_brand(actor, store.brand_id)):
            raise StoreAccessDenied()
    else:
        _require_perm(actor, "stores.change_store")
        original = Store.objects.get(pk=store.pk)
        check_stores_allowed(actor, [original])
        if original.brand_id != store.brand_id:
            raise BrandImmutable(_("A store cannot move to another brand."))
    with transaction.atomic():
        events = []
        if is_new:
            store._history_user = actor
            store.save(force_insert=True)
            events.append({"action": "store.created", "actor": actor, "obj": store, "ip": ip,
                           "data": {"store": store.code}})
        else:
            locked = Store.objects.select_for_update().get(pk=store.pk)
            if locked.brand_id != store.brand_id:
                raise BrandImmutable(_("A store cannot move to another brand."))
            other = [name for name in changed if name != "is_open"]
            opened = "is_open" in changed and locked.is_open != store.is_open
            if not opened:
                store.is_open = locked.is_open
            if other or opened:
                store._history_user = actor
                store.save()
            if other:
                events.append({"action": "store.updated", "actor": actor, "obj": store, "ip": ip,
                               "data": {"fields": sorted(other)}})
            if opened:
                events.append({"action": "store.opened" if store.is_open else "store.closed", "actor": actor,
                               "obj": store, "ip": ip, "data": {"store": store.code}})
        if save_children is not None:
            save_children(store)
        _overrides, override_events = _apply_override_edits(actor=actor, store=store, edits=edits, ip=ip)
        _record(events + override_events)
    return store


# --------------------------------------------------------------------------- nightly task


def stock_restore_daily(*, store_ids: Iterable[int] | None = None) -> OverrideChange:
    """The nightly restore: stock = daily_stock wherever a daily stock is set.

    Safe to run twice: rows already at their daily stock are left alone.
    """
    stores = Store.objects.all() if store_ids is None else Store.objects.filter(pk__in=list(store_ids))
    store_list = list(stores.only("id", "brand_id", "code").order_by("pk"))
    if not store_list:
        return OverrideChange()
    return _reset_stock(actor=None, store_list=store_list, dish_ids=None, action="stock.daily_restored", ip=None)


# --------------------------------------------------------------------------- imports


def import_record(*, actor, action: str, brand_ids: Iterable[int], counts: dict, ip: str | None = None) -> None:
    """Write the audit event of a CSV import (one per brand touched)."""
    for brand_id in sorted(set(brand_ids)):
        audit_record(action=action, actor=actor, brand_id=brand_id, ip=ip, data=dict(counts))


def brand_for_import(actor) -> int:
    """The brand an import writes brand-wide rows into: the actor's own, HQ managers only."""
    ids = brand_ids_visible_to(actor)
    if ids is None:
        assignment = getattr(actor, "staff_assignment", None)
        if assignment is None:
            raise StoreAccessDenied(_("Assign yourself to a brand before importing dishes."))
        return assignment.brand_id
    if len(ids) != 1:
        raise StoreAccessDenied()
    brand_id = next(iter(ids))
    if not user_manages_whole_brand(actor, brand_id):
        raise StoreAccessDenied(_("Only HQ managers may import dishes."))
    return brand_id
