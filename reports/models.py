"""Daily rollups of the orders, materialised per store (and dish, hour, customer) and business day.

The dashboards read these tables, never the orders themselves: a 30-day view of 200 stores reads
a few thousand rows instead of hundreds of thousands of orders. They are derived data, rebuilt for
whole business days by ``reports.services.rollups_refresh`` (a periodic task keeps today and the
last days current), so nothing else writes them.

What the figures count (the same rule everywhere):
- an order counts once it was paid: status paid, preparing, ready, completed or refunded;
- ``revenue`` is what those orders were paid (their totals); ``refunded_amount`` is what went back
  to the customers of those orders (``StoreDayRefunds``, summed); net revenue is the difference;
- a refund counts once it was decided: refund requests approved, processing, succeeded, or failed
  (a failed payout is still owed and goes again to another destination), at their amount, whole
  or partial; requests asked for, under review, rejected or withdrawn do not count. An order
  refunded in full without a refund request (refunded before the refunds app existed, or
  written directly) counts at its total, with no reason;
- the day is the order's business day (the store's local date when it was placed), for refunds
  too: the refund rate of a day is the share of that day's sales that went back. A refund decided
  days later rebuilds its order's day (``reports.services.rollups_refresh_recent``).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from stores.models import MONEY, Brand, Dish, MenuCategory, Store


class StoreDaySales(models.Model):
    """Orders and money of one store on one business day."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    day = models.DateField(_("business day"))
    orders = models.PositiveIntegerField(_("paid orders"), default=0)
    revenue = models.DecimalField(_("paid amount"), **MONEY, default=0)
    refunded_orders = models.PositiveIntegerField(_("refunded orders"), default=0)
    refunded_amount = models.DecimalField(_("refunded amount"), **MONEY, default=0)
    cancelled_orders = models.PositiveIntegerField(_("cancelled or expired unpaid orders"), default=0)

    class Meta:
        verbose_name = _("store day sales")
        verbose_name_plural = _("store day sales")
        constraints = [models.UniqueConstraint(fields=["store", "day"], name="reports_storeday_unique")]
        indexes = [models.Index(fields=["brand", "day", "store"], name="reports_storeday_brand_day")]

    def __str__(self) -> str:
        return f"{self.store_id} {self.day}"

    @property
    def net_revenue(self):
        return self.revenue - self.refunded_amount


class StoreDayRefunds(models.Model):
    """Refunds of the paid orders of one store and business day, by the reason given.

    ``reason_code`` is a ``refunds.models.RefundReason``, or empty for orders refunded in full
    without a refund request. ``refunds`` counts refund requests (or such orders), ``amount`` what
    they pay back. Summed over the reasons, ``amount`` is ``StoreDaySales.refunded_amount``.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    day = models.DateField(_("business day"))
    reason_code = models.CharField(_("reason"), max_length=20, blank=True)
    refunds = models.PositiveIntegerField(_("refunds"), default=0)
    amount = models.DecimalField(_("refunded amount"), **MONEY, default=0)

    class Meta:
        verbose_name = _("store day refunds")
        verbose_name_plural = _("store day refunds")
        constraints = [
            models.UniqueConstraint(fields=["store", "day", "reason_code"], name="reports_storedayrefund_unique"),
        ]
        indexes = [
            models.Index(fields=["brand", "day", "store"], name="reports_storedayrefund_cover",
                         include=["reason_code", "refunds", "amount"]),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.day} {self.reason_code or '-'}: {self.amount}"


class DishDaySales(models.Model):
    """Portions of one dish sold by one store on one business day.

    Keyed by the dish code of the order lines (the dish may be deleted later: ``dish`` is then
    empty, the code and the names stay). ``quantity``, ``revenue`` and ``orders`` count the lines
    of paid orders that were not refunded; ``refunded_quantity`` the portions of refunded orders.
    ``category`` is the dish's category when the rollup was computed.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    dish = models.ForeignKey(
        Dish, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("dish")
    )
    dish_code = models.CharField(_("dish code"), max_length=32)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    category = models.ForeignKey(
        MenuCategory, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("category"),
    )
    day = models.DateField(_("business day"))
    quantity = models.PositiveIntegerField(_("portions sold"), default=0)
    revenue = models.DecimalField(_("revenue"), **MONEY, default=0)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    refunded_quantity = models.PositiveIntegerField(_("portions refunded"), default=0)

    class Meta:
        verbose_name = _("dish day sales")
        verbose_name_plural = _("dish day sales")
        constraints = [
            models.UniqueConstraint(fields=["store", "dish_code", "day"], name="reports_dishday_unique"),
        ]
        indexes = [
            # Covering: the dashboard's per-dish sums read the index only (no table rows).
            models.Index(
                fields=["brand", "day", "store"], name="reports_dishday_cover",
                include=["dish_code", "category", "quantity", "revenue", "orders", "refunded_quantity"],
            ),
            models.Index(fields=["store", "day"], name="reports_dishday_store_day"),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.dish_code} {self.day}: {self.quantity}"


