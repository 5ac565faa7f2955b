"""Orders and their lines, the per-store daily order numbers and pickup codes.

``Order.status`` is the fulfilment state (DESIGN.md, Orders). The money facts (paid, refunded,
refundable) are not stored here: they are derived from the order's payments and refunds
(``ordering.selectors.order_money``). Status changes only through ``ordering.services``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from config.fsm import FSMRefreshMixin
from stores.models import MONEY, Brand, Dish, FulfilmentMode, Store


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    PREPARING = "preparing", _("Preparing")
    READY = "ready", _("Ready for pickup")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")


class OrderSource(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    TABLE = "table", _("Table QR")
    KIOSK = "kiosk", _("Kiosk")


class CancelReason(models.TextChoices):
    CUSTOMER = "customer", _("Cancelled by the customer")
    STAFF = "staff", _("Cancelled by staff")
    EXPIRED = "expired", _("Not paid in time")


# States in which the kitchen has the order; "paid" in the sense of 已支付未核销.
KITCHEN_STATES = (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY)


class Order(FSMRefreshMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="orders", verbose_name=_("store"))
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="orders",
        verbose_name=_("customer"), help_text=_("Empty for kiosk orders."),
    )
    business_date = models.DateField(_("business day"))
    number = models.PositiveIntegerField(_("order number"))
    status = FSMField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT,
        protected=True,
    )
    source = models.CharField(_("placed from"), max_length=10, choices=OrderSource.choices, default=OrderSource.WEB)
    fulfilment = models.CharField(_("fulfilment"), max_length=10, choices=FulfilmentMode.choices)
    table_code = models.CharField(_("table"), max_length=16, blank=True)
    delivery_address = models.CharField(_("delivery address"), max_length=255, blank=True)
    delivery_latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    delivery_longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    delivery_distance_km = models.DecimalField(
        _("delivery distance (km)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    delivery_fee = models.DecimalField(_("delivery fee"), **MONEY, default=Decimal("0.00"))
    total = models.DecimalField(_("total"), **MONEY)
    pickup_code = models.CharField(_("pickup code"), max_length=6, blank=True)
    # Submitting is idempotent per scope ("user:<id>" or "kiosk:<store>") and key.
    idempotency_scope = models.CharField(max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    # {dish id: portions} taken from limited stock at submit; exactly this comes back on cancel.
    stock_reserved = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("ordered at"), default=timezone.now)
    expires_at = models.DateTimeField(_("pay before"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("collected at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancel reason"), max_length=10, choices=CancelReason.choices, blank=True)

    # The pickup code stays out of the history: any staff member may read an order's history,
    # and the code is what hands the food over.
    history = HistoricalRecords(bases=[FSMRefreshMixin], excluded_fields=["request_fingerprint", "pickup_code"])

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["store", "status", "created_at"], name="ordering_store_status_idx"),
            models.Index(fields=["customer", "-created_at"], name="ordering_customer_idx"),
            models.Index(fields=["status", "expires_at"], name="ordering_status_expiry_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["store", "business_date", "number"], name="ordering_number_unique"),
            models.UniqueConstraint(
                fields=["store", "business_date", "pickup_code"], condition=~Q(pickup_code=""),
                name="ordering_pickup_code_unique",
            ),
            models.UniqueConstraint(
                fields=["idempotency_scope", "idempotency_key"], condition=~Q(idempotency_key=""),
                name="ordering_idempotency_unique",
            ),
            models.CheckConstraint(condition=Q(total__gte=0) & Q(subtotal__gte=0), name="ordering_total_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.store.code} #{self.display_number}"

    @property
    def display_number(self) -> str:
        return f"{self.number:03d}"

    @property
    def is_open_for_payment(self) -> bool:
        return self.status == OrderStatus.PENDING_PAYMENT and self.expires_at > timezone.now()

    # Transitions change fields on self only; services lock, save, audit and notify.

    @transition(field=status, source=OrderStatus.PENDING_PAYMENT, target=OrderStatus.PAID)
    def pay(self, *, pickup_code: str, at=None):
        self.pickup_code = pickup_code
        self.paid_at = at or timezone.now()

    @transition(field=status, source=OrderStatus.PAID, target=OrderStatus.PREPARING)
    def start(self, at=None):
        self.started_at = at or timezone.now()

    @transition(field=status, source=OrderStatus.PREPARING, target=OrderStatus.READY)
    def mark_ready(self, at=None):
        self.ready_at = at or timezone.now()

    @transition(field=status, source=OrderStatus.READY, target=OrderStatus.PREPARING)
    def recall_ready(self):
        self.ready_at = None

    @transition(field=status, source=OrderStatus.PREPARING, target=OrderStatus.PAID)
    def recall_start(self):
        self.started_at = None

    @transition(field=status, source=OrderStatus.READY, target=OrderStatus.COMPLETED)
    def redeem(self, at=None):
        self.completed_at = at or timezone.now()

    @transition(field=status, source=OrderStatus.PENDING_PAYMENT, target=OrderStatus.CANCELLED)
    def cancel(self, *, reason: str, at=None):
        self.cancel_reason = reason
        self.cancelled_at = at or timezone.now()

    @transition(field=status, source=list(KITCHEN_STATES), target=OrderStatus.REFUNDED)
    def refund_full(self):
        pass


class OrderLine(models.Model):
    """One dish of an order as it was when ordered: name, price, options and nutrition are copies."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    dish = models.ForeignKey(Dish, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("dish"))
    dish_code = models.CharField(_("dish code"), max_length=32)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    base_price = models.DecimalField(_("dish price"), **MONEY)
    unit_price = models.DecimalField(_("unit price"), **MONEY, help_text=_("Dish price with the options' changes."))
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    line_total = models.DecimalField(_("line total"), **MONEY)
    # [{"option": id, "group": name, "name_zh": ..., "name_en": ..., "price_delta": "2.00"}]
    options = models.JSONField(_("options"), default=list, blank=True)
    kcal = models.PositiveIntegerField(_("energy (kcal)"), default=0)
    protein_g = models.DecimalField(_("protein (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    fat_g = models.DecimalField(_("fat (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    carbs_g = models.DecimalField(_("carbohydrates (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    is_set_meal = models.BooleanField(_("set meal"), default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="ordering_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="ordering_line_price_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.name}"

    @property
    def name(self) -> str:
        if (get_language() or "").startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh

    @property
    def option_names(self) -> list[str]:
        english = (get_language() or "").startswith("en")
        return [(o.get("name_en") if english and o.get("name_en") else o.get("name_zh", "")) for o in self.options]


class OrderNumberCounter(models.Model):
    """The last order number given out per store and business day (a locked counter, not Max()+1)."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+")
    business_date = models.DateField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "business_date"], name="ordering_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.business_date}: {self.last_number}"
