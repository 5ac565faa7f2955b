"""Forms of the canteen staff pages. They read and check the shape of the input only; the
amount rules, the CSV rules and who may top up whom are ``canteen.services``'."""

from __future__ import annotations

import re
from datetime import date

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .services import NOTE_MAX

SEARCH_MAX = 60
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_YEAR, LAST_YEAR = 2000, 2100


class MemberSearchForm(forms.Form):
    q = forms.CharField(label=_("Number, name, phone (last digits) or department"), max_length=SEARCH_MAX,
                        required=False, widget=forms.TextInput(attrs={"type": "search", "autocomplete": "off"}))


class TopupForm(forms.Form):
    """One top-up: the amount is a string here and ``clean_amount`` (the service) decides."""

    amount = forms.CharField(label=_("Amount (CNY)"), max_length=20, error_messages={
        "required": _("Enter the amount to top up, such as 50 or 12.50."),
        "max_length": _("The amount must be a number such as 50 or 12.50."),
    }, widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
    note = forms.CharField(label=_("Note"), max_length=NOTE_MAX, required=False,
                           widget=forms.TextInput(attrs={"maxlength": NOTE_MAX}))
    token = forms.CharField(max_length=100, widget=forms.HiddenInput, error_messages={
        "required": _("This form had expired. Check the amount and submit it again."),
    })


class BatchUploadForm(forms.Form):
    """The CSV file; its size, encoding and columns are checked by ``batch_read`` / ``batch_preview``."""

    file = forms.FileField(label=_("CSV file (columns: number, amount, note)"), max_length=200,
                           allow_empty_file=True, error_messages={
                               "required": _("Choose a CSV file to upload."),
                               "invalid": _("Choose a CSV file to upload."),
                               "missing": _("Choose a CSV file to upload."),
                               "max_length": _("The file name is too long (at most 200 characters)."),
                           }, widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}))


def month_start(value: str) -> date | None:
    """``"2026-09"`` as the first day of that month; None when it is not such a month."""
    match = MONTH_RE.match((value or "").strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (FIRST_YEAR <= year <= LAST_YEAR and 1 <= month <= 12):
        return None
    return date(year, month, 1)


def previous_month(today: date | None = None) -> date:
    today = today or timezone.localdate()
    first = today.replace(day=1)
    return (first.replace(year=first.year - 1, month=12) if first.month == 1
            else first.replace(month=first.month - 1))


class SettlementForm(forms.Form):
    month = forms.CharField(label=_("Month"), max_length=7, widget=forms.TextInput(attrs={"type": "month"}),
                            error_messages={"required": _("Choose a month (YYYY-MM).")})

    def clean_month(self) -> date:
        first = month_start(self.cleaned_data["month"])
        if first is None:
            raise forms.ValidationError(_("Choose a month as YYYY-MM, for example 2026-09."), code="invalid_month")
        return first
