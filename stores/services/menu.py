"""Writes to the brand-wide menu edited in the admin: categories, dishes, option groups (with
their options). Every store of the brand inherits these rows, and a dish's brand price and an
option's price change are money facts, so each save is checked (HQ of the brand only), keeps
its brand, writes its history rows and ends with one audit event.

The admin saves the row's many-to-many links (tags, allergens, option groups) and inlines
(options) through a callback run inside the service's transaction, after the row and before
the audit event (see ``audit_record``: the event is the last write of its transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from ..models import Dish, MenuCategory, Option, OptionGroup
from ..selectors import user_manages_whole_brand
from ._common import _audit_values, _record
from .checks import _require_perm, clean_price
from .errors import BrandImmutable, InvalidOverrideValue, MixedBrands, StoreAccessDenied

# Fields that change with every save and say nothing about the edit.
_IGNORED_FIELDS = frozenset({"id", "updated_at"})


def _require_brand_manager(actor, brand_id: int | None) -> None:
    """Brand-wide rows are changed by the brand's HQ managers (and superusers) only."""
    if brand_id is None or not user_manages_whole_brand(actor, brand_id):
        raise StoreAccessDenied(_("Only HQ managers of the brand may change its menu."))


def _begin(actor, obj: models.Model, *, label: str):
    """Check the actor and lock the saved row; returns the row as stored (``None`` when new).

    Runs inside the caller's transaction: the lock holds until the audit event is written.
    """
    model = type(obj)
    if obj.pk is None:
        _require_perm(actor, f"stores.add_{label}")
        _require_brand_manager(actor, obj.brand_id)
        return None
    _require_perm(actor, f"stores.change_{label}")
    stored = model._default_manager.select_for_update(of=("self",)).filter(pk=obj.pk).first()
    if stored is None:
        raise StoreAccessDenied()
    _require_brand_manager(actor, stored.brand_id)
    if stored.brand_id != obj.brand_id:
        raise BrandImmutable()
    return stored


def _row_changes(stored: models.Model, obj: models.Model) -> list[str]:
    """Names of the concrete fields whose value differs from the stored row."""
    return [
        field.name
        for field in type(obj)._meta.concrete_fields
        if field.name not in _IGNORED_FIELDS and getattr(stored, field.attname) != getattr(obj, field.attname)
    ]


def _link_changes(model, changed: Iterable[str]) -> list[str]:
    """The many-to-many fields the caller reports as changed (the row diff cannot see them)."""
    names = {field.name for field in model._meta.many_to_many}
    return [name for name in changed if name in names]


def _save_row(actor, obj: models.Model, stored, row_changes: list[str]) -> None:
    obj._history_user = actor
    if stored is None:
        obj.save(force_insert=True)
    elif row_changes:
        obj.save()


def _event(action: str, actor, obj, ip, data: dict, amount: Decimal | None = None) -> dict:
    event = {"action": action, "actor": actor, "obj": obj, "ip": ip, "data": data}
    if amount is not None:
        event["amount"] = amount
    return event


def category_save(
    *,
    actor,
    category: MenuCategory,
    changed: Iterable[str] = (),
    save_related: Callable[[], None] | None = None,
    ip: str | None = None,
) -> MenuCategory:
    """Save a menu category of a brand (new or edited), then ``save_related()`` (the admin's
    links and inlines, if any), then one audit event: ``category.created``, or
    ``category.updated`` listing the changed fields (none when nothing changed).
    """
    with transaction.atomic():
        stored = _begin(actor, category, label="menucategory")
        row_changes = [] if stored is None else _row_changes(stored, category)
        _save_row(actor, category, stored, row_changes)
        if save_related is not None:
            save_related()
        all_changes = sorted(set(row_changes) | set(_link_changes(MenuCategory, changed)))
        if stored is None:
            _record([_event("category.created", actor, category, ip, {"category": category.code})])
        elif all_changes:
            _record([_event("category.updated", actor, category, ip,
                            {"category": category.code, "changed": all_changes})])
    return category


