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
from django.utils.translation import get_language

from accounts.models import Role

from .cache import brand_menu_cached
from .errors import StoreNotFound
from .models import BrandKind, Dish, OpeningHours, OptionGroup, Store, StoreDishOverride


def _assignment(user):
    try:
        return user.staff_assignment
    except Exception:  # RelatedObjectDoesNotExist: not assigned anywhere
        return None


def _may_act(user) -> bool:
    return user.is_authenticated and user.is_active and not getattr(user, "is_frozen", False)


def brand_ids_visible_to(user) -> set[int] | None:
    """Brands a staff member works for; ``None`` means every brand (superuser).

    Inactive and frozen users (superusers too) see none.
    """
    if not _may_act(user):
        return set()
    if user.is_superuser:
        return None
    assignment = _assignment(user)
    return {assignment.brand_id} if assignment is not None and user.is_staff else set()


def store_ids_visible_to(user) -> set[int] | None:
    """Stores a staff member may see and manage; ``None`` means every store (superuser).

    HQ managers reach every store of their brand; store managers and kitchen staff only
    the stores they are assigned to; anybody else none, nor inactive or frozen users.
    """
    if not _may_act(user):
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


def stores_for_user(user) -> QuerySet[Store]:
    ids = store_ids_visible_to(user)
    qs = Store.objects.select_related("brand")
    return qs if ids is None else qs.filter(id__in=ids)


def user_manages_whole_brand(user, brand_id: int) -> bool:
    """HQ managers (and superusers) act on brand-wide rows such as dishes and categories."""
    if not _may_act(user):
        return False
    if user.is_superuser:
        return True
    ids = brand_ids_visible_to(user)
    return user.role == Role.HQ_MANAGER and ids is not None and brand_id in ids


# --- Public reads: what any customer may see (stores of active brands and their menus) ---

STORE_TIMEZONE = ZoneInfo("Asia/Shanghai")
EARTH_RADIUS_KM = 6371.0088
LOW_STOCK_THRESHOLD = 5


def _public_stores() -> QuerySet[Store]:
    """Stores of active brands (chains and canteens): the store page opens either by code."""
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
    """Stores of active chain brands, optionally in one city (exact match).

    Canteen stores serve their members and are not listed (their page still opens by code).

    With both ``lat`` and ``lng`` the stores come nearest first and carry ``distance_km``
    (a float, great-circle distance); otherwise ``distance_km`` is ``None`` and the order
    is by city and code.
    """
    qs = _public_stores().filter(brand__kind=BrandKind.CHAIN)
    if city:
        qs = qs.filter(city=city)
    if lat is not None and lng is not None:
        return qs.annotate(distance_km=_haversine_km_expression(float(lat), float(lng))).order_by(
            "distance_km", "code"
        )
    return qs.annotate(distance_km=Value(None, output_field=FloatField())).order_by("city", "code")