class BrandDishDaySales(models.Model):
    """``DishDaySales`` summed over all the stores of a brand: what a whole-brand view reads.

    Rebuilt from ``DishDaySales`` in the same refresh, so the two always agree.
    """

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    dish_code = models.CharField(_("dish code"), max_length=32)
    day = models.DateField(_("business day"))
    category = models.ForeignKey(
        MenuCategory, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("category"),
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    quantity = models.PositiveIntegerField(_("portions sold"), default=0)
    revenue = models.DecimalField(_("revenue"), **MONEY, default=0)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    refunded_quantity = models.PositiveIntegerField(_("portions refunded"), default=0)

    class Meta:
        verbose_name = _("brand dish day sales")
        verbose_name_plural = _("brand dish day sales")
        constraints = [
            models.UniqueConstraint(fields=["brand", "dish_code", "day"], name="reports_branddishday_unique"),
        ]
        indexes = [models.Index(fields=["brand", "day"], name="reports_branddishday_day")]

    def __str__(self) -> str:
        return f"{self.brand_id} {self.dish_code} {self.day}: {self.quantity}"


class StoreHourSales(models.Model):
    """Paid orders of one store by the local weekday and hour they were placed (peak hours)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    day = models.DateField(_("business day"))
    weekday = models.PositiveSmallIntegerField(_("weekday"))  # 0 Monday .. 6 Sunday, local time
    hour = models.PositiveSmallIntegerField(_("hour"))  # 0..23, local time
    orders = models.PositiveIntegerField(_("paid orders"), default=0)

    class Meta:
        verbose_name = _("store hour sales")
        verbose_name_plural = _("store hour sales")
        constraints = [
            models.UniqueConstraint(fields=["store", "day", "weekday", "hour"], name="reports_storehour_unique"),
        ]
        indexes = [
            models.Index(fields=["brand", "day", "store"], name="reports_storehour_cover",
                         include=["weekday", "hour", "orders"]),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.day} {self.weekday}/{self.hour}: {self.orders}"


class CustomerDaySales(models.Model):
    """Paid orders of one customer at one store on one business day (repeat customers)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="+", verbose_name=_("store"))
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    day = models.DateField(_("business day"))
    orders = models.PositiveIntegerField(_("paid orders"), default=0)

    class Meta:
        verbose_name = _("customer day sales")
        verbose_name_plural = _("customer day sales")
        constraints = [
            models.UniqueConstraint(fields=["store", "customer", "day"], name="reports_customerday_unique"),
        ]
        indexes = [
            models.Index(fields=["brand", "day", "store"], name="reports_customerday_cover",
                         include=["customer", "orders"]),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.customer_id} {self.day}: {self.orders}"


class RollupRefresh(models.Model):
    """When the rollups of a business day were last rebuilt (all stores of all brands)."""

    day = models.DateField(_("business day"), unique=True)
    refreshed_at = models.DateTimeField(_("refreshed at"))
    orders = models.PositiveIntegerField(_("paid orders seen"), default=0)

    class Meta:
        verbose_name = _("rollup refresh")
        verbose_name_plural = _("rollup refreshes")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} @ {self.refreshed_at:%Y-%m-%d %H:%M}"


class SalesDashboard(StoreDaySales):
    """The admin's entry to the sales dashboard: a proxy, no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("sales dashboard")
        verbose_name_plural = _("sales dashboard")
