"""Reserving and releasing portions for orders.

A reservation is a guarded atomic decrement (``stock >= n``), the one kind of write that may
bypass the model (``QuerySet.update()``, or one ``UPDATE ... RETURNING`` statement per dish when
reserving): it cannot oversell whatever the number of buyers, and it never blocks on a read.
It runs inside the ordering service's transaction, so a failed order gives everything back by
rolling back; the order's own audit event records what was reserved (update() writes no
history row).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import F
from django.utils import timezone

from ..models import Store, StoreDishOverride
from .errors import SoldOut

_OVERRIDES = connection.ops.quote_name(StoreDishOverride._meta.db_table)
_RESERVE_SQL = (
    f"UPDATE {_OVERRIDES} SET stock = stock - %s, updated_at = %s "  # noqa: S608 - table name from the model
    "WHERE id = %s AND store_id = %s AND is_available AND stock >= %s RETURNING stock"
)


def stock_reserve(
    *,
    store: Store,
    quantities: Mapping[int, int],
    overrides: Mapping[int, Mapping[str, Any]] | None = None,
) -> dict[int, int | None]:
    """Take ``quantities`` (dish id -> portions) from the store's stock, all or nothing.

    Returns dish id -> portions left (``None``: unlimited). Raises ``SoldOut`` naming every
    dish that is switched off or short. Dishes are taken in id order, so two orders for the same
    dishes always lock their override rows in the same order. Call inside a transaction.

    ``overrides`` is what the caller already read of this store's override rows for these
    dishes in the same request (dish id -> ``{"pk", "is_available", "stock"}``; a dish without a
    row is left out), to spare reading them again; without it they are read here. Either way
    the decrement itself is guarded in SQL (``is_available AND stock >= n``), so a row changed
    since it was read can never be oversold.
    """
    if overrides is None:
        overrides = {
            row["dish_id"]: row
            for row in StoreDishOverride.objects.filter(store_id=store.pk, dish_id__in=list(quantities))
            .order_by()
            .values("pk", "dish_id", "is_available", "stock")
        }
    short: list[int] = []
    left: dict[int, int | None] = {}
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
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
            # One statement: the guarded decrement gives back what is left (PostgreSQL, SQLite >= 3.35).
            cursor.execute(_RESERVE_SQL, [wanted, now, row["pk"], store.pk, wanted])
            taken = cursor.fetchone()
            if taken is None:
                short.append(dish_id)
                continue
            left[dish_id] = taken[0]
    if short:
        raise SoldOut(dish_ids=short)
    return left


def stock_release(*, store_id: int, quantities: Mapping[int, int], skip_daily: bool = False) -> None:
    """Give reserved portions back (cancel, expiry, refund before preparation), in dish id order.

    ``quantities`` must be what ``stock_reserve`` actually took (dishes whose stock was limited
    then). Dishes whose stock is unlimited now need nothing back. ``skip_daily``: the portions
    were taken before the last nightly restore, which already reset the dishes that have a daily
    stock, so those get nothing back (the others still do).
    """
    now = timezone.now()
    for dish_id in sorted(quantities):
        rows = StoreDishOverride.objects.filter(store_id=store_id, dish_id=dish_id, stock__isnull=False)
        if skip_daily:
            rows = rows.filter(daily_stock__isnull=True)
        rows.update(stock=F("stock") + quantities[dish_id], updated_at=now)
