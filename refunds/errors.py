"""Domain errors of refunds: a stable ``code``, an HTTP status and a translated message each."""

from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class RefundInvalid(DomainError):
    """The request as asked is malformed: unknown line, bad quantity, reason, destination..."""

    code = "invalid"
    status_code = 400


class RefundNotAllowed(DomainError):
    """Not refundable now, given the order's or the request's state (not paid, too late, ...)."""

    code = "not_refundable"
    status_code = 409


class RefundNotFound(DomainError):
    code = "not_found"
    status_code = 404

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("No such refund request."), **kwargs)


class RefundForbidden(DomainError):
    code = "not_yours"
    status_code = 403


class RefundBlocked(DomainError):
    """A risk rule froze the account while this request was made: it was recorded and refused."""

    code = "account_frozen"
    status_code = 403
