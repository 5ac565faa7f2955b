"""Customer pages: find a store, read its menu. Thin: validate -> selector -> render."""

from django import forms
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from . import selectors
from .errors import StoreNotFound

STORES_PER_PAGE = 20


class StoreLocationForm(forms.Form):
    """The filters of the store list. The location: all or nothing, and a real place (finite, in
    range). The city: text a store's city could hold (no NUL byte, at most 50 characters)."""

    city = forms.CharField(required=False, max_length=50)
    lat = forms.FloatField(required=False, min_value=-90, max_value=90)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180)

    def clean(self):
        cleaned = super().clean()
        location_read = "lat" not in self.errors and "lng" not in self.errors
        if (cleaned.get("lat") is None) != (cleaned.get("lng") is None) and location_read:
            raise forms.ValidationError(_("Give both latitude and longitude."), code="location_incomplete")
        return cleaned


@require_GET
def store_list(request):
    form = StoreLocationForm(request.GET)
    form.is_valid()
    # An unreadable city is no filter; an unreadable location is no sorting (and a notice).
    city = "" if "city" in form.errors else form.cleaned_data.get("city", "")
    location_error = None
    lat = lng = None
    if not any(name in form.errors for name in ("lat", "lng", "__all__")):
        lat, lng = form.cleaned_data.get("lat"), form.cleaned_data.get("lng")
    else:
        location_error = _("We could not read your location, so the stores are not sorted by distance.")

    stores = selectors.store_list_public(city=city or None, lat=lat, lng=lng)
    page = Paginator(stores, STORES_PER_PAGE).get_page(request.GET.get("page"))
    now = selectors.local_now()
    cards = [
        {
            "store": store,
            "open_now": selectors.store_is_open_now(store, now=now),
            "hours_today": selectors.store_hours_today(store, now=now),
        }
        for store in page.object_list
    ]
    return render(
        request,
        "stores/store_list.html",
        {
            "page_obj": page,
            "cards": cards,
            "cities": selectors.city_list(),
            "city": city,
            "located": lat is not None,
            "location_error": location_error,
        },
    )


@require_GET
def store_detail(request, code: str):
    try:
        store = selectors.store_get_public(code=code)
    except StoreNotFound as exc:
        raise Http404(exc.message) from exc
    menu = selectors.store_menu(store=store)
    return render(
        request,
        "stores/store_detail.html",
        {
            "store": store,
            "menu": menu,
            "open_now": selectors.store_is_open_now(store),
            "hours_today": selectors.store_hours_today(store),
        },
    )
