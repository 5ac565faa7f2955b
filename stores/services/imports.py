"""The audit side and the brand of CSV imports (the rows themselves are written by ``stores.resources``)."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from audit.services import audit_record

from ..selectors import brand_ids_visible_to, user_manages_whole_brand
from .errors import StoreAccessDenied


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
