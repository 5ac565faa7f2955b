"""Domain errors of canteens: a stable ``code``, an HTTP status and a translated message each."""

from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class CanteenInvalid(DomainError):
    """Malformed input: an amount, a CSV file, a row."""

    code = "invalid"
    status_code = 400


class CanteenNotFound(DomainError):
    code = "not_found"
    status_code = 404

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("No such member."), **kwargs)


class CanteenForbidden(DomainError):
    code = "not_yours"
    status_code = 403


class CanteenConflict(DomainError):
    """Not possible now given the state: a batch with errors, an idempotency key reused..."""

    code = "conflict"
    status_code = 409
