"""Bulk override writes (many stores x many dishes, selected rows) and the nightly restore."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from audit.models import ActorType
from audit.services import audit_record

from ..models import Dish, Store, StoreDishOverride
from ._common import (
    BATCH_SIZE,
    CHANGE_OVERRIDE,
    OverrideChange,
    _audit_values,
    _grouped_overrides,
    _PerBrandTally,
    _record,
)
from .checks import (
    _as_list,
    _clean_available,
    _one_brand,
    _require_perm,
    _require_price_perm,
    check_dishes_allowed,
    check_stores_allowed,
    clean_price,
    clean_stock,
)
from .errors import InvalidOverrideValue, NothingSelected


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
        tally = _PerBrandTally()
        for override in qs.select_related("dish").order_by("pk"):
            if override.stock == override.daily_stock:
                tally.unchanged(override.brand_id)
                result.unchanged += 1
                continue
            override.stock = override.daily_stock
            override.updated_at = now
            result.updated.append(override)
            tally.updated(override.brand_id, store_code=codes[override.store_id], dish_code=override.dish.code)
        if result.updated:
            bulk_update_with_history(
                result.updated, StoreDishOverride, fields=["stock", "updated_at"],
                batch_size=BATCH_SIZE, default_user=actor, default_date=now, manager=_grouped_overrides,
            )
        # An actor hears about every brand they asked for; the nightly task only about changes.
        _record(tally.events(
            action=action, actor=actor, ip=ip,
            brand_ids={s.brand_id for s in store_list} if actor is not None else None,
            actor_type=None if actor is not None else ActorType.TASK,
        ))
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
        tally = _PerBrandTally()
        for row in rows:
            if action == "reset_stock":
                if row.daily_stock is None or row.stock == row.daily_stock:
                    tally.unchanged(row.brand_id)
                    result.unchanged += 1
                    continue
                row.stock = row.daily_stock
            else:
                value = action == "available"
                if row.is_available == value:
                    tally.unchanged(row.brand_id)
                    result.unchanged += 1
                    continue
                row.is_available = value
            row.updated_at = now
            result.updated.append(row)
            tally.updated(row.brand_id, store_code=row.store.code, dish_code=row.dish.code)
        if result.updated:
            fields = ["stock"] if action == "reset_stock" else ["is_available"]
            bulk_update_with_history(
                result.updated, StoreDishOverride, fields=[*fields, "updated_at"],
                batch_size=BATCH_SIZE, default_user=actor, default_date=now, manager=_grouped_overrides,
            )
        audit_action = "override.stock_reset" if action == "reset_stock" else "override.availability_set"
        extra = {} if action == "reset_stock" else {"is_available": action == "available"}
        _record(tally.events(action=audit_action, actor=actor, ip=ip, extra=extra))
    return result


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
