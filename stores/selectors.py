"""Reads of stores and menus. Every selector is scoped to what the caller may see."""

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import F, FloatField, Prefetch, QuerySet, Value
from django.db.models.functions import ASin, Cast, Cos, Least, Power, Radians, Sin, Sqrt
from django.utils import timezone

from accounts.models import Role

from .errors import StoreNotFound
from .models import Brand, Dish, OpeningHours, Option, OptionGroup, Store, StoreDishOverride


def _assignment(user):
    try:
        return user.staff_assignment
    except Exception:  # RelatedObjectDoesNotExist: not assigned anywhere
        return None


def brand_ids_visible_to(user) -> set[int] | None:
    """Brands a staff member works for; ``None`` means every brand (superuser)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    assignment = _assignment(user)
    return {assignment.brand_id} if assignment is not None and user.is_staff else set()


def store_ids_visible_to(user) -> set[int] | None:
    """Stores a staff member may see and manage; ``None`` means every store (superuser).

    HQ managers reach every store of their brand; store managers and kitchen staff only
    the stores they are assigned to; anybody else none.
    """
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    assignment = _assignment(user)
    if assignment is None or not user.is_staff:
        return set()
    if user.role == Role.HQ_MANAGER:
        return set(Store.objects.filter(brand_id=assignment.brand_id).values_list("id", flat=True))
    if user.role in (Role.STORE_MANAGER, Role.KITCHEN_STAFF):
        return set(assignment.stores.filter(brand_id=assignment.brand_id).values_list("id", flat=True))
    return set()


def brands_for_user(user) -> QuerySet[Brand]:
    ids = brand_ids_visible_to(user)
    return Brand.objects.all() if ids is None else Brand.objects.filter(id__in=ids)


def stores_for_user(user) -> QuerySet[Store]:
    ids = store_ids_visible_to(user)
    qs = Store.objects.select_related("brand")
    return qs if ids is None else qs.filter(id__in=ids)


def user_manages_whole_brand(user, brand_id: int) -> bool:
    """HQ managers (and superusers) act on brand-wide rows such as dishes and categories."""
    if user.is_superuser:
        return True
    ids = brand_ids_visible_to(user)
    return user.role == Role.HQ_MANAGER and ids is not None and brand_id in ids


# --- Public reads: what any customer may see (stores of active brands and their menus) ---

STORE_TIMEZONE = ZoneInfo("Asia/Shanghai")
EARTH_RADIUS_KM = 6371.0088
LOW_STOCK_THRESHOLD = 5


def _public_stores() -> QuerySet[Store]:
    return (
        Store.objects.filter(brand__is_active=True)
        .select_related("brand")
        .prefetch_related(Prefetch("opening_hours", queryset=OpeningHours.objects.order_by("weekday", "opens")))
    )


def _haversine_km_expression(lat: float, lng: float):
    """Great-circle distance in km from (lat, lng) to each store, as a database expression.

    Built from Django's portable math functions, so it runs on PostgreSQL and on SQLite.
    """
    lat_rad, lng_rad = math.radians(lat), math.radians(lng)
    store_lat = Radians(Cast(F("latitude"), FloatField()))
    store_lng = Radians(Cast(F("longitude"), FloatField()))
    half_dlat = (store_lat - Value(lat_rad)) / Value(2.0)
    half_dlng = (store_lng - Value(lng_rad)) / Value(2.0)
    a = Power(Sin(half_dlat), 2) + Value(math.cos(lat_rad)) * Cos(store_lat) * Power(Sin(half_dlng), 2)
    # Least(..., 1) keeps rounding noise from pushing asin out of its domain.
    return Value(2.0 * EARTH_RADIUS_KM) * ASin(Least(Sqrt(a), Value(1.0), output_field=FloatField()))


def store_list_public(
    *, city: str | None = None, lat: float | None = None, lng: float | None = None
) -> QuerySet[Store]:
    """Stores of active brands, optionally in one city (exact match).

    With both ``lat`` and ``lng`` the stores come nearest first and carry ``distance_km``
    (a float, great-circle distance); otherwise ``distance_km`` is ``None`` and the order
    is by city and code.
    """
    qs = _public_stores()
    if city:
        qs = qs.filter(city=city)
    if lat is not None and lng is not None:
        return qs.annotate(distance_km=_haversine_km_expression(float(lat), float(lng))).order_by(
            "distance_km", "code"
        )
    return qs.annotate(distance_km=Value(None, output_field=FloatField())).order_by("city", "code")


def city_list() -> list[str]:
    """Distinct cities that have a store of an active brand, sorted."""
    return list(
        Store.objects.filter(brand__is_active=True).order_by("city").values_list("city", flat=True).distinct()
    )


def store_get_public(*, code: str) -> Store:
    """The store with this code if its brand is active; raises ``StoreNotFound`` otherwise."""
    store = _public_stores().filter(code=code).first()
    if store is None:
        raise StoreNotFound()
    return store


# --- Opening hours (store local time, Asia/Shanghai) ---


def local_now(now: datetime | None = None) -> datetime:
    return (now or timezone.now()).astimezone(STORE_TIMEZONE)


def is_open_at(periods: Iterable[tuple[int, time, time]], moment: datetime) -> bool:
    """Whether any (weekday, opens, closes) period covers ``moment`` (a local datetime).

    A period whose closing time is at or before its opening time runs past midnight into
    the next day (``22:00-02:00`` on Friday covers Saturday 01:30).
    """
    today = moment.weekday()
    yesterday = (today - 1) % 7
    clock = moment.time().replace(tzinfo=None)
    for weekday, opens, closes in periods:
        if opens < closes:
            if weekday == today and opens <= clock < closes:
                return True
        elif (weekday == today and clock >= opens) or (weekday == yesterday and clock < closes):
            return True
    return False


def _periods(store: Store) -> list[tuple[int, time, time]]:
    return [(hours.weekday, hours.opens, hours.closes) for hours in store.opening_hours.all()]


def store_is_open_now(store: Store, *, now: datetime | None = None) -> bool:
    """Open for orders now: the store's switch is on and the time is inside its hours.

    A store with no opening hours recorded is governed by its switch alone. Uses the
    prefetched ``opening_hours`` of the public selectors (no extra query).
    """
    if not store.is_open:
        return False
    periods = _periods(store)
    return True if not periods else is_open_at(periods, local_now(now))


def store_hours_today(store: Store, *, now: datetime | None = None) -> list[OpeningHours]:
    """Today's opening periods (local weekday), in opening order."""
    weekday = local_now(now).weekday()
    return [hours for hours in store.opening_hours.all() if hours.weekday == weekday]


