"""The member's own page (my canteen: subsidy balance, ledger, dietary needs, nutrition) and the
nutrition pages of canteen staff (per organisation and department) and HQ (light-meal share per
canteen store).

Access: the member page needs a login; an account that is no member gets a page that says so.
The staff page follows the staff pages (``views_staff``): anonymous users go to the staff login,
users who manage no organisation get a 403 page, an organisation they do not manage answers 404.
The HQ page is for the HQ managers of a brand (its canteen stores) and superusers (all); anybody
else gets 403.
"""

from __future__ import annotations

from typing import Literal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import Role
from reports.charts import bar_chart
from stores.models import Allergen
from stores.selectors import brand_ids_visible_to

from . import nutrition
from .errors import CanteenInvalid
from .models import DietaryNeed, Member
from .selectors import member_for_user, organisations_for, wallet_entries
from .services import member_dietary_update

STAFF_LOGIN_URL = "admin:login"
LEDGER_SHOWN = 10


class DietaryForm(forms.Form):
    needs = forms.MultipleChoiceField(label=gettext_lazy("I eat"), choices=DietaryNeed.choices, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    allergies = forms.ModelMultipleChoiceField(label=gettext_lazy("I am allergic to"), required=False,
                                               queryset=Allergen.objects.order_by("code"),
                                               widget=forms.CheckboxSelectMultiple)

    @classmethod
    def for_member(cls, member: Member, data=None) -> DietaryForm:
        initial = {"needs": list(member.dietary_needs or ()),
                   "allergies": list(member.allergies.values_list("pk", flat=True))}
        return cls(data, initial=initial)


def _member_context(member: Member, form: DietaryForm) -> dict:
    windows = [nutrition.member_nutrition(member, days=days) for days in nutrition.WINDOWS]
    daily = nutrition.member_daily_kcal(member, days=max(nutrition.WINDOWS))
    chart = bar_chart([(day.strftime("%m-%d"), kcal) for day, kcal in daily], height=180,
                      title=_("Energy per day over the last %(days)d days (kcal)") % {"days": len(daily)})
    wallet = getattr(member, "wallet", None)
    return {
        "member": member,
        "organisation": member.organisation,
        "balance": wallet.balance if wallet is not None else None,
        "entries": wallet_entries(member, limit=LEDGER_SHOWN),
        "windows": windows,
        "chart": chart,
        "form": form,
        "stores": list(member.organisation.stores.order_by("code")),
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def member_home(request):
    """My canteen; a post records the dietary needs and allergies, then back here."""
    member = member_for_user(request.user)
    if member is None:
        return render(request, "canteen/member/not_member.html")
    form = DietaryForm.for_member(member, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            member_dietary_update(member=member, needs=form.cleaned_data["needs"],
                                  allergy_ids=[allergen.pk for allergen in form.cleaned_data["allergies"]])
        except CanteenInvalid as exc:
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("Your dietary needs are saved. The menu marks the dishes that suit you."))
            return redirect("canteen:member-home")
    status = 400 if form.is_bound else 200
    return render(request, "canteen/member/home.html", _member_context(member, form), status=status)


def _staff_login(request):
    return redirect_to_login(request.get_full_path(), reverse(STAFF_LOGIN_URL))


@never_cache
@require_GET
def staff_nutrition(request, org_id: int):
    """Per department of one organisation: averages per eating member and day, light-meal share."""
    user = request.user
    if not user.is_authenticated:
        return _staff_login(request)
    organisations = organisations_for(user)
    if not organisations.exists():
        return render(request, "canteen/member/nutrition_denied.html", status=403)
    organisation = organisations.select_related("brand").filter(pk=org_id).first()
    if organisation is None:
        raise Http404(_("No such organisation."))
    days = nutrition.window_days(request.GET.get("days"))
    report = nutrition.organisation_nutrition(organisation, days=days, no_department=_("No department"))
    return render(request, "canteen/member/staff_nutrition.html", {
        "organisation": organisation, "section": "nutrition", "report": report, "days": days,
        "windows": nutrition.WINDOWS,
    })


def hq_brand_ids(user) -> set[int] | Literal[False] | None:
    """The brands whose canteen stores ``user`` may see here (None: all), or ``False``: none."""
    brands = brand_ids_visible_to(user)
    if brands is None:  # an active superuser
        return None
    if brands and user.role == Role.HQ_MANAGER:
        return brands
    return False


@never_cache
@require_GET
def hq_nutrition(request):
    """Light-meal share per canteen store of the HQ manager's brand (a superuser: every brand)."""
    user = request.user
    if not user.is_authenticated:
        return _staff_login(request)
    brands = hq_brand_ids(user)
    if brands is False:
        return render(request, "canteen/member/nutrition_denied.html", status=403)
    days = nutrition.window_days(request.GET.get("days"))
    win, rows = nutrition.store_light_shares(brands, days=days)
    return render(request, "canteen/member/hq_nutrition.html", {
        "organisation": None, "section": "nutrition", "window": win, "rows": rows, "days": days,
        "windows": nutrition.WINDOWS, "show_brand": brands is None or len(brands) > 1,
    })
