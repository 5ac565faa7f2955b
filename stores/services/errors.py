"""Domain errors of the store, menu and override services."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class StoreAccessDenied(DomainError):
    code = "not_yours"
    status_code = 403

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("You may not act on this store or dish."), **kwargs)


class MixedBrands(DomainError):
    code = "mixed_brands"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("Stores and dishes must all belong to one brand."), **kwargs)


class InvalidOverrideValue(DomainError):
    code = "invalid"
    status_code = 400


class NothingSelected(DomainError):
    code = "nothing_selected"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("Pick at least one store and one dish."), **kwargs)


class BrandImmutable(DomainError):
    code = "brand_immutable"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("The brand cannot be changed once the row exists."), **kwargs)


class SoldOut(DomainError):
    """Not enough portions left of one or more dishes; ``dish_ids`` names them."""

    code = "sold_out"
    status_code = 409

    def __init__(self, message=None, *, dish_ids=(), **kwargs):
        self.dish_ids = tuple(dish_ids)
        super().__init__(message or _("Sorry, a dish in your order has just sold out."), **kwargs)
