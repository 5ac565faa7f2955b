"""Who may read the reports, and which stores' figures they see.

HQ managers see every store of their brand, store managers the stores they are assigned to,
superusers every brand. Kitchen staff, canteen staff, customers and anonymous users see nothing:
the views answer 403 (anonymous users are sent to the admin login). Built on
``stores.selectors.store_ids_visible_to`` so reports follow the same scoping as the admin.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from accounts.models import Role
from stores.models import Brand, Store
from stores.selectors import brand_ids_visible_to, store_ids_visible_to

REPORT_ROLES = (Role.HQ_MANAGER, Role.STORE_MANAGER)


@dataclass(frozen=True)
class ReportAccess:
    """What one user may see in the reports. ``store_ids is None``: every store of the brands."""

    brand_ids: frozenset[int] | None  # None: every brand (superuser)
    store_ids: frozenset[int] | None

    def brands(self) -> QuerySet[Brand]:
        qs = Brand.objects.order_by("name", "id")
        return qs if self.brand_ids is None else qs.filter(id__in=self.brand_ids)

    def stores(self, brand_id: int) -> QuerySet[Store]:
        """The stores of ``brand_id`` this user may see, in code order (none for a foreign brand)."""
        if self.brand_ids is not None and brand_id not in self.brand_ids:
            return Store.objects.none()
        qs = Store.objects.filter(brand_id=brand_id).order_by("code")
        return qs if self.store_ids is None else qs.filter(id__in=self.store_ids)

    def store_ids_for(self, brand_id: int) -> set[int]:
        return set(self.stores(brand_id).values_list("id", flat=True))

    def sees_whole_brand(self, brand_id: int) -> bool:
        return self.store_ids is None and (self.brand_ids is None or brand_id in self.brand_ids)


def user_may_view_reports(user) -> bool:
    if not getattr(user, "is_authenticated", False) or not user.is_staff:
        return False
    if user.is_superuser:
        return brand_ids_visible_to(user) is None  # an active, unfrozen superuser
    return user.role in REPORT_ROLES and bool(store_ids_visible_to(user))


def report_access(user) -> ReportAccess:
    """The user's reach in the reports; raises ``PermissionDenied`` when they may see none."""
    if not user_may_view_reports(user):
        raise PermissionDenied
    brand_ids = brand_ids_visible_to(user)
    if user.is_superuser:
        return ReportAccess(brand_ids=None, store_ids=None)
    if user.role == Role.HQ_MANAGER:
        return ReportAccess(brand_ids=frozenset(brand_ids), store_ids=None)
    return ReportAccess(brand_ids=frozenset(brand_ids), store_ids=frozenset(store_ids_visible_to(user)))
