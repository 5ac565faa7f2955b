"""Every write to orders: submit, pay (called by payments), kitchen bumps, redemption, cancel, expiry,
and what an approved refund does to an order (called by refunds).

Lock order, the same in every service, so two of them never wait on each other in a circle:

1. stock rows (``StoreDishOverride``, dish id order; ``order_submit``),
2. the order number counter of the store and day (``order_submit`` only),
3. the order row (``select_for_update``); cancel and expiry then give stock back under it, in
   dish id order (no service waits for an order row while holding stock rows, so this is safe),
4. payment rows, then wallet rows (gift card, subsidy; the payments services),
5. the audit chain: always the last write (``audit_record``).

Paying and expiring both lock the order row first and re-check its status under the lock, so an
order being paid at the instant it expires ends either paid or cancelled (expired), never both;
a wallet debit happens only after the order is locked and still awaiting payment, so no money
moves for an expired order. Expiry skips orders whose row is locked (a payment in progress) and
tries again on its next run.

Each transition saves the order (one history row, its actor from ``_history_user``) and writes
one audit event. Services that payments composes into its own transaction (``order_mark_paid``)
do not audit themselves but return their event for the caller to record last.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record, audit_record_many
from config.money import money
from stores.models import DiningTable, Dish, FulfilmentMode, Option, OptionGroup, Store, StoreDishOverride
from stores.selectors import distance_km, local_now, store_ids_visible_to, store_is_open_now
from stores.services import SoldOut, stock_release, stock_reserve

from .errors import (
    AccountFrozen,
    IdempotencyConflict,
    NotYourStore,
    OrderInvalid,
    OrderNotFound,
    OrderStateConflict,
    OutsideDeliveryArea,
    PickupCodeInvalid,
    StoreClosed,
)
from .models import KITCHEN_STATES, CancelReason, Order, OrderLine, OrderNumberCounter, OrderSource, OrderStatus
from .signals import order_ended

MAX_LINES = 30
MAX_QUANTITY = 99  # per line
MAX_PORTIONS = 200  # per order
NOTE_MAX = 200
PICKUP_CODE_ATTEMPTS = 20
EXPIRY_BATCH = 200
_DISH_GROUPS = Dish.option_groups.through  # dish <-> option group links
# The dishes of an order on the brand's menu, each with this store's override row (if any) and
# whether it has option groups: one statement. Parameters: store id, brand id, then the dish ids.
_DISHES_SQL = (
    "SELECT " + ", ".join(f"d.{field.column}" for field in Dish._meta.concrete_fields) + ", "  # noqa: S608
    "o.id AS override_pk, o.price AS override_price, o.is_available AS override_available, "
    "o.stock AS override_stock, "
    f"EXISTS (SELECT 1 FROM {connection.ops.quote_name(_DISH_GROUPS._meta.db_table)} g "
    "WHERE g.dish_id = d.id) AS has_groups "
    f"FROM {connection.ops.quote_name(Dish._meta.db_table)} d "
    f"LEFT JOIN {connection.ops.quote_name(StoreDishOverride._meta.db_table)} o "
    "ON o.dish_id = d.id AND o.store_id = %%s "
    "WHERE d.brand_id = %%s AND d.is_active AND d.id IN (%(ids)s)"
)


@dataclass(frozen=True)
class LineRequest:
    dish_id: int
    quantity: int
    option_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SubmitResult:
    order: Order
    created: bool


@dataclass
class _PricedLine:
    dish: Dish
    quantity: int
    options: list[Option] = field(default_factory=list)
    base_price: Decimal = Decimal("0.00")

    @property
    def unit_price(self) -> Decimal:
        return money(self.base_price + sum((o.price_delta for o in self.options), Decimal("0")))


def _actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _check_not_frozen(actor) -> None:
    if actor is not None and getattr(actor, "is_frozen", False):
        reason = getattr(actor, "frozen_reason", "") or ""
        message = _("Your account is frozen, so it cannot place orders.")
        if reason:
            message = f"{message} {reason}"
        raise AccountFrozen(message)


def _fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _clean_lines(lines: Sequence[LineRequest]) -> list[LineRequest]:
    if not lines:
        raise OrderInvalid(_("Your order has no dishes."))
    if len(lines) > MAX_LINES:
        raise OrderInvalid(_("An order can have at most %(n)d lines.") % {"n": MAX_LINES})
    total = 0
    for line in lines:
        if not isinstance(line.dish_id, int) or isinstance(line.dish_id, bool):
            raise OrderInvalid(_("A dish in your order is not on this store's menu."))
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool):
            raise OrderInvalid(_("Quantities must be whole numbers."))
        if line.quantity < 1 or line.quantity > MAX_QUANTITY:
            raise OrderInvalid(_("Each quantity must be between 1 and %(max)d.") % {"max": MAX_QUANTITY})
        total += line.quantity
    if total > MAX_PORTIONS:
        raise OrderInvalid(_("An order can have at most %(max)d portions.") % {"max": MAX_PORTIONS})
    return list(lines)


def _price_lines(store: Store, lines: list[LineRequest]) -> tuple[list[_PricedLine], dict[int, dict]]:
    """Load the dishes and options asked for, check they belong to this store's menu, price them.

    Returns the priced lines and the store's override rows of these dishes (dish id ->
    ``{"pk", "price", "is_available", "stock"}``, for ``stock_reserve``). The dishes and their
    overrides are one query; option groups and options are read only for dishes that have groups
    (options only when a line chooses some).
    """
    dish_ids = {line.dish_id for line in lines}
    # Plain SQL, as Dish instances: on the hot path the ORM would spend more building it than running it.
    sql = _DISHES_SQL % {"ids": ", ".join(["%s"] * len(dish_ids))}
    dishes = {dish.pk: dish for dish in Dish.objects.raw(sql, [store.pk, store.brand_id, *sorted(dish_ids)])}
    missing = dish_ids - dishes.keys()
    if missing:
        raise OrderInvalid(_("A dish in your order is not on this store's menu."))
    overrides = {
        dish.pk: {
            "pk": dish.override_pk,
            "price": None if dish.override_price is None else money(Decimal(str(dish.override_price))),
            "is_available": bool(dish.override_available),
            "stock": dish.override_stock,
        }
        for dish in dishes.values()
        if dish.override_pk is not None
    }
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.dish_id] = wanted.get(line.dish_id, 0) + line.quantity
    sold_out = []
    for dish_id, quantity in wanted.items():
        row = overrides.get(dish_id)
        if row is not None and (not row["is_available"] or (row["stock"] is not None and row["stock"] < quantity)):
            sold_out.append(dish_id)
    if sold_out:
        names = ", ".join(sorted(dishes[d].name for d in sold_out))
        raise SoldOut(_("Sold out or not enough left: %(dishes)s.") % {"dishes": names}, dish_ids=sold_out)

    # Option groups (in their menu order) of the dishes that have any, and their options when chosen.
    groups_of: dict[int, list[OptionGroup]] = {}
    options_of: dict[int, list[Option]] = {}
    with_groups = [dish.pk for dish in dishes.values() if dish.has_groups]
    if with_groups:
        for link in (
            _DISH_GROUPS.objects.filter(dish_id__in=with_groups)
            .select_related("optiongroup")
            .order_by("optiongroup__sort_order", "optiongroup__id")
        ):
            groups_of.setdefault(link.dish_id, []).append(link.optiongroup)
        if any(line.option_ids and line.dish_id in groups_of for line in lines):
            group_by_id = {group.pk: group for groups in groups_of.values() for group in groups}
            for option in Option.objects.filter(group_id__in=list(group_by_id)):
                option.group = group_by_id[option.group_id]
                options_of.setdefault(option.group_id, []).append(option)

    priced = []
    for line in lines:
        dish = dishes[line.dish_id]
        groups = {group.pk: group for group in groups_of.get(dish.pk, ())}
        by_id = {option.pk: option for group_id in groups for option in options_of.get(group_id, ())}
        if len(set(line.option_ids)) != len(line.option_ids):
            raise OrderInvalid(_("An option was chosen twice for %(dish)s.") % {"dish": dish.name})
        chosen = []
        for option_id in line.option_ids:
            option = by_id.get(option_id)
            if option is None:
                raise OrderInvalid(_("That option is not offered with %(dish)s.") % {"dish": dish.name})
            chosen.append(option)
        for group in groups.values():
            count = sum(1 for option in chosen if option.group_id == group.pk)
            if count < group.min_choices:
                raise OrderInvalid(
                    _("Choose %(group)s for %(dish)s.") % {"group": group.name, "dish": dish.name}
                )
            if count > group.max_choices:
                raise OrderInvalid(
                    _("Choose at most %(n)d of %(group)s for %(dish)s.")
                    % {"n": group.max_choices, "group": group.name, "dish": dish.name}
                )
        override_price = overrides.get(dish.pk, {}).get("price")
        base = override_price if override_price is not None else dish.price
        chosen.sort(key=lambda o: (o.group_id, o.sort_order, o.pk))
        priced.append(_PricedLine(dish=dish, quantity=line.quantity, options=chosen, base_price=base))
    return priced, overrides


def _check_fulfilment(
    store: Store, fulfilment: str, *, table: str, address: str, latitude, longitude
) -> tuple[str, Decimal | None, Decimal]:
    """Returns (table code, delivery distance, delivery fee) or raises why the mode is refused."""
    if fulfilment not in FulfilmentMode.values:
        raise OrderInvalid(_("Choose pickup, delivery or dine-in."))
    if fulfilment not in store.fulfilment_modes:
        raise OrderInvalid(
            _("%(store)s does not offer %(mode)s.") % {"store": store.name, "mode": FulfilmentMode(fulfilment).label}
        )
    if fulfilment == FulfilmentMode.DINE_IN:
        if not table:
            raise OrderInvalid(_("Scan the QR code on your table to order for dine-in."))
        if not DiningTable.objects.filter(store_id=store.pk, code=table, is_active=True).exists():
            raise OrderInvalid(_("Table %(table)s is not a table of this store.") % {"table": table})
        return table, None, Decimal("0.00")
    if fulfilment == FulfilmentMode.DELIVERY:
        if not address.strip():
            raise OrderInvalid(_("Enter a delivery address."))
        if latitude is None or longitude is None:
            raise OrderInvalid(_("Locate your delivery address on the map (latitude and longitude)."))
        try:
            lat, lng = Decimal(str(latitude)), Decimal(str(longitude))
        except Exception:
            raise OrderInvalid(_("The delivery location is not valid.")) from None
        if not (lat.is_finite() and lng.is_finite() and Decimal(-90) <= lat <= Decimal(90)
                and Decimal(-180) <= lng <= Decimal(180)):
            raise OrderInvalid(_("The delivery location is not valid."))
        if store.latitude is None or store.longitude is None:
            raise OutsideDeliveryArea(_("This store cannot deliver: its location is not set."))
        distance = distance_km(store.latitude, store.longitude, lat, lng)
        if distance > store.delivery_radius_km:
            raise OutsideDeliveryArea(
                _("This address is %(distance)s km away; %(store)s delivers within %(radius)s km.")
                % {"distance": distance.quantize(Decimal("0.1")), "store": store.name,
                   "radius": store.delivery_radius_km}
            )
        return "", distance, store.delivery_fee
    return "", None, Decimal("0.00")


def _next_number(store_id: int, business_date) -> int:
    """The next order number of the store and day, from a counter row held until commit.

    One upsert statement (PostgreSQL and SQLite both speak ``ON CONFLICT ... RETURNING``), so
    two orders never get the same number and no ``Max()+1`` race exists.
    """
    table = OrderNumberCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (store_id, business_date, last_number) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (store_id, business_date) DO UPDATE SET last_number = {table}.last_number + 1 "
            "RETURNING last_number",
            [store_id, business_date],
        )
        return cursor.fetchone()[0]


def _existing_for_key(scope: str, key: str, fingerprint: str) -> Order | None:
    # At most one row (the unique index on scope and key, which this uses): no ORDER BY needed.
    existing = next(iter(Order.objects.filter(idempotency_scope=scope, idempotency_key=key).order_by()[:1]), None)
    if existing is None:
        return None
    if existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict()
    return existing


def _order_event(order: Order, action: str, *, actor, ip=None, reason: str = "", data: dict | None = None) -> dict:
    payload = {"store": order.store.code, "number": order.number, "status": order.status}
    payload.update(data or {})
    return {
        "action": action,
        "actor": _actor_or_none(actor),
        "actor_type": None if _actor_or_none(actor) else "system",
        "obj": order,
        "brand_id": order.brand_id,
        "amount": order.total,
        "reason": reason,
        "ip": ip,
        "data": payload,
    }


def _save_transition(order: Order, actor) -> None:
    order._history_user = _actor_or_none(actor)
    order.save()


def _keep_lines(order: Order, lines: list[OrderLine]) -> None:
    """Leave the new order's lines on it as if prefetched, so ``order.lines.all()`` needs no query.

    The same as ``prefetch_related_objects`` stores (a queryset holding its results); the lines
    are the rows just inserted, in position order. Any other query on ``order.lines`` still reads
    the database.
    """
    queryset = order.lines.all()
    queryset._result_cache = list(lines)
    queryset._prefetch_done = True
    order.__dict__.setdefault("_prefetched_objects_cache", {})["lines"] = queryset


def order_submit(
    *,
    actor,
    store: Store,
    fulfilment: str,
    lines: Sequence[LineRequest],
    table: str = "",
    address: str = "",
    latitude=None,
    longitude=None,
    contact_phone: str = "",
    note: str = "",
    source: str = OrderSource.WEB,
    idempotency_key: str = "",
    ip: str | None = None,
    now=None,
) -> SubmitResult:
    """Place an order: check it, reserve its stock, number it, and leave it awaiting payment.

    ``actor`` is the customer (``None`` for a kiosk). With an ``idempotency_key`` the same key
    and the same request return the same order (``created=False``); the same key with another
    request raises ``IdempotencyConflict``. Raises ``OrderInvalid``, ``StoreClosed``,
    ``SoldOut``, ``OutsideDeliveryArea`` or ``AccountFrozen``; nothing is written then.
    """
    customer = _actor_or_none(actor)
    if source != OrderSource.KIOSK and customer is None:
        raise OrderInvalid(_("Log in to place an order."))
    _check_not_frozen(customer)
    now = now or timezone.now()
    key = (idempotency_key or "").strip()
    if len(key) > 100:
        raise OrderInvalid(_("The Idempotency-Key is too long (at most 100 characters)."))
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise OrderInvalid(_("The note is too long (at most %(n)d characters).") % {"n": NOTE_MAX})
    table = (table or "").strip()
    address, contact_phone = (address or "").strip()[:255], (contact_phone or "").strip()[:20]
    lines = _clean_lines(lines)
    scope = f"user:{customer.pk}" if customer is not None else f"kiosk:{store.pk}"
    fingerprint = _fingerprint({
        "store": store.pk, "fulfilment": fulfilment, "table": table, "address": address,
        "lat": str(latitude), "lng": str(longitude), "note": note, "source": source,
        "lines": [[line.dish_id, line.quantity, sorted(line.option_ids)] for line in lines],
    })
    if key:
        existing = _existing_for_key(scope, key, fingerprint)
        if existing is not None:
            return SubmitResult(existing, created=False)

    if not store_is_open_now(store, now=now) or not store.brand.is_active:
        raise StoreClosed()
    table, distance, delivery_fee = _check_fulfilment(
        store, fulfilment, table=table, address=address, latitude=latitude, longitude=longitude
    )
    priced, overrides = _price_lines(store, lines)
    subtotal = money(sum((line.unit_price * line.quantity for line in priced), Decimal("0")))
    total = money(subtotal + delivery_fee)
    business_date = local_now(now).date()
    reserved: dict[int, int] = {}
    for line in priced:
        reserved[line.dish.pk] = reserved.get(line.dish.pk, 0) + line.quantity

    try:
        with transaction.atomic():
            stock_left = stock_reserve(store=store, quantities=reserved, overrides=overrides)
            order = Order(
                brand_id=store.brand_id,
                store=store,
                customer=customer,
                business_date=business_date,
                number=_next_number(store.pk, business_date),
                source=source,
                fulfilment=fulfilment,
                table_code=table,
                delivery_address=address if fulfilment == FulfilmentMode.DELIVERY else "",
                delivery_latitude=Decimal(str(latitude)) if distance is not None else None,
                delivery_longitude=Decimal(str(longitude)) if distance is not None else None,
                delivery_distance_km=distance,
                contact_phone=contact_phone or (customer.phone if customer else ""),
                note=note,
                subtotal=subtotal,
                delivery_fee=delivery_fee,
                total=total,
                idempotency_scope=scope if key else "",
                idempotency_key=key,
                request_fingerprint=fingerprint,
                stock_reserved={str(d): n for d, n in reserved.items() if stock_left.get(d) is not None},
                created_at=now,
                expires_at=now + timedelta(minutes=store.brand.order_expiry_minutes),
            )
            order._history_user = customer
            order.save(force_insert=True)
            order_lines = OrderLine.objects.bulk_create([
                OrderLine(
                    brand_id=store.brand_id,
                    order=order,
                    dish=line.dish,
                    dish_code=line.dish.code,
                    name_zh=line.dish.name_zh,
                    name_en=line.dish.name_en,
                    base_price=line.base_price,
                    unit_price=line.unit_price,
                    quantity=line.quantity,
                    line_total=money(line.unit_price * line.quantity),
                    options=[
                        {"option": o.pk, "group": o.group.name_zh, "name_zh": o.name_zh, "name_en": o.name_en,
                         "price_delta": str(o.price_delta)}
                        for o in line.options
                    ],
                    kcal=line.dish.kcal,
                    protein_g=line.dish.protein_g,
                    fat_g=line.dish.fat_g,
                    carbs_g=line.dish.carbs_g,
                    is_set_meal=line.dish.is_set_meal,
                    position=position,
                )
                for position, line in enumerate(priced)
            ])
            audit_record(**_order_event(
                order, "order.submitted", actor=customer, ip=ip,
                data={
                    "fulfilment": fulfilment,
                    "lines": [[line.dish.code, line.quantity, str(line.unit_price)] for line in priced],
                    "stock_reserved": {str(k): v for k, v in reserved.items()},
                    "stock_left": {str(k): v for k, v in stock_left.items()},
                },
            ))
    except IntegrityError:
        # Another request with the same key won the race; everything here was rolled back.
        if key:
            existing = _existing_for_key(scope, key, fingerprint)
            if existing is not None:
                return SubmitResult(existing, created=False)
        raise
    _keep_lines(order, order_lines)
    return SubmitResult(order, created=True)


def order_lock(*, order_id, related: tuple[str, ...] = ("store", "brand")) -> Order:
    """The order row, locked until the transaction ends (step 3 of the lock order), read with
    its ``related`` rows (a caller that needs neither store nor brand passes ``()``)."""
    try:
        orders = Order.objects.select_for_update(of=("self",))
        # select_related() without names would follow every foreign key: only with some.
        return (orders.select_related(*related) if related else orders).get(pk=order_id)
    except (Order.DoesNotExist, ValueError, ValidationError):
        raise OrderNotFound() from None


def _new_pickup_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def order_mark_paid(*, order: Order, actor, at=None) -> dict:
    """Move a locked, covered order to paid and give it a pickup code. For the payments services.

    The caller holds the order row (``order_lock``) and has checked that its succeeded payments
    cover the total. The code is 6 digits, unique per store and day: a clash (about one in a
    million per pair of orders) is retried in a savepoint, so the payment's transaction never
    fails for it. Returns the audit event for the caller to record as its last write.
    """
    if order.status != OrderStatus.PENDING_PAYMENT:
        raise OrderStateConflict(_("This order is not awaiting payment."))
    at = at or timezone.now()
    # Unique per store and day in the database; also kept apart from the previous day's codes,
    # because redemption accepts yesterday's codes in the early hours (late orders).
    days = (order.business_date - timedelta(days=1), order.business_date)
    taken = set(
        Order.objects.filter(store_id=order.store_id, business_date__in=days)
        .exclude(pickup_code="")
        .values_list("pickup_code", flat=True)
    )
    code = _new_pickup_code()
    while code in taken:
        code = _new_pickup_code()
    order.pay(pickup_code=code, at=at)
    order._history_user = _actor_or_none(actor)
    for _attempt in range(PICKUP_CODE_ATTEMPTS):
        try:
            with transaction.atomic():
                order.save()
            break
        except IntegrityError:
            order.pickup_code = _new_pickup_code()
    else:  # pragma: no cover - a million codes a day per store would be needed
        raise OrderStateConflict(_("No pickup code is free today; try again."))
    return _order_event(order, "order.paid", actor=actor, data={"pickup_code": order.pickup_code})


def _check_staff_store(actor, store_id: int) -> None:
    visible = store_ids_visible_to(actor)
    if visible is not None and store_id not in visible:
        raise NotYourStore()


KITCHEN_MOVES = {
    # expected status -> (transition name, audit action)
    "start": (OrderStatus.PAID, "start", "order.started"),
    "ready": (OrderStatus.PREPARING, "mark_ready", "order.ready"),
}
RECALLS = {
    OrderStatus.PREPARING: ("recall_start", "order.recalled"),
    OrderStatus.READY: ("recall_ready", "order.recalled"),
}


def order_bump(*, actor, order_id, move: str, ip: str | None = None) -> Order:
    """Kitchen display bump: ``start`` (paid -> preparing) or ``ready`` (preparing -> ready).

    Two screens bumping the same ticket: the second gets ``OrderStateConflict`` and nothing changes.
    """
    if move not in KITCHEN_MOVES:
        raise OrderInvalid(_("Unknown kitchen action."))
    expected, method, action = KITCHEN_MOVES[move]
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        _check_staff_store(actor, order.store_id)
        if order.status != expected:
            raise OrderStateConflict(
                _("Order %(number)s is already %(status)s.")
                % {"number": order.display_number, "status": order.get_status_display()}
            )
        getattr(order, method)()
        _save_transition(order, actor)
        audit_record(**_order_event(order, action, actor=actor, ip=ip))
    return order


def order_recall(*, actor, order_id, expected_status: str | None = None, ip: str | None = None) -> Order:
    """Undo the last bump: ready -> preparing, preparing -> paid."""
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        _check_staff_store(actor, order.store_id)
        if order.status not in RECALLS or (expected_status and order.status != expected_status):
            raise OrderStateConflict(
                _("Order %(number)s cannot be recalled now: it is %(status)s.")
                % {"number": order.display_number, "status": order.get_status_display()}
            )
        previous = order.status
        method, action = RECALLS[order.status]
        getattr(order, method)()
        _save_transition(order, actor)
        audit_record(**_order_event(order, action, actor=actor, ip=ip, data={"from": previous}))
    return order


def order_redeem(*, actor, store: Store, pickup_code: str, ip: str | None = None, now=None) -> Order:
    """核销: the pickup code of a ready order at this store completes it.

    Codes are valid on their business day (and the early hours of the next, for late orders).
    Refuses a malformed, unknown, used, expired or refunded code, a code of another store, and
    an order the kitchen has not marked ready, each with its own ``code`` and message.
    """
    _check_staff_store(actor, store.pk)
    # NFKC turns full-width digits (１２３４５６, typed on a Chinese keyboard) into 123456.
    code = unicodedata.normalize("NFKC", pickup_code or "").strip()
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        raise PickupCodeInvalid(_("A pickup code is 6 digits."), code="malformed")
    now = now or timezone.now()
    today = local_now(now).date()
    recent = (today - timedelta(days=1), today)
    with transaction.atomic():
        candidate = (
            Order.objects.filter(store_id=store.pk, pickup_code=code, business_date__in=recent)
            .order_by("-business_date")
            .values_list("pk", flat=True)
            .first()
        )
        if candidate is None:
            older = Order.objects.filter(store_id=store.pk, pickup_code=code).exists()
            if older:
                raise PickupCodeInvalid(_("This pickup code has expired."), code="expired_code")
            elsewhere = Order.objects.filter(
                brand_id=store.brand_id, pickup_code=code, business_date=today
            ).exclude(store_id=store.pk).select_related("store").first()
            if elsewhere is not None:
                raise PickupCodeInvalid(
                    _("This code is for another store: %(store)s.") % {"store": elsewhere.store.name},
                    code="other_store",
                )
            raise PickupCodeInvalid(_("No order has this pickup code."), code="wrong_code")
        order = order_lock(order_id=candidate)
        if order.status == OrderStatus.COMPLETED:
            collected = timezone.localtime(order.completed_at).strftime("%H:%M")
            raise PickupCodeInvalid(
                _("Order %(number)s was already collected at %(time)s.")
                % {"number": order.display_number, "time": collected},
                code="used_code",
            )
        if order.status in (OrderStatus.REFUNDED, OrderStatus.CANCELLED):
            raise PickupCodeInvalid(
                _("Order %(number)s was refunded or cancelled.") % {"number": order.display_number},
                code="refunded",
            )
        if order.business_date != today and order.paid_at and now - order.paid_at > timedelta(hours=12):
            raise PickupCodeInvalid(_("This pickup code has expired."), code="expired_code")
        if order.status != OrderStatus.READY:
            raise OrderStateConflict(
                _("Order %(number)s is not ready yet (%(status)s).")
                % {"number": order.display_number, "status": order.get_status_display()},
                code="not_ready",
            )
        order.redeem(at=now)
        _save_transition(order, actor)
        audit_record(**_order_event(order, "order.redeemed", actor=actor, ip=ip))
    return order


def _cancel_locked(order: Order, *, actor, reason: str, ip=None, now=None) -> Order:
    # Exactly what the submit took: dishes with unlimited stock then get nothing back, even if
    # a limit was set since. An order from an earlier business day predates the nightly restore.
    quantities = {int(dish_id): quantity for dish_id, quantity in (order.stock_reserved or {}).items()}
    before_restore = order.business_date < local_now(now).date()
    order.cancel(reason=reason, at=now)
    _save_transition(order, actor)
    stock_release(store_id=order.store_id, quantities=quantities, skip_daily=before_restore)
    # Money already taken by part of a split payment goes back, in this transaction (payments).
    events: list[dict] = []
    order_ended.send(sender=Order, order=order, now=now, audit_events=events)
    audit_record(**_order_event(
        order, "order.expired" if reason == CancelReason.EXPIRED else "order.cancelled",
        actor=actor, ip=ip, reason=reason,
        data={"stock_released": {str(k): v for k, v in quantities.items()}},
    ))
    audit_record_many(events)
    return order


def order_refund_apply(
    *, order: Order, quantities: dict[int, int], full: bool, actor, now=None
) -> tuple[dict[int, int], list[dict]]:
    """What an approved refund does to a locked order (for the refunds services, which hold the
    order row): a full refund before collection moves it to refunded (off the kitchen board);
    a refund before preparation gives its portions back to stock.

    ``quantities`` are the refunded portions per dish id. Only portions the submit really took
    come back (``stock_reserved``, which is reduced accordingly so a later refund of the same
    order never gives them back twice). Returns (portions released per dish, audit events for
    the caller to record last).
    """
    events: list[dict] = []
    before = order.status
    released: dict[int, int] = {}
    reserved = {int(dish_id): portions for dish_id, portions in (order.stock_reserved or {}).items()}
    if before == OrderStatus.PAID:  # not yet being prepared
        for dish_id, portions in sorted(quantities.items()):
            back = min(portions, reserved.get(dish_id, 0))
            if back > 0:
                released[dish_id] = back
                reserved[dish_id] -= back
    if full and before in KITCHEN_STATES:
        order.refund_full()
    if not released and order.status == before:
        return released, events
    order.stock_reserved = {str(k): v for k, v in reserved.items() if v > 0}
    _save_transition(order, actor)
    if released:
        before_restore = order.business_date < local_now(now).date()
        stock_release(store_id=order.store_id, quantities=released, skip_daily=before_restore)
    if order.status != before:
        events.append(_order_event(order, "order.refunded", actor=actor, data={
            "from": before, "stock_released": {str(k): v for k, v in released.items()}}))
    elif released:
        events.append(_order_event(order, "order.stock_released", actor=actor, data={
            "stock_released": {str(k): v for k, v in released.items()}}))
    return released, events


# Payment statuses (payments owns the model) whose money may still arrive: the order waits for them.
PAYMENT_HOLDS_MONEY = ("created", "pending", "unknown")


def _has_money(order: Order) -> bool:
    """Whether a payment of the order may still succeed (the payments rows): its answer decides.

    A payment that already succeeded on an order still awaiting payment is part of a split
    payment (the canteen subsidy, the rest not paid): the order may end, and ``order_ended``
    hands that money back in the same transaction (payments listens)."""
    return order.payments.filter(status__in=PAYMENT_HOLDS_MONEY).exists()


def order_cancel(*, actor, order_id, ip: str | None = None) -> Order:
    """Cancel an unpaid order (its customer, or staff of its store); its stock comes back.

    A paid order is not cancelled but refunded (the refunds issue): ``OrderStateConflict``.
    """
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        user = _actor_or_none(actor)
        if user is None or (order.customer_id != user.pk and not user.is_staff):
            raise OrderNotFound()
        if user.is_staff and order.customer_id != user.pk:
            _check_staff_store(user, order.store_id)
            reason = CancelReason.STAFF
        else:
            reason = CancelReason.CUSTOMER
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise OrderStateConflict(
                _("Only an order awaiting payment can be cancelled; ask for a refund instead."),
            )
        if _has_money(order):
            raise OrderStateConflict(_("A payment of this order is in progress; wait for its result."))
        _cancel_locked(order, actor=user, reason=reason, ip=ip)
    return order


def order_expire(*, order_id, now=None, actor=None, ip: str | None = None) -> bool:
    """Expire one unpaid order whose time is up; returns whether it did. ``actor`` is the staff
    member who expired it by hand (the admin's stuck-orders page); ``None`` for the task.

    Skips an order whose row another transaction holds (a payment in progress): that payment
    decides, and the next run looks again. An order with a payment that may still succeed
    (pending, unknown) is left for the payments back-off to settle.
    """
    now = now or timezone.now()
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(skip_locked=True)
            .filter(pk=order_id, status=OrderStatus.PENDING_PAYMENT, expires_at__lte=now)
            .select_related("store")
            .first()
        )
        if order is None or _has_money(order):
            return False
        if actor is not None:
            _check_staff_store(actor, order.store_id)
        _cancel_locked(order, actor=actor, reason=CancelReason.EXPIRED, ip=ip, now=now)
    return True


def orders_expire_due(*, now=None, limit: int = EXPIRY_BATCH) -> int:
    """Expire every unpaid order past its time (the periodic task); returns how many."""
    now = now or timezone.now()
    due = list(
        Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, expires_at__lte=now)
        # Orders that ``_has_money`` keeps would fill every batch and starve the rest.
        .exclude(payments__status__in=PAYMENT_HOLDS_MONEY)
        .order_by("expires_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for order_id in due if order_expire(order_id=order_id, now=now))

