"""Domain errors of the stores app, shared by pages, the API and other apps."""

from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class StoreNotFound(DomainError):
    """No store with that code, or its brand is not active (customers cannot tell the difference)."""

    code = "not_found"
    status_code = 404

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("No store with this code."), **kwargs)
