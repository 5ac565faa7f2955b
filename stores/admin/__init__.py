"""HQ admin of brands, stores, menus and per-store overrides.

Every admin is scoped (``TenantScopedAdmin``): a staff member sees only the rows of their brand
(HQ) or of their stores (store staff); brand-wide rows (dishes, categories, option groups) are
editable only by HQ managers. Writes to stores and overrides go through ``stores.services`` so
that history and audit are complete.

A row's brand is fixed once it exists (its overrides, hours, options and staff belong to that
brand), and simple-history's "Revert" is switched off: a revert would write past the services
(no audit, no checks), so history pages only show old versions.

The admins live in modules of this package (``scoping``, ``bulk``, ``filters``, ``stores``,
``menu``, ``overrides``); importing them here registers them when Django autodiscovers
``stores.admin``.
"""

from .bulk import BulkOverrideActionsMixin, DishBulkActionsMixin, StoreBulkActionsMixin
from .filters import AvailabilityFilter, CityFilter, ModeFilter, StoreCityFilter
from .menu import AllergenAdmin, DishAdmin, MenuCategoryAdmin, OptionGroupAdmin, TagAdmin
from .overrides import StoreDishOverrideAdmin
from .scoping import (
    BrandCodeModelForm,
    ScopedAdmin,
    TenantScopedMixin,
    is_hq,
    scope_brand_ids,
    scope_store_ids,
    user_brand_id,
)
from .stores import (
    OVERRIDE_INLINE_LIMIT,
    BrandAdmin,
    OpeningHoursInline,
    StaffAssignmentAdmin,
    StoreAdmin,
    StoreDishOverrideInline,
)

__all__ = [
    "OVERRIDE_INLINE_LIMIT",
    "AllergenAdmin",
    "AvailabilityFilter",
    "BrandAdmin",
    "BrandCodeModelForm",
    "BulkOverrideActionsMixin",
    "CityFilter",
    "DishAdmin",
    "DishBulkActionsMixin",
    "MenuCategoryAdmin",
    "ModeFilter",
    "OpeningHoursInline",
    "OptionGroupAdmin",
    "ScopedAdmin",
    "StaffAssignmentAdmin",
    "StoreAdmin",
    "StoreBulkActionsMixin",
    "StoreCityFilter",
    "StoreDishOverrideAdmin",
    "StoreDishOverrideInline",
    "TagAdmin",
    "TenantScopedMixin",
    "is_hq",
    "scope_brand_ids",
    "scope_store_ids",
    "user_brand_id",
]
