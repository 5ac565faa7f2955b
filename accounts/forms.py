"""Forms of accounts: the customer login page and the admin's user forms."""

from django import forms
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
