"""Bulk override actions of the dish and store changelists: an intermediate page picks the stores
(or dishes), then one bulk override service call."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.api import DomainError
from config.net import client_ip

from .. import services
from ..forms import BULK_KINDS, DishPickForm, StorePickForm


class BulkOverrideActionsMixin:
    """Actions that lead to an intermediate page and then call one bulk override service."""

    bulk_template = "admin/stores/bulk_override.html"

    def has_change_override_permission(self, request):
        return request.user.has_perm("stores.change_storedishoverride")

    def has_set_price_permission(self, request):
        return self.has_change_override_permission(request) and services.may_set_price(request.user)

    def _bulk_page(self, request, queryset, kind: str, form, picked_label):
        context = {
            **self.admin_site.each_context(request),
            "title": BULK_KINDS[kind],
            "opts": self.model._meta,
            "kind": kind,
            "form": form,
            "objects": list(queryset[:200]),
            "object_count": queryset.count(),
            "picked_label": picked_label,
            "action": request.POST.get("action"),
            "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, self.bulk_template, context)

    def _run_bulk(self, request, kind: str, *, stores, dishes, price=None):
        ip = client_ip(request)
        actor = request.user
        try:
            if kind in ("sold_out", "available"):
                result = services.override_set_availability(
                    actor=actor, stores=stores, dishes=dishes, available=kind == "available", ip=ip
                )
            elif kind == "price":
                result = services.override_set_price(actor=actor, stores=stores, dishes=dishes, price=price, ip=ip)
            else:
                result = services.override_reset_stock(actor=actor, stores=stores, dishes=dishes, ip=ip)
        except DomainError as error:
            self.message_user(request, error.message, messages.ERROR)
            return None
        self.message_user(
            request,
            ngettext(
                "%(action)s: %(count)d store dish changed (%(created)d new, %(unchanged)d unchanged).",
                "%(action)s: %(count)d store dishes changed (%(created)d new, %(unchanged)d unchanged).",
                result.count,
            )
            % {
                "action": BULK_KINDS[kind],
                "count": result.count,
                "created": len(result.created),
                "unchanged": result.unchanged,
            },
            messages.SUCCESS,
        )
        return None

    @staticmethod
    def _single_brand(request, queryset, model_admin) -> int | None:
        brand_ids = set(queryset.values_list("brand_id", flat=True).distinct())
        if len(brand_ids) != 1:
            model_admin.message_user(request, _("Pick rows of one brand."), messages.ERROR)
            return None
        return brand_ids.pop()


def _bulk_action(kind: str, description, permission: str):
    """An admin action ``bulk_<kind>`` that calls the changelist's ``_bulk(request, queryset, kind)``."""

    @admin.action(description=description, permissions=[permission])
    def action(self, request, queryset):
        return self._bulk(request, queryset, kind)

    action.__name__ = f"bulk_{kind}"
    return action


class DishBulkActionsMixin(BulkOverrideActionsMixin):
    """On the dish changelist: pick the stores."""

    def _bulk(self, request, queryset, kind):
        brand_id = self._single_brand(request, queryset, self)
        if brand_id is None:
            return None
        data = request.POST if "apply" in request.POST else None
        form = StorePickForm(data, user=request.user, brand_id=brand_id, kind=kind)
        if data is not None and form.is_valid():
            return self._run_bulk(
                request, kind, stores=form.cleaned_data["store_list"], dishes=list(queryset),
                price=form.cleaned_data.get("price"),
            )
        return self._bulk_page(request, queryset, kind, form, _("Dishes"))

    bulk_sold_out = _bulk_action("sold_out", _("Mark sold out in stores…"), "change_override")
    bulk_available = _bulk_action("available", _("Mark available in stores…"), "change_override")
    bulk_price = _bulk_action("price", _("Set store price…"), "set_price")
    bulk_reset_stock = _bulk_action("reset_stock", _("Reset stock in stores…"), "change_override")


class StoreBulkActionsMixin(BulkOverrideActionsMixin):
    """On the store changelist: pick the dishes."""

    def _bulk(self, request, queryset, kind):
        brand_id = self._single_brand(request, queryset, self)
        if brand_id is None:
            return None
        data = request.POST if "apply" in request.POST else None
        form = DishPickForm(data, brand_id=brand_id, kind=kind)
        if data is not None and form.is_valid():
            return self._run_bulk(
                request, kind, stores=list(queryset), dishes=form.cleaned_data["dish_list"],
                price=form.cleaned_data.get("price"),
            )
        return self._bulk_page(request, queryset, kind, form, _("Stores"))

    bulk_sold_out = _bulk_action("sold_out", _("Mark dishes sold out…"), "change_override")
    bulk_available = _bulk_action("available", _("Mark dishes available…"), "change_override")
    bulk_price = _bulk_action("price", _("Set store price of dishes…"), "set_price")
    bulk_reset_stock = _bulk_action("reset_stock", _("Reset stock…"), "change_override")
