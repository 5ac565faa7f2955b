"""Orders in the admin: read-only for everybody (orders change only through ``ordering.services``),
scoped like every admin (HQ: their brand; store managers and kitchen staff: their stores), and the
"stuck orders" page (paid but not started in time, unpaid past expiry but not expired).

Ordering does not import payments (DESIGN.md, dependencies): the payments admin adds its inline to
``OrderAdmin.extra_inlines``, and the paid amount comes through the ``payments`` reverse relation.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from accounts.validators import mask_phone, normalize_phone
from config.net import client_ip
from stores.admin.scoping import ScopedAdmin, scope_brand_ids

from .models import Order, OrderLine
from .selectors import order_money, paid_amount_expression, stuck_orders
from .services import order_expire

ZERO = Decimal("0.00")
STAFF_ROLES = (Role.HQ_MANAGER, Role.STORE_MANAGER, Role.KITCHEN_STAFF)


class RoleAccessMixin:
    """Who may open an admin at all: superusers, users holding the model's view permission, or
    staff whose role is in ``view_roles``. Which rows they see is the scoping mixin's business."""

    view_roles: tuple[str, ...] = ()

    def role_may_view(self, request) -> bool:
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        brand_ids = scope_brand_ids(request)  # empty for frozen users, None for superusers
        if brand_ids is None:
            return True
        if not brand_ids:
            return False
        opts = self.model._meta
        return user.role in self.view_roles or user.has_perm(f"{opts.app_label}.view_{opts.model_name}")

    def has_module_permission(self, request):
        return self.role_may_view(request)

    def has_view_permission(self, request, obj=None):
        return self.role_may_view(request) and self.in_scope(request, obj)


class ReadOnlyScopedAdmin(RoleAccessMixin, ScopedAdmin):
    """Shown, never added, changed or deleted here: the services are the only writers."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # Subclasses declare ``fields`` or ``fieldsets`` (else get_fieldsets would build a form to
        # find them, which asks for the read-only fields again).
        # Every field is read-only, so no form ever carries a field (the FSM status least of all),
        # not even on simple-history's version pages.
        fields = list(super().get_readonly_fields(request, obj))
        for name in admin.utils.flatten_fieldsets(self.get_fieldsets(request, obj)):
            if name not in fields:
                fields.append(name)
        return fields


class ReadOnlyInline(admin.TabularInline):
    """Rows of an object shown on its page; the page itself checks who may see the object."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_view_permission(self, request, obj=None):
        return True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("position", "dish_code", "name_zh", "name_en", "option_list", "unit_price", "quantity", "line_total",
              "kcal", "protein_g", "fat_g", "carbs_g", "is_set_meal")
    ordering = ("position",)

    @admin.display(description=_("options"))
    def option_list(self, obj):
        return format_html_join(
            ", ", "{} ({})", ((name, option.get("price_delta", "0.00")) for name, option in
                              zip(obj.option_names, obj.options, strict=False))
        ) or "-"


