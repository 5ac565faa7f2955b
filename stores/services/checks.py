"""Permission and scope checks, and the cleaning of override values."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from config.money import CENT

from ..models import Dish, Store
from ..selectors import brand_ids_visible_to, store_ids_visible_to
from ._common import MAX_PRICE, MAX_STOCK, OVERRIDE_FIELDS, SET_PRICE
from .errors import InvalidOverrideValue, MixedBrands, StoreAccessDenied


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
