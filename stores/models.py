"""Brands (the tenant), stores, the brand-wide menu and per-store overrides.

Every tenant-owned row carries ``brand``; selectors filter by it. Writes go through
``stores.services``.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

code_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_-]*$", _("Use letters, digits, '-' and '_' only.")
)
MONEY = {"max_digits": 12, "decimal_places": 2}


def _localized(zh: str, en: str) -> str:
    """The English text when the active language is English and one is given."""
    lang = (get_language() or "zh-hans").lower()
    return en if lang.startswith("en") and en else zh


class BrandKind(models.TextChoices):
    CHAIN = "chain", _("Restaurant chain")
    CANTEEN = "canteen", _("Canteen operator")


# The payment channels a store may offer its customers (DESIGN.md, Payments). The adapters live in
# payments; stores only keeps which of them each store enables.
CUSTOMER_PAYMENT_CHANNELS = [
    ("wechat", _("WeChat Pay")),
    ("alipay", _("Alipay")),
    ("gift_card", _("Gift card")),
    ("meal_subsidy", _("Meal subsidy")),
    ("corporate", _("Corporate account (bank transfer)")),
]


class Brand(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=BrandKind.choices, default=BrandKind.CHAIN)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    # Ordering settings of the brand (issue 3); refunds and canteen add theirs beside them.
    order_expiry_minutes = models.PositiveSmallIntegerField(
        _("unpaid orders expire after (minutes)"), default=15,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
    )
    kitchen_alert_minutes = models.PositiveSmallIntegerField(
        _("alert when a paid order waits unstarted (minutes)"), default=10,
        validators=[MinValueValidator(1), MaxValueValidator(240)],
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("brand")
        verbose_name_plural = _("brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FulfilmentMode(models.TextChoices):
    PICKUP = "pickup", _("Pickup")
    DELIVERY = "delivery", _("Delivery")
    DINE_IN = "dine_in", _("Dine-in (table QR)")


class Store(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="stores", verbose_name=_("brand"))
    code = models.CharField(_("code"), max_length=32, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    city = models.CharField(_("city"), max_length=50, db_index=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    address = models.CharField(_("address"), max_length=255)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    latitude = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6,
        validators=[MinValueValidator(Decimal("-90")), MaxValueValidator(Decimal("90"))],
    )
    longitude = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6,
        validators=[MinValueValidator(Decimal("-180")), MaxValueValidator(Decimal("180"))],
    )
    offers_pickup = models.BooleanField(_("pickup"), default=True)
    offers_delivery = models.BooleanField(_("delivery"), default=False)
    offers_dine_in = models.BooleanField(_("dine-in"), default=True)
    prep_time_minutes = models.PositiveSmallIntegerField(
        _("prep time (minutes)"), default=15, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    delivery_radius_km = models.DecimalField(
        _("delivery radius (km)"), max_digits=5, decimal_places=2, default=Decimal("3.00"),
        validators=[MinValueValidator(Decimal("0"))],
    )
    delivery_fee = models.DecimalField(
        _("delivery fee"), **MONEY, default=Decimal("0.00"), validators=[MinValueValidator(Decimal("0"))]
    )
    payment_channels = models.JSONField(
        _("payment methods"), default=list, blank=True,
        help_text=_("The ways customers may pay at this store. None ticked means all of them."),
    )
    is_open = models.BooleanField(
        _("open"), default=True, help_text=_("Switch off to stop taking orders at once.")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["city", "code"]
        indexes = [models.Index(fields=["brand", "city"])]
        constraints = [
            models.CheckConstraint(condition=Q(delivery_radius_km__gte=0), name="stores_store_radius_nonneg"),
            models.CheckConstraint(condition=Q(delivery_fee__gte=0), name="stores_store_delivery_fee_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def fulfilment_modes(self) -> list[str]:
        flags = {
            FulfilmentMode.PICKUP: self.offers_pickup,
            FulfilmentMode.DELIVERY: self.offers_delivery,
            FulfilmentMode.DINE_IN: self.offers_dine_in,
        }
        return [mode.value for mode, offered in flags.items() if offered]


class DiningTable(models.Model):
    """A table of a store, for dine-in orders by QR code (``/t/<store>/<table>/``)."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="tables", verbose_name=_("store"))
    code = models.CharField(_("table"), max_length=16, validators=[code_validator])
    seats = models.PositiveSmallIntegerField(_("seats"), default=4)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("table")
        verbose_name_plural = _("tables")
        ordering = ["store", "code"]
        constraints = [models.UniqueConstraint(fields=["store", "code"], name="stores_table_unique_store_code")]

    def __str__(self) -> str:
        return f"{self.store.code} / {self.code}"


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class OpeningHours(models.Model):
    """One opening period of a store on a weekday; a day may have several (lunch, dinner).
    A period that closes at or before it opens runs past midnight."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(
        Store, on_delete=models.CASCADE, related_name="opening_hours", verbose_name=_("store")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["weekday", "opens"]
        constraints = [
            models.UniqueConstraint(fields=["store", "weekday", "opens"], name="stores_hours_unique_period"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Vocabulary(models.Model):
    """A fixed, brand-independent word list keyed by code, named in both languages."""

    code = models.SlugField(_("code"), max_length=30, primary_key=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=30)
    name_en = models.CharField(_("name (English)"), max_length=30)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self.name_zh, self.name_en)


class Tag(Vocabulary):
    """A dish tag such as light meal, vegetarian, spicy, halal."""

    class Meta(Vocabulary.Meta):
        verbose_name = _("tag")
        verbose_name_plural = _("tags")


class Allergen(Vocabulary):
    class Meta(Vocabulary.Meta):
        verbose_name = _("allergen")
        verbose_name_plural = _("allergens")


class MenuCategory(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="categories", verbose_name=_("brand"))
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("menu category")
        verbose_name_plural = _("menu categories")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="stores_category_unique_code"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self.name_zh, self.name_en)


class Dish(models.Model):
    """A brand-wide menu item. Stores inherit it and may override price, availability, stock."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="dishes", verbose_name=_("brand"))
    category = models.ForeignKey(
        MenuCategory, on_delete=models.PROTECT, related_name="dishes", verbose_name=_("category")
    )
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    price = models.DecimalField(_("price"), **MONEY, validators=[MinValueValidator(Decimal("0"))])
    kcal = models.PositiveIntegerField(_("energy (kcal)"), default=0)
    protein_g = models.DecimalField(_("protein (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    fat_g = models.DecimalField(_("fat (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    carbs_g = models.DecimalField(_("carbohydrates (g)"), max_digits=6, decimal_places=1, default=Decimal("0"))
    allergens = models.ManyToManyField(Allergen, blank=True, related_name="dishes", verbose_name=_("allergens"))
    tags = models.ManyToManyField(Tag, blank=True, related_name="dishes", verbose_name=_("tags"))
    option_groups = models.ManyToManyField(
        "OptionGroup", blank=True, related_name="dishes", verbose_name=_("option groups")
    )
    is_set_meal = models.BooleanField(_("set meal"), default=False)
    is_active = models.BooleanField(_("on the menu"), default=True)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[tags, allergens])

    class Meta:
        verbose_name = _("dish")
        verbose_name_plural = _("dishes")
        ordering = ["category__sort_order", "sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="stores_dish_unique_code"),
            models.CheckConstraint(condition=Q(price__gte=0), name="stores_dish_price_nonneg"),
            models.CheckConstraint(
                condition=Q(protein_g__gte=0) & Q(fat_g__gte=0) & Q(carbs_g__gte=0),
                name="stores_dish_nutrition_nonneg",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def name(self) -> str:
        return _localized(self.name_zh, self.name_en)

    @property
    def description(self) -> str:
        return _localized(self.description_zh, self.description_en)


class OptionGroup(models.Model):
    """A choice on a dish such as spice level or size, shared by the dishes that offer it."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="option_groups", verbose_name=_("brand"))
    code = models.CharField(_("code"), max_length=32, validators=[code_validator])
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    min_choices = models.PositiveSmallIntegerField(_("minimum choices"), default=0)
    max_choices = models.PositiveSmallIntegerField(_("maximum choices"), default=1)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("option group")
        verbose_name_plural = _("option groups")
        ordering = ["sort_order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="stores_optiongroup_unique_code"),
            models.CheckConstraint(
                condition=Q(max_choices__gte=1) & Q(max_choices__gte=models.F("min_choices")),
                name="stores_optiongroup_choices_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self.name_zh, self.name_en)

    @property
    def is_required(self) -> bool:
        return self.min_choices > 0


class Option(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    group = models.ForeignKey(
        OptionGroup, on_delete=models.CASCADE, related_name="options", verbose_name=_("option group")
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=50)
    name_en = models.CharField(_("name (English)"), max_length=50, blank=True)
    price_delta = models.DecimalField(_("price change"), **MONEY, default=Decimal("0.00"))
    is_default = models.BooleanField(_("default"), default=False)
    sort_order = models.PositiveIntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("option")
        verbose_name_plural = _("options")
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self.name_zh, self.name_en)


class StoreDishOverride(models.Model):
    """What one store changes about a brand dish. Empty price inherits the brand price;
    empty stock means unlimited; ``daily_stock`` is what the nightly task restores."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="overrides", verbose_name=_("store"))
    dish = models.ForeignKey(Dish, on_delete=models.CASCADE, related_name="overrides", verbose_name=_("dish"))
    price = models.DecimalField(
        _("store price"), **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Leave empty to use the brand price."),
    )
    is_available = models.BooleanField(_("available"), default=True)
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Portions left today. Empty means unlimited.")
    )
    daily_stock = models.PositiveIntegerField(
        _("daily stock"), null=True, blank=True,
        help_text=_("Restored every night before opening. Empty leaves stock as it is."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("store dish override")
        verbose_name_plural = _("store dish overrides")
        ordering = ["store", "dish"]
        # Changing an override (sold out, stock) is kitchen work; its price is a manager's.
        permissions = [("set_store_price", _("Can set a store's dish price"))]
        constraints = [
            models.UniqueConstraint(fields=["store", "dish"], name="stores_override_unique_store_dish"),
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="stores_override_price_nonneg"
            ),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="stores_override_stock_nonneg"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store.code} / {self.dish.code}"

    def effective_price(self) -> Decimal:
        return self.price if self.price is not None else self.dish.price


class StaffAssignment(models.Model):
    """Where a staff member works: the whole brand (HQ) or some of its stores."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_assignment", verbose_name=_("user")
    )
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="staff", verbose_name=_("brand"))
    stores = models.ManyToManyField(Store, blank=True, related_name="staff", verbose_name=_("stores"))

    class Meta:
        verbose_name = _("staff assignment")
        verbose_name_plural = _("staff assignments")

    def __str__(self) -> str:
        return f"{self.user} @ {self.brand}"
