"""The way into HQ analytics from the admin: an entry in the admin index that opens the dashboard.

``SalesDashboard`` is a proxy with no table of its own; its "list" is the dashboard page. It is
shown to those who may read reports (reports.access), whatever their model permissions say.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from .access import user_may_view_reports
from .models import SalesDashboard


@admin.register(SalesDashboard)
class SalesDashboardAdmin(admin.ModelAdmin):
    def has_module_permission(self, request):
        return user_may_view_reports(request.user)

    def has_view_permission(self, request, obj=None):
        return obj is None and user_may_view_reports(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        from django.urls import path

        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.changelist_view), name=name)]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return redirect("reports:dashboard")
