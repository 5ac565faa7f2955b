"""Domain errors of ordering: each has a stable ``code``, an HTTP status and a translated message."""

from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class OrderInvalid(DomainError):
    """The order as asked cannot be placed (bad dish, quantity, mode, address...)."""

    code = "invalid"
    status_code = 400


class StoreClosed(DomainError):
    code = "store_closed"
    status_code = 409

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("This store is not taking orders right now."), **kwargs)


class OutsideDeliveryArea(DomainError):
    code = "outside_delivery_area"
    status_code = 400


class IdempotencyConflict(DomainError):
    code = "idempotency_conflict"
    status_code = 409

    def __init__(self, message=None, **kwargs):
        super().__init__(
            message or _("This Idempotency-Key was already used for a different order."), **kwargs
        )


class AccountFrozen(DomainError):
    code = "account_frozen"
    status_code = 403


class OrderNotFound(DomainError):
    code = "not_found"
    status_code = 404

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("No such order."), **kwargs)


class OrderStateConflict(DomainError):
    """The order is not in a state that allows this (already paid, already bumped, expired...)."""

    code = "conflict"
    status_code = 409


class NotYourStore(DomainError):
    code = "not_yours"
    status_code = 403

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("You do not work at this store."), **kwargs)


class PickupCodeInvalid(DomainError):
    """A pickup code that cannot be redeemed; ``code`` says why (wrong, used, expired, other store...)."""

    code = "invalid_code"
    status_code = 400