def city_list() -> list[str]:
    """Distinct cities that have a listed store (of an active chain brand), sorted."""
    return list(
        Store.objects.filter(brand__is_active=True, brand__kind=BrandKind.CHAIN)
        .order_by("city").values_list("city", flat=True).distinct()
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
#
# The menu page and API serve every dish of a brand with its tags, allergens and option groups.
# Model instances for ~1,400 prefetched link rows cost more than the queries, so the menu is built
# from ``values_list`` tuples into slotted dataclasses. Tags, allergens and option groups are built
# once per call and shared by every dish that has them. Names are chosen once per call, with the
# rule of the models' ``name`` properties: English when the language is English and a name is set.


@dataclass(frozen=True, slots=True)
class Nutrition:
    kcal: int
    protein_g: Decimal
    fat_g: Decimal
    carbs_g: Decimal


@dataclass(frozen=True, slots=True)
class NamedCode:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class MenuOption:
    id: int
    name: str
    price_delta: Decimal
    is_default: bool


@dataclass(frozen=True, slots=True)
class MenuOptionGroup:
    code: str
    name: str
    min_choices: int
    max_choices: int
    options: tuple[MenuOption, ...]


@dataclass(frozen=True, slots=True)
class MenuDish:
    id: int
    code: str
    name: str
    description: str
    price: Decimal  # the store's price: its override, else the brand price
    available: bool
    stock: int | None  # None: unlimited
    low_stock: bool
    is_set_meal: bool
    tags: tuple[NamedCode, ...]
    allergens: tuple[NamedCode, ...]
    nutrition: Nutrition
    option_groups: tuple[MenuOptionGroup, ...]  # the same objects as StoreMenu.option_groups

    @property
    def sold_out(self) -> bool:
        return not self.available


@dataclass(slots=True)
class MenuCategoryGroup:
    code: str
    name: str
    dishes: list[MenuDish] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class StoreMenu:
    store: Store
    categories: list[MenuCategoryGroup]
    option_groups: tuple[MenuOptionGroup, ...] = ()  # those offered by a dish on the menu, in order

    @property
    def dish_count(self) -> int:
        return sum(len(category.dishes) for category in self.categories)


def _english() -> bool:
    """Whether names are English: the same rule as ``stores.models._localized``."""
    return (get_language() or "zh-hans").lower().startswith("en")


def _menu_option_groups(brand_id: int, english: bool) -> dict[int, MenuOptionGroup]:
    """The brand's option groups with their options, by group id, in menu order (1 query)."""
    rows = (
        OptionGroup.objects.filter(brand_id=brand_id)
        .order_by("sort_order", "id", "options__sort_order", "options__id")
        .values_list(
            "id", "code", "name_zh", "name_en", "min_choices", "max_choices",
            "options__id", "options__brand_id", "options__name_zh", "options__name_en",
            "options__price_delta", "options__is_default",
        )
    )
    heads: dict[int, tuple[str, str, int, int]] = {}
    options: dict[int, list[MenuOption]] = {}
    for group_id, code, name_zh, name_en, min_choices, max_choices, option_id, option_brand_id, *option in rows:
        if group_id not in heads:
            heads[group_id] = (code, name_en if english and name_en else name_zh, min_choices, max_choices)
            options[group_id] = []
        if option_id is not None and option_brand_id == brand_id:
            option_zh, option_en, price_delta, is_default = option
            options[group_id].append(
                MenuOption(option_id, option_en if english and option_en else option_zh, price_delta, is_default)
            )
    return {group_id: MenuOptionGroup(*head, tuple(options[group_id])) for group_id, head in heads.items()}


def _menu_named_links(manager, target: str, brand_id: int, english: bool) -> dict[int, list[NamedCode]]:
    """Tags or allergens of the brand's active dishes, by dish id, in code order (1 query).

    ``manager`` is the M2M field's through model manager; ``target`` its field to the vocabulary
    (whose primary key is the code). One ``NamedCode`` per code, shared by the dishes.
    """
    rows = (
        manager.filter(dish__brand_id=brand_id, dish__is_active=True)
        .order_by(f"{target}_id")
        .values_list("dish_id", f"{target}_id", f"{target}__name_zh", f"{target}__name_en")
    )
    named: dict[str, NamedCode] = {}
    by_dish: dict[int, list[NamedCode]] = {}
    for dish_id, code, name_zh, name_en in rows:
        item = named.get(code)
        if item is None:
            item = named[code] = NamedCode(code, name_en if english and name_en else name_zh)
        links = by_dish.get(dish_id)
        if links is None:
            by_dish[dish_id] = [item]
        else:
            links.append(item)
    return by_dish


def _menu_group_links(brand_id: int, groups: dict[int, MenuOptionGroup]) -> dict[int, list[MenuOptionGroup]]:
    """Option groups of the brand's active dishes, by dish id, in group order (1 query)."""
    rows = (
        Dish.option_groups.through.objects.filter(
            dish__brand_id=brand_id, dish__is_active=True, optiongroup__brand_id=brand_id
        )
        .order_by("optiongroup__sort_order", "optiongroup_id")
        .values_list("dish_id", "optiongroup_id")
    )
    by_dish: dict[int, list[MenuOptionGroup]] = {}
    for dish_id, group_id in rows:
        group = groups.get(group_id)
        if group is not None:
            by_dish.setdefault(dish_id, []).append(group)
    return by_dish


# One dish of the brand-wide menu, as cached: (id, code, name, description, brand price,
# is_set_meal, kcal, protein_g, fat_g, carbs_g, tags, allergens, option groups).
BrandDishRow = tuple[
    int, str, str, str, Decimal, bool, int, Decimal, Decimal, Decimal,
    tuple[NamedCode, ...], tuple[NamedCode, ...], tuple[MenuOptionGroup, ...],
]


@dataclass(frozen=True, slots=True)
class BrandMenu:
    """What every store of a brand shares, in one language: plain, picklable data."""

    categories: tuple[tuple[str, str, tuple[BrandDishRow, ...]], ...]  # (code, name, dishes)
    option_groups: tuple[MenuOptionGroup, ...]  # those offered by a listed dish, in order


def brand_menu(*, brand_id: int, english: bool) -> BrandMenu:
    """The brand's active dishes by category with tags, allergens and option groups (5 queries)."""
    groups = _menu_option_groups(brand_id, english)
    tags = _menu_named_links(Dish.tags.through.objects, "tag", brand_id, english)
    allergens = _menu_named_links(Dish.allergens.through.objects, "allergen", brand_id, english)
    group_links = _menu_group_links(brand_id, groups)
    rows = (
        Dish.objects.filter(brand_id=brand_id, is_active=True, category__brand_id=brand_id)
        .order_by("category__sort_order", "category_id", "sort_order", "id")
        .values_list(
            "id", "code", "name_zh", "name_en", "description_zh", "description_en", "price",
            "kcal", "protein_g", "fat_g", "carbs_g", "is_set_meal",
            "category_id", "category__code", "category__name_zh", "category__name_en",
        )
    )
    categories: dict[int, tuple[str, str, list[BrandDishRow]]] = {}
    offered: set[int] = set()
    no_links: tuple = ()
    for (
        dish_id, code, name_zh, name_en, description_zh, description_en, price,
        kcal, protein_g, fat_g, carbs_g, is_set_meal,
        category_id, category_code, category_zh, category_en,
    ) in rows:
        category = categories.get(category_id)
        if category is None:
            category = categories[category_id] = (
                category_code, category_en if english and category_en else category_zh, []
            )
        dish_groups = group_links.get(dish_id)
        if dish_groups:
            offered.update(id(group) for group in dish_groups)
        category[2].append((
            dish_id, code,
            name_en if english and name_en else name_zh,
            description_en if english and description_en else description_zh,
            price, is_set_meal, kcal, protein_g, fat_g, carbs_g,
            tuple(tags.get(dish_id, no_links)),
            tuple(allergens.get(dish_id, no_links)),
            tuple(dish_groups) if dish_groups else no_links,
        ))
    return BrandMenu(
        categories=tuple((code, name, tuple(dishes)) for code, name, dishes in categories.values()),
        option_groups=tuple(group for group in groups.values() if id(group) in offered),
    )


def store_menu(*, store: Store) -> StoreMenu:
    """The store's menu: categories in order, each with its active dishes at the store's price.

    Names follow the active language. The brand-wide part comes from ``brand_menu``, cached
    per brand and language (``stores.cache``); the store's overrides are read every time.
    So 1 query when the brand's menu is cached, 6 when not, whatever the number of dishes.
    Builds no model instances.
    """
    brand_id = store.brand_id
    english = _english()
    shared = brand_menu_cached(
        brand_id, "en" if english else "zh", lambda: brand_menu(brand_id=brand_id, english=english)
    )
    override_rows = (
        StoreDishOverride.objects.filter(store_id=store.pk, brand_id=brand_id)
        .order_by()
        .values_list("dish_id", "price", "is_available", "stock")
    )
    overrides = {dish_id: (price, listed, stock) for dish_id, price, listed, stock in override_rows}

    categories = []
    for category_code, category_name, rows in shared.categories:
        dishes = []
        for (
            dish_id, code, name, description, brand_price, is_set_meal,
            kcal, protein_g, fat_g, carbs_g, tags, allergens, option_groups,
        ) in rows:
            override = overrides.get(dish_id)
            if override is None:
                price, stock, available = brand_price, None, True
            else:
                price, listed, stock = override
                if price is None:
                    price = brand_price
                available = listed and stock != 0
            dishes.append(
                MenuDish(
                    id=dish_id,
                    code=code,
                    name=name,
                    description=description,
                    price=price,
                    available=available,
                    stock=stock,
                    low_stock=available and stock is not None and 0 < stock <= LOW_STOCK_THRESHOLD,
                    is_set_meal=is_set_meal,
                    tags=tags,
                    allergens=allergens,
                    nutrition=Nutrition(kcal, protein_g, fat_g, carbs_g),
                    option_groups=option_groups,
                )
            )
        categories.append(MenuCategoryGroup(category_code, category_name, dishes))
    return StoreMenu(store=store, categories=categories, option_groups=shared.option_groups)


def distance_km(lat1, lng1, lat2, lng2) -> Decimal:
    """Great-circle distance in km between two points (degrees), to the metre."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dlat, dlng = p2 - p1, math.radians(float(lng2) - float(lng1))
    a = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlng / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))
    return Decimal(str(round(km, 3)))
