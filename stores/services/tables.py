"""Writes to a store's dining tables (dine-in by QR code): add, change, remove, each audited.

Whoever may change a store (HQ for their brand, store managers for their stores) manages its
tables. A table never moves to another store: its QR code names the store.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record
from config.api import DomainError

from ..models import DiningTable, Store
from .checks import _require_perm, check_stores_allowed
from .errors import StoreAccessDenied

TABLE_FIELDS = ("code", "seats", "is_active")


class TableCodeTaken(DomainError):
    code = "table_exists"
    status_code = 409

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("This store has a table with this code already."), **kwargs)


def _event(table: DiningTable, action: str, *, actor, ip, data: dict | None = None) -> dict:
    return {"action": action, "actor": actor, "obj": table, "brand_id": table.brand_id, "ip": ip,
            "data": {"store": table.store.code, "table": table.code, **(data or {})}}


def table_save(*, actor, table: DiningTable, changed: Iterable[str] = (), ip: str | None = None) -> DiningTable:
    """Add ``table`` (no pk yet) to its store, or save the ``changed`` fields of an existing one."""
    _require_perm(actor, "stores.change_store")
    store = Store.objects.get(pk=table.store_id)
    check_stores_allowed(actor, [store])
    changed = sorted(name for name in changed if name in TABLE_FIELDS)
    try:
        with transaction.atomic():
            if table.pk is None:
                table.brand_id = store.brand_id
                table.save(force_insert=True)
                audit_record(**_event(table, "table.created", actor=actor, ip=ip,
                                      data={"seats": table.seats, "is_active": table.is_active}))
                return table
            locked = DiningTable.objects.select_for_update().get(pk=table.pk)
            if locked.store_id != table.store_id:
                raise StoreAccessDenied(_("A table cannot move to another store."))
            if not changed:
                return locked
            table.brand_id = locked.brand_id
            table.save(update_fields=changed)
            audit_record(**_event(table, "table.updated", actor=actor, ip=ip,
                                  data={"fields": changed, "was": {name: getattr(locked, name) for name in changed}}))
    except IntegrityError:
        raise TableCodeTaken() from None
    return table


def table_delete(*, actor, table: DiningTable, ip: str | None = None) -> None:
    """Remove a table (orders keep its code); its printed QR code then leads nowhere."""
    _require_perm(actor, "stores.change_store")
    with transaction.atomic():
        locked = DiningTable.objects.select_for_update().select_related("store").get(pk=table.pk)
        check_stores_allowed(actor, [locked.store])
        event = _event(locked, "table.deleted", actor=actor, ip=ip)
        event["data"]["id"] = locked.pk
        locked.delete()
        event["obj"] = None
        audit_record(**event)