def dish_save(
    *,
    actor,
    dish: Dish,
    changed: Iterable[str] = (),
    save_related: Callable[[], None] | None = None,
    ip: str | None = None,
) -> Dish:
    """Save a dish of a brand (new or edited) with its tags, allergens and option groups.

    One transaction: the dish row, then ``save_related()`` (the admin's many-to-many links),
    then one audit event: ``dish.created``, ``dish.price_changed`` (amount: the new brand
    price) when the brand price changed, else ``dish.updated`` listing the changed fields.
    """
    changed = list(changed)
    with transaction.atomic():
        stored = _begin(actor, dish, label="dish")
        price = clean_price(dish.price)
        if price is None:
            raise InvalidOverrideValue(_("A dish needs a price."))
        dish.price = price
        if dish.category_id is not None and dish.category.brand_id != dish.brand_id:
            raise MixedBrands(_("Pick a category of the same brand."))
        row_changes = [] if stored is None else _row_changes(stored, dish)
        _save_row(actor, dish, stored, row_changes)
        if save_related is not None:
            save_related()
        if dish.option_groups.exclude(brand_id=dish.brand_id).exists():
            raise MixedBrands(_("Pick option groups of the same brand."))
        all_changes = sorted(set(row_changes) | set(_link_changes(Dish, changed)))
        base = {"dish": dish.code}
        if stored is None:
            _record([_event("dish.created", actor, dish, ip, {**base, "price": str(dish.price)}, dish.price)])
        elif "price" in row_changes:
            data = {**base, "changed": all_changes, **_audit_values({"old_price": stored.price, "new_price": price})}
            _record([_event("dish.price_changed", actor, dish, ip, data, price)])
        elif all_changes:
            _record([_event("dish.updated", actor, dish, ip, {**base, "changed": all_changes})])
    return dish


def _option_rows(group: OptionGroup) -> dict[int, tuple[str, Decimal]]:
    """The group's options as stored, locked in pk order: id -> (name, price change)."""
    rows = Option.objects.select_for_update().filter(group_id=group.pk).order_by("pk")
    return {pk: (name, delta) for pk, name, delta in rows.values_list("pk", "name_zh", "price_delta")}


def _option_changes(before: dict, after: dict) -> dict:
    """Options created, deleted, and whose price change moved, with the old and new values."""
    created = [{"option": pk, "name": after[pk][0], "price_delta": str(after[pk][1])}
               for pk in sorted(after.keys() - before.keys())]
    deleted = [{"option": pk, "name": before[pk][0], "price_delta": str(before[pk][1])}
               for pk in sorted(before.keys() - after.keys())]
    repriced = [{"option": pk, "name": after[pk][0], "old": str(before[pk][1]), "new": str(after[pk][1])}
                for pk in sorted(before.keys() & after.keys()) if before[pk][1] != after[pk][1]]
    renamed = [pk for pk in sorted(before.keys() & after.keys()) if before[pk][0] != after[pk][0]]
    result = {"created": created, "deleted": deleted, "price_changed": repriced}
    if renamed:
        result["renamed"] = renamed
    return {key: value for key, value in result.items() if value}


def option_group_save(
    *,
    actor,
    group: OptionGroup,
    changed: Iterable[str] = (),
    save_children: Callable[[OptionGroup], None] | None = None,
    ip: str | None = None,
) -> OptionGroup:
    """Save an option group of a brand (new or edited) with its options.

    One transaction: the group row, then ``save_children(group)`` (the admin's option inline),
    then one audit event, ``option_group.created`` or ``option_group.updated``, whose data lists
    the changed group fields and the options created, deleted and re-priced (old and new
    price change). Options keep the brand of their group.
    """
    changed = list(changed)
    with transaction.atomic():
        stored = _begin(actor, group, label="optiongroup")
        row_changes = [] if stored is None else _row_changes(stored, group)
        before = {} if stored is None else _option_rows(group)
        _save_row(actor, group, stored, row_changes)
        if save_children is not None:
            save_children(group)
        options = Option.objects.filter(group_id=group.pk)
        if options.exclude(brand_id=group.brand_id).exists():
            raise MixedBrands(_("Options belong to the brand of their group."))
        after = {pk: (name, delta) for pk, name, delta in
                 options.order_by("pk").values_list("pk", "name_zh", "price_delta")}
        option_changes = _option_changes(before, after)
        # Edits of an option's other fields (default, order, English name) are not diffed
        # above; the caller reports them as "options".
        data = {"group": group.code, "changed": sorted(set(row_changes) | ({"options"} & set(changed)))}
        if option_changes:
            data["options"] = option_changes
        if stored is None:
            _record([_event("option_group.created", actor, group, ip, data)])
        elif data["changed"] or option_changes:
            _record([_event("option_group.updated", actor, group, ip, data)])
    return group
