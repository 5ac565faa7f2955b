"""Writes to stores, menus and per-store overrides.

Every service is keyword-only, takes the acting user (``actor``; ``None`` only for the nightly
task), checks that the actor may act on every store and dish it is given (defence in depth
behind the admin and API scoping), writes history rows and one audit event per brand and
action, and returns what it changed.

Lock order, the same in every service: stores, then overrides (each in pk order), then the
audit chain. Audit events are the last writes of their transaction (see ``audit_record``): a
service that changes several rows collects its events and records them at the end, and an
admin page that saves a store with its overrides does so through one call (``store_save``), as
do the brand-wide menu pages (``category_save``, ``dish_save``, ``option_group_save``).
Changing a store price needs ``stores.set_store_price`` on top of changing overrides.

The services live in modules of this package (``errors``, ``checks``, ``bulk``, ``overrides``,
``stores``, ``menu``, ``imports``) and are imported from here: ``from stores.services import ...``.
"""

from ._common import (
    BATCH_SIZE,
    CHANGE_OVERRIDE,
    MAX_PRICE,
    MAX_STOCK,
    OVERRIDE_FIELDS,
    SET_PRICE,
    OverrideChange,
)
from .bulk import (
    override_reset_stock,
    override_set_availability,
    override_set_price,
    override_set_stock,
    overrides_apply,
    stock_restore_daily,
)
from .checks import check_dishes_allowed, check_stores_allowed, clean_price, clean_stock, may_set_price
from .errors import (
    BrandImmutable,
    InvalidOverrideValue,
    MixedBrands,
    NothingSelected,
    SoldOut,
    StoreAccessDenied,
)
from .imports import brand_for_import, import_record
from .menu import category_save, dish_save, option_group_save
from .overrides import OverrideEdit, override_delete, override_set, override_update
from .stock import stock_release, stock_reserve
from .stores import store_save, store_set_open
from .tables import TableCodeTaken, table_delete, table_save

__all__ = [
    "BATCH_SIZE",
    "CHANGE_OVERRIDE",
    "MAX_PRICE",
    "MAX_STOCK",
    "OVERRIDE_FIELDS",
    "SET_PRICE",
    "BrandImmutable",
    "InvalidOverrideValue",
    "MixedBrands",
    "NothingSelected",
    "OverrideChange",
    "OverrideEdit",
    "SoldOut",
    "StoreAccessDenied",
    "TableCodeTaken",
    "brand_for_import",
    "category_save",
    "check_dishes_allowed",
    "check_stores_allowed",
    "clean_price",
    "clean_stock",
    "dish_save",
    "import_record",
    "may_set_price",
    "option_group_save",
    "override_delete",
    "override_reset_stock",
    "override_set",
    "override_set_availability",
    "override_set_price",
    "override_set_stock",
    "override_update",
    "overrides_apply",
    "stock_release",
    "stock_reserve",
    "stock_restore_daily",
    "store_save",
    "store_set_open",
    "table_delete",
    "table_save",
]
