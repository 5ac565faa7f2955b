from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.api import DomainError
from config.net import client_ip

from . import services
from .forms import FreezeActionForm, UserChangeForm, UserCreationForm
from .models import SmsCode, User
from .validators import mask_phone


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    action_form = FreezeActionForm

    list_display = ["phone", "name", "role", "is_staff", "is_active", "is_frozen", "date_joined", "last_login"]
    list_filter = ["role", "is_staff", "is_frozen", "is_active", "is_superuser"]
    search_fields = ["phone", "name"]
    ordering = ["-date_joined"]
    readonly_fields = ["is_frozen", "frozen_reason", "frozen_at", "last_login", "date_joined"]
    filter_horizontal = ["groups", "user_permissions"]
    actions = ["freeze_users", "unfreeze_users"]

    fieldsets = [
        (None, {"fields": ["phone", "password"]}),
        (_("Personal info"), {"fields": ["name"]}),
        (_("Role and access"), {"fields": ["role", "is_staff", "is_active", "is_superuser"]}),
        (
            _("Frozen"),
            {
                "fields": ["is_frozen", "frozen_reason", "frozen_at"],
                "description": _("Use the Freeze / Unfreeze actions on the user list; they are audited."),
            },
        ),
        (_("Extra permissions"), {"classes": ["collapse"], "fields": ["groups", "user_permissions"]}),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["phone", "name", "role", "is_staff", "usable_password", "password1", "password2"],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only superusers grant superuser status or raw permissions.
            readonly += ["is_superuser", "groups", "user_permissions"]
        return readonly

    @admin.action(description=_("Freeze selected accounts (give a reason)"), permissions=["change"])
    def freeze_users(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, _("Give a reason for freezing the account."), messages.ERROR)
            return
        count = 0
        for user in queryset.order_by("pk"):
            if user.is_frozen:
                continue
            try:
                services.user_freeze(user=user, reason=reason, actor=request.user, ip=client_ip(request))
            except DomainError as exc:
                self.message_user(request, f"{user}: {exc.message}", messages.ERROR)
            else:
                count += 1
        self.message_user(
            request,
            ngettext("%(count)d account frozen.", "%(count)d accounts frozen.", count) % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Unfreeze selected accounts"), permissions=["change"])
    def unfreeze_users(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        count = 0
        for user in queryset.order_by("pk"):
            if not user.is_frozen:
                continue
            services.user_unfreeze(user=user, reason=reason, actor=request.user, ip=client_ip(request))
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d account unfrozen.", "%(count)d accounts unfrozen.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(SmsCode)
class SmsCodeAdmin(admin.ModelAdmin):
    """Read-only, for support ("I never got a code"). The code hash is never shown."""

    list_display = ["masked_phone", "purpose", "created_at", "expires_at", "attempts", "used_at", "ip"]
    list_filter = ["purpose", "created_at"]
    search_fields = ["phone"]
    date_hierarchy = "created_at"
    # The detail page shows the phone masked too; search still takes a full number.
    fields = ["masked_phone", "purpose", "created_at", "expires_at", "attempts", "used_at", "ip"]
    readonly_fields = fields

    @admin.display(description=_("mobile phone"), ordering="phone")
    def masked_phone(self, obj: SmsCode) -> str:
        return mask_phone(obj.phone)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
