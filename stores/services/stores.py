"""Writes to stores: open or close one, save one edited in the admin with its overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record

from ..models import Store
from ..selectors import user_manages_whole_brand
from ._common import _record
from .checks import _clean_available, _require_perm, check_stores_allowed
from .errors import BrandImmutable, StoreAccessDenied
from .overrides import OverrideEdit, _apply_override_edits


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
