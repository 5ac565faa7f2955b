"""Admin building blocks shared by every app."""


class ReadOnlyAdminMixin:
    """Rows shown, never added, changed or deleted from the admin (audit events, SMS codes)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