def _minutes(delta: timedelta) -> int:
    return max(int(delta.total_seconds() // 60), 0)


@admin.register(Order)
class OrderAdmin(ReadOnlyScopedAdmin):
    store_path = "store"
    view_roles = STAFF_ROLES
    # Inlines of apps that build on ordering (payments adds its payments here).
    extra_inlines: list = []
    inlines = (OrderLineInline,)

    list_display = ("order_number", "store", "status", "fulfilment", "total", "paid_amount", "created_at",
                    "paid_at", "customer_phone")
    list_display_links = ("order_number",)
    list_select_related = ("store", "customer")
    list_filter = (("store", admin.RelatedOnlyFieldListFilter), "status", "fulfilment", "source", "business_date")
    search_fields = ("number", "pickup_code", "customer__phone")
    date_hierarchy = "business_date"
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("order_number", "store", "brand", "status", "source", "fulfilment", "table_code",
                           "customer_phone", "contact_phone_masked", "pickup_code_masked", "note")}),
        (_("Money"), {"fields": ("subtotal", "delivery_fee", "total", "money_facts")}),
        (_("Delivery"), {"fields": ("delivery_address", "delivery_distance_km"), "classes": ("collapse",)}),
        (_("Times"), {"fields": ("business_date", "created_at", "expires_at", "paid_at", "started_at", "ready_at",
                                 "completed_at", "cancelled_at", "cancel_reason")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_paid=paid_amount_expression())

    def get_inlines(self, request, obj):
        return (*super().get_inlines(request, obj), *self.extra_inlines)

    def get_search_results(self, request, queryset, search_term):
        """An order number (``7``, ``007`` or ``#007``), a pickup code, or (part of) a customer's phone."""
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(pickup_code=term)
        number = term.lstrip("#")
        if number.isascii() and number.isdigit() and len(number) <= 9:
            query |= Q(number=int(number))
        phone = normalize_phone(term)
        if phone.isascii() and phone.isdigit() and len(phone) >= 4:
            query |= Q(customer__phone__endswith=phone)
        return queryset.filter(query), False

    # columns ---------------------------------------------------------------

    @admin.display(description=_("order number"), ordering="number")
    def order_number(self, obj):
        return f"#{obj.display_number}"

    @admin.display(description=_("paid"), ordering="_paid")
    def paid_amount(self, obj):
        return obj._paid if hasattr(obj, "_paid") else order_money(obj).paid

    @admin.display(description=_("customer"))
    def customer_phone(self, obj):
        return obj.customer.masked_phone if obj.customer_id else "-"

    @admin.display(description=_("contact phone"))
    def contact_phone_masked(self, obj):
        return mask_phone(obj.contact_phone) if obj.contact_phone else "-"

    @admin.display(description=_("pickup code"))
    def pickup_code_masked(self, obj):
        # The code is the customer's proof at the counter: staff type it in, they do not read it here.
        return f"••••{obj.pickup_code[-2:]}" if obj.pickup_code else "-"

    @admin.display(description=_("money"))
    def money_facts(self, obj):
        facts = order_money(obj)
        rows = (
            (_("total"), facts.total),
            (_("paid"), facts.paid),
            (_("refunded"), facts.refunded),
            (_("left to pay"), facts.due),
            (_("refundable"), facts.refundable),
        )
        return format_html(
            '<table class="order-money">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows),
        )

    # the stuck orders page -------------------------------------------------

    def get_urls(self):
        urls = super().get_urls()
        stuck = path("stuck/", self.admin_site.admin_view(self.stuck_view), name="ordering_order_stuck")
        return [stuck, *urls]

    def may_expire(self, request) -> bool:
        user = request.user
        return self.role_may_view(request) and (user.is_superuser or user.role in (Role.HQ_MANAGER,
                                                                                     Role.STORE_MANAGER))

    def stuck_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._expire_selected(request)
        now = timezone.now()
        lists = stuck_orders(user=request.user, now=now)
        unstarted = []
        for order in lists["unstarted"]:
            limit = timedelta(minutes=order.brand.kitchen_alert_minutes)
            unstarted.append({"order": order, "since": order.paid_at,
                              "minutes_late": _minutes(now - order.paid_at - limit)})
        unexpired = [
            {"order": order, "since": order.expires_at, "minutes_late": _minutes(now - order.expires_at)}
            for order in lists["unexpired"]
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Stuck orders"),
            "opts": self.model._meta,
            "unstarted": unstarted,
            "unexpired": unexpired,
            "may_expire": self.may_expire(request),
            "changelist_url": reverse("admin:ordering_order_changelist"),
        }
        return TemplateResponse(request, "admin/ordering/order/stuck.html", context)

    def _expire_selected(self, request):
        if not self.may_expire(request):
            raise PermissionDenied
        ids = []
        for value in request.POST.getlist("order"):
            try:
                ids.append(uuid.UUID(value))
            except ValueError:
                continue
        due = stuck_orders(user=request.user)["unexpired"].filter(pk__in=ids).values_list("pk", flat=True)
        expired = sum(
            1 for order_id in due if order_expire(order_id=order_id, actor=request.user, ip=client_ip(request))
        )
        skipped = len(ids) - expired
        if expired:
            self.message_user(request, _("%(count)d orders expired.") % {"count": expired}, messages.SUCCESS)
        if skipped or not ids:
            self.message_user(
                request,
                _("%(count)d orders were not expired: paid meanwhile, a payment still in progress, or not "
                  "yours.") % {"count": skipped},
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:ordering_order_stuck"))


def _with_stuck_orders_link(get_app_list):
    """The admin index (and side bar) lists "Stuck orders" under Ordering for whoever may see orders."""

    def wrapped(request, app_label=None):
        app_list = get_app_list(request, app_label)
        for app in app_list:
            if app.get("app_label") != "ordering":
                continue
            if any(model.get("object_name") == "StuckOrders" for model in app["models"]):
                continue
            app["models"].append({
                "model": None,
                "name": _("Stuck orders"),
                "object_name": "StuckOrders",
                "perms": {"add": False, "change": False, "delete": False, "view": True},
                "admin_url": reverse("admin:ordering_order_stuck", current_app=admin.site.name),
                "add_url": None,
                "view_only": True,
            })
        return app_list

    wrapped.__wrapped__ = get_app_list
    return wrapped


admin.site.get_app_list = _with_stuck_orders_link(admin.site.get_app_list)
