"""The audit trail in the admin: read-only for everybody, superusers included.

Which brands' events a staff member sees comes from ``settings.AUDIT_BRAND_SCOPE``, a dotted
path to ``f(user) -> None | set[brand_id]`` (None: every brand). Audit imports no other app,
so the function is looked up by name; without the setting only superusers see anything.
"""

from django.conf import settings
from django.contrib import admin
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.admin_mixins import ReadOnlyAdminMixin

from .models import AuditEvent, SecurityReport


def brand_ids_visible_to(user) -> set[int] | None:
    path = getattr(settings, "AUDIT_BRAND_SCOPE", None)
    if path:
        return import_string(path)(user)
    return None if user.is_active and user.is_superuser else set()


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_repr", "object_repr", "amount", "brand_id", "chain_position"]
    list_filter = ["action", "actor_type", "created_at"]
    search_fields = ["action", "object_repr", "actor_repr", "object_id"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    list_per_page = 50
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    fields = [
        "created_at", "action", "actor_type", "actor_id", "actor_repr", "brand_id",
        "object_type", "object_id", "object_repr", "amount", "reason", "ip", "data",
        "chain", "seq", "prev_hash", "hash",
    ]
    readonly_fields = fields

    @admin.display(description=_("chain position"), ordering="seq")
    def chain_position(self, obj: AuditEvent) -> str:
        return f"{obj.chain}#{obj.seq}"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        brand_ids = brand_ids_visible_to(request.user)
        if brand_ids is None:
            return queryset
        return queryset.filter(brand_id__in=brand_ids)

    def has_view_permission(self, request, obj=None):
        if not super().has_view_permission(request, obj):
            return False
        if obj is None:
            return True
        brand_ids = brand_ids_visible_to(request.user)
        return brand_ids is None or obj.brand_id in brand_ids



@admin.register(SecurityReport)
class SecurityReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The 72-hour security reports: HQ sees their brand's, superusers also the platform-wide one."""

    list_display = ["period", "scope", "chain_verdict", "generated_at"]
    list_filter = ["chain_ok"]
    ordering = ["-period_end", "brand_id"]
    change_form_template = "admin/audit/securityreport/change_form.html"
    fields = ["period_start", "period_end", "generated_at", "brand_id", "chain_ok"]
    readonly_fields = fields

    @admin.display(description=_("period"), ordering="period_end")
    def period(self, obj: SecurityReport) -> str:
        return str(obj)

    @admin.display(description=_("for"))
    def scope(self, obj: SecurityReport) -> str:
        return _("whole platform") if obj.brand_id is None else _("brand %(id)s") % {"id": obj.brand_id}

    @admin.display(description=_("audit chain"), boolean=True, ordering="chain_ok")
    def chain_verdict(self, obj: SecurityReport) -> bool:
        return obj.chain_ok

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        brand_ids = brand_ids_visible_to(request.user)
        if brand_ids is None:
            return queryset
        return queryset.filter(brand_id__in=brand_ids)

    def has_view_permission(self, request, obj=None):
        user = request.user
        if not (user.is_active and user.is_staff and user.has_perm("audit.view_securityreport")):
            return False  # HQ managers (their brand's) and superusers; not store or kitchen staff
        brand_ids = brand_ids_visible_to(user)
        if brand_ids is None:
            return True
        if not brand_ids:
            return False
        return obj is None or obj.brand_id in brand_ids

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        report = self.get_object(request, object_id)
        sections = []
        if report is not None:
            for section in report.data.get("sections", []):
                rows = [(gettext(str(label)), gettext(value) if isinstance(value, str) else value)
                        for label, value in section.get("rows", [])]
                sections.append({"title": gettext(section.get("title", "")), "rows": rows})
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "sections": sections})
