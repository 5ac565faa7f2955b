from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class PaymentNotAllowed(DomainError):
    """The order cannot take this payment now (expired, cancelled, already paid, over the total)."""

    code = "payment_not_allowed"
    status_code = 409


class InsufficientBalance(DomainError):
    code = "insufficient_balance"
    status_code = 409


class GiftCardInvalid(DomainError):
    code = "invalid_gift_card"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("This gift card number is not valid."), **kwargs)


class AmountInvalid(DomainError):
    code = "invalid_amount"
    status_code = 400
