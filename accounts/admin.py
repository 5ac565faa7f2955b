import copy

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin_mixins import ReadOnlyAdminMixin
from config.api import DomainError
from config.net import client_ip

from . import services
from .forms import AdminPasswordChangeForm, FreezeActionForm, UserChangeForm, UserCreationForm
from .models import STAFF_ROLES, SmsCode, User
from .validators import mask_phone


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    """Superusers only (no role grants accounts permissions).

    Adding, editing and setting a password go through the services (``staff_create``,
    ``customer_create``, ``user_update``, ``user_set_password``), which audit each change;
    ``is_staff`` is shown read-only because the services derive it from the role.
    """

    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm
    action_form = FreezeActionForm

    list_display = ["phone", "name", "role", "is_staff", "is_active", "is_frozen", "date_joined", "last_login"]
    list_filter = ["role", "is_staff", "is_frozen", "is_active", "is_superuser"]
    search_fields = ["phone", "name"]
    ordering = ["-date_joined"]
    readonly_fields = ["is_staff", "is_frozen", "frozen_reason", "frozen_at", "frozen_brand_id", "last_login",
                       "date_joined"]
    filter_horizontal = ["groups", "user_permissions"]
    actions = ["freeze_users", "unfreeze_users"]

    fieldsets = [
        (None, {"fields": ["phone", "password"]}),
        (_("Personal info"), {"fields": ["name"]}),
        (_("Role and access"), {"fields": ["role", "is_staff", "is_active", "is_superuser"]}),
        (
            _("Frozen"),
            {
                "fields": ["is_frozen", "frozen_reason", "frozen_at", "frozen_brand_id"],
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
                "fields": ["phone", "name", "role", "usable_password", "password1", "password2"],
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Only superusers grant superuser status or raw permissions.
            readonly += ["is_superuser", "groups", "user_permissions"]
        return readonly

    # --- saving through the services ---------------------------------------------------------

    def save_model(self, request, obj, form, change):
        ip = client_ip(request)
        if change:
            editable = services.USER_UPDATE_FIELDS
            changes = {name: form.cleaned_data[name] for name in form.changed_data if name in editable}
            if changes:
                services.user_update(user=obj, actor=request.user, changes=changes, ip=ip)
            if obj.is_staff and not obj.has_usable_password():
                self.message_user(
                    request,
                    _("This account has no password yet: set one with the password form so that it can log in."),
                    messages.WARNING,
                )
            return
        data = form.cleaned_data
        if data["role"] in STAFF_ROLES:
            saved = services.staff_create(
                phone=data["phone"],
                name=data.get("name", ""),
                role=data["role"],
                password=data["password1"],
                actor=request.user,
                ip=ip,
            )
        else:
            saved = services.customer_create(phone=data["phone"], name=data.get("name", ""), actor=request.user, ip=ip)
        # The admin goes on with ``obj`` (history entry, redirect): make it the saved row.
        for field in User._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_related(self, request, form, formsets, change):
        # The form's many-to-many fields (groups, user_permissions) were saved by user_update.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # Django runs the add and change views in one transaction. The service's audit event must
    # be that transaction's last write (audit_record), so the admin's own history entry is
    # written once it has committed.

    def log_addition(self, request, obj, message):
        transaction.on_commit(lambda: super(UserAdmin, self).log_addition(request, obj, message))

    def log_change(self, request, obj, message):
        transaction.on_commit(lambda: super(UserAdmin, self).log_change(request, obj, message))

    def user_change_password(self, request, id, form_url=""):
        # Django's view, with a password form bound to this request's actor and IP so that its
        # save (services.user_set_password) is audited. The admin is shared between threads,
        # hence a copy for this request rather than an attribute set on ``self``.
        bound = copy.copy(self)
        bound.change_password_form = type(
            "BoundAdminPasswordChangeForm",
            (self.change_password_form,),
            {"actor": request.user, "ip": client_ip(request)},
        )
        return super(UserAdmin, bound).user_change_password(request, id, form_url)

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
class SmsCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
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
