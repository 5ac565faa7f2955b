"""Reserving and releasing portions for orders.

A reservation is a guarded atomic decrement (``stock >= n``), the one kind of write that may use
``QuerySet.update()``: it cannot oversell whatever the number of buyers, and it never blocks on a
read. It runs inside the ordering service's transaction, so a failed order gives everything back
by rolling back; the order's own audit event records what was reserved (update() writes no
history row).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import F
from django.utils import timezone

from ..models import Store, StoreDishOverride
from .errors import SoldOut


def stock_reserve(*, store: Store, quantities: Mapping[int, int]) -> dict[int, int | None]:
    """Take ``quantities`` (dish id -> portions) from the store's stock, all or nothing.

    Returns dish id -> portions left (``None``: unlimited). Raises ``SoldOut`` naming every
    dish that is switched off or short. Dishes are taken in id order, so two orders for the same
    dishes always lock their override rows in the same order. Call inside a transaction.
    """
    overrides = {
        row["dish_id"]: row
        for row in StoreDishOverride.objects.filter(store_id=store.pk, dish_id__in=list(quantities))
        .order_by()
        .values("pk", "dish_id", "is_available", "stock")
    }
    short: list[int] = []
    left: dict[int, int | None] = {}
    now = timezone.now()
    for dish_id in sorted(quantities):
        wanted = quantities[dish_id]
        if wanted <= 0:
            raise ValueError("Reserve a positive number of portions.")
        row = overrides.get(dish_id)
        if row is None or (row["is_available"] and row["stock"] is None):
            left[dish_id] = None
            continue
        if not row["is_available"]:
            short.append(dish_id)
            continue
        taken = StoreDishOverride.objects.filter(pk=row["pk"], is_available=True, stock__gte=wanted).update(
            stock=F("stock") - wanted, updated_at=now
        )
        if not taken:
            short.append(dish_id)
            continue
        left[dish_id] = StoreDishOverride.objects.filter(pk=row["pk"]).values_list("stock", flat=True).get()
    if short:
        raise SoldOut(dish_ids=short)
    return left


def stock_release(*, store_id: int, quantities: Mapping[int, int]) -> None:
    """Give reserved portions back (cancel, expiry, refund before preparation).

    Dishes with unlimited stock (no override, or an empty stock) need nothing back.
    """
    now = timezone.now()
    for dish_id in sorted(quantities):
        StoreDishOverride.objects.filter(store_id=store_id, dish_id=dish_id, stock__isnull=False).update(
            stock=F("stock") + quantities[dish_id], updated_at=now
        )
