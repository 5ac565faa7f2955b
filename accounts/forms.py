"""Forms of accounts: the customer login page and the admin's user forms."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.forms import AdminPasswordChangeForm as BaseAdminPasswordChangeForm
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.utils.translation import gettext_lazy as _

from . import services
from .models import STAFF_ROLES, User
from .validators import normalize_phone, validate_mainland_mobile


class PhoneField(forms.CharField):
    """A mainland mobile number; accepts spaces, dashes and a +86 prefix."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", _("Mobile phone"))
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "tel", "autocomplete": "tel", "placeholder": "138 0000 0000"})

    def to_python(self, value):
        value = super().to_python(value)
        return normalize_phone(value) if value else value

    def validate(self, value):
        super().validate(value)
        if value:
            validate_mainland_mobile(value)


class CodeRequestForm(forms.Form):
    phone = PhoneField()


class CodeLoginForm(forms.Form):
    phone = PhoneField()
    code = forms.RegexField(
        label=_("Code"),
        regex=r"^\d{6}$",
        max_length=6,
        error_messages={"invalid": _("Enter the 6-digit code from the SMS.")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": r"\d{6}", "maxlength": 6}
        ),
    )

    def __init__(self, *args, require_code: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # "Send code" submits the same form: only the phone matters then.
        self.fields["code"].required = require_code
        if not require_code:
            self.fields["code"].validators = []


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The admin's password login: a frozen account is refused with its own message.

    The check runs only after the password was accepted, so the message tells nothing to
    someone who does not know the password (wrong passwords still count toward the lockout).
    """

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "frozen": _("This account is frozen and cannot log in. Please contact your HQ manager."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if getattr(user, "is_frozen", False):
            raise forms.ValidationError(self.error_messages["frozen"], code="frozen")


class UserCreationForm(AdminUserCreationForm):
    """Admin "add user": phone, name, role and a password for staff, none for customers.

    Only validates; the admin saves through ``services.staff_create`` or
    ``services.customer_create``. ``is_staff`` is not a field: it follows from the role.
    """

    error_messages = {
        **AdminUserCreationForm.error_messages,
        "staff_password": _("Staff log in with a password: enable password-based authentication and set one."),
        "customer_password": _(
            "Customers log in with an SMS code: disable password-based authentication for a customer."
        ),
    }

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("phone", "name", "role")
        field_classes = {"phone": PhoneField}

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        usable = cleaned.get("set_usable_password")
        if role in STAFF_ROLES and not usable:
            self.add_error(
                "usable_password",
                forms.ValidationError(self.error_messages["staff_password"], code="staff_password"),
            )
        elif role and role not in STAFF_ROLES and usable:
            self.add_error(
                "usable_password",
                forms.ValidationError(self.error_messages["customer_password"], code="customer_password"),
            )
        return cleaned


class UserChangeForm(BaseUserChangeForm):
    class Meta(BaseUserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {"phone": PhoneField}


class AdminPasswordChangeForm(BaseAdminPasswordChangeForm):
    """The admin's "change password" form, saving through ``services.user_set_password``.

    ``actor`` and ``ip`` are bound per request (``UserAdmin.user_change_password``) so that
    the change is audited with who made it.
    """

    actor: User | None = None
    ip: str | None = None

    def save(self, commit=True):
        password = self.cleaned_data["password1"] if self.cleaned_data["set_usable_password"] else None
        return services.user_set_password(user=self.user, actor=self.actor, password=password, ip=self.ip)


class FreezeActionForm(ActionForm):
    """The admin action bar with a reason, used by the freeze and unfreeze actions."""

    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)