# --- The menu of one store ---


@dataclass(frozen=True)
class Nutrition:
    kcal: int
    protein_g: Decimal
    fat_g: Decimal
    carbs_g: Decimal


@dataclass(frozen=True)
class NamedCode:
    code: str
    name: str


@dataclass(frozen=True)
class MenuOption:
    id: int
    name: str
    price_delta: Decimal
    is_default: bool


@dataclass(frozen=True)
class MenuOptionGroup:
    code: str
    name: str
    min_choices: int
    max_choices: int
    options: list[MenuOption]


@dataclass(frozen=True)
class MenuDish:
    id: int
    code: str
    name: str
    description: str
    price: Decimal
    available: bool
    stock: int | None  # None: unlimited
    low_stock: bool
    is_set_meal: bool
    tags: list[NamedCode]
    allergens: list[NamedCode]
    nutrition: Nutrition
    option_groups: list[MenuOptionGroup]

    @property
    def sold_out(self) -> bool:
        return not self.available


@dataclass
class MenuCategoryGroup:
    code: str
    name: str
    dishes: list[MenuDish] = field(default_factory=list)


@dataclass(frozen=True)
class StoreMenu:
    store: Store
    categories: list[MenuCategoryGroup]

    @property
    def dish_count(self) -> int:
        return sum(len(category.dishes) for category in self.categories)


def _menu_dish(dish: Dish, override: StoreDishOverride | None) -> MenuDish:
    price = override.price if override is not None and override.price is not None else dish.price
    stock = override.stock if override is not None else None
    listed = override.is_available if override is not None else True
    available = dish.is_active and listed and stock != 0
    return MenuDish(
        id=dish.pk,
        code=dish.code,
        name=dish.name,
        description=dish.description,
        price=price,
        available=available,
        stock=stock,
        low_stock=available and stock is not None and 0 < stock <= LOW_STOCK_THRESHOLD,
        is_set_meal=dish.is_set_meal,
        tags=[NamedCode(tag.code, tag.name) for tag in dish.tags.all()],
        allergens=[NamedCode(allergen.code, allergen.name) for allergen in dish.allergens.all()],
        nutrition=Nutrition(dish.kcal, dish.protein_g, dish.fat_g, dish.carbs_g),
        option_groups=[
            MenuOptionGroup(
                code=group.code,
                name=group.name,
                min_choices=group.min_choices,
                max_choices=group.max_choices,
                options=[
                    MenuOption(option.pk, option.name, option.price_delta, option.is_default)
                    for option in group.options.all()
                ],
            )
            for group in dish.option_groups.all()
        ],
    )


def store_menu(*, store: Store) -> StoreMenu:
    """The store's menu: categories in order, each with its active dishes at the store's price.

    Names follow the active language. Runs a fixed number of queries whatever the number of
    dishes: overrides, dishes (+category), tags, allergens, option groups, options.
    """
    overrides = {
        override.dish_id: override
        for override in StoreDishOverride.objects.filter(store=store, brand_id=store.brand_id)
    }
    options = Option.objects.filter(brand_id=store.brand_id).order_by("sort_order", "id")
    groups = (
        OptionGroup.objects.filter(brand_id=store.brand_id)
        .order_by("sort_order", "id")
        .prefetch_related(Prefetch("options", queryset=options))
    )
    dishes = (
        Dish.objects.filter(brand_id=store.brand_id, is_active=True, category__brand_id=store.brand_id)
        .select_related("category")
        .prefetch_related("tags", "allergens", Prefetch("option_groups", queryset=groups))
        .order_by("category__sort_order", "category_id", "sort_order", "id")
    )
    categories: dict[int, MenuCategoryGroup] = {}
    for dish in dishes:
        category = categories.get(dish.category_id)
        if category is None:
            category = categories[dish.category_id] = MenuCategoryGroup(dish.category.code, dish.category.name)
        category.dishes.append(_menu_dish(dish, overrides.get(dish.pk)))
    return StoreMenu(store=store, categories=list(categories.values()))

