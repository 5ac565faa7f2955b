"""Forms of accounts: the customer login page and the admin's user forms."""

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.utils.translation import gettext_lazy as _

from .models import User
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
    """Admin "add user": phone, name, role and (optionally) a password."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("phone", "name", "role", "is_staff")
        field_classes = {"phone": PhoneField}


class UserChangeForm(BaseUserChangeForm):
    class Meta(BaseUserChangeForm.Meta):
        model = User
        fields = "__all__"
        field_classes = {"phone": PhoneField}


class FreezeActionForm(ActionForm):
    """The admin action bar with a reason, used by the freeze and unfreeze actions."""

    reason = forms.CharField(label=_("Reason"), required=False, max_length=255)
