from decimal import Decimal

import factory

from stores.models import (
    Allergen,
    Brand,
    Dish,
    MenuCategory,
    Option,
    OptionGroup,
    StaffAssignment,
    Store,
    StoreDishOverride,
    Tag,
)


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"brand{n}")
    name = factory.Sequence(lambda n: f"品牌{n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"S{n:04d}")
    name = factory.Sequence(lambda n: f"门店{n}")
    city = "上海"
    district = "黄浦区"
    address = "南京东路 1 号"
    latitude = Decimal("31.230400")
    longitude = Decimal("121.473700")


class MenuCategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MenuCategory

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"cat{n}")
    name_zh = factory.Sequence(lambda n: f"分类{n}")
    name_en = factory.Sequence(lambda n: f"Category {n}")


class DishFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dish

    brand = factory.SubFactory(BrandFactory)
    category = factory.SubFactory(MenuCategoryFactory, brand=factory.SelfAttribute("..brand"))
    code = factory.Sequence(lambda n: f"D{n:04d}")
    name_zh = factory.Sequence(lambda n: f"菜品{n}")
    name_en = factory.Sequence(lambda n: f"Dish {n}")
    price = Decimal("28.00")
    kcal = 520
    protein_g = Decimal("22.5")
    fat_g = Decimal("18.0")
    carbs_g = Decimal("60.0")


class OptionGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OptionGroup

    brand = factory.SubFactory(BrandFactory)
    code = factory.Sequence(lambda n: f"grp{n}")
    name_zh = "辣度"
    name_en = "Spice level"
    min_choices = 1
    max_choices = 1


class OptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Option

    group = factory.SubFactory(OptionGroupFactory)
    brand = factory.SelfAttribute("group.brand")
    name_zh = factory.Sequence(lambda n: f"选项{n}")
    name_en = factory.Sequence(lambda n: f"Option {n}")
    price_delta = Decimal("0.00")


class StoreDishOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreDishOverride

    store = factory.SubFactory(StoreFactory)
    brand = factory.SelfAttribute("store.brand")
    dish = factory.SubFactory(DishFactory, brand=factory.SelfAttribute("..store.brand"))


class StaffAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffAssignment
        skip_postgeneration_save = True

    brand = factory.SubFactory(BrandFactory)

    @factory.post_generation
    def stores(self, create, extracted, **kwargs):
        if create and extracted:
            self.stores.set(extracted)


def make_staff(*, role, brand, stores=None, phone=None, **extra):
    """A staff user with a role, assigned to a brand (HQ) or some of its stores."""
    from tests.accounts.factories import StaffFactory

    kwargs = {"role": role, **extra}
    if phone:
        kwargs["phone"] = phone
    user = StaffFactory(**kwargs)
    StaffAssignmentFactory(user=user, brand=brand, stores=list(stores or []))
    return user


def build_menu(store, dishes: int, *, first_code: int = 0):
    """``dishes`` active dishes in 3 categories, each with 2 tags, 2 allergens, 2 option groups
    of 3 options and a store override; plus one inactive dish. Returns the dishes."""
    brand = store.brand
    spicy, _ = Tag.objects.update_or_create(code="spicy", defaults={"name_zh": "辣", "name_en": "Spicy"})
    light, _ = Tag.objects.update_or_create(code="light", defaults={"name_zh": "轻食", "name_en": "Light meal"})
    peanut, _ = Allergen.objects.update_or_create(code="peanut", defaults={"name_zh": "花生", "name_en": "Peanut"})
    gluten, _ = Allergen.objects.update_or_create(code="gluten", defaults={"name_zh": "麸质", "name_en": "Gluten"})
    categories = [MenuCategoryFactory(brand=brand, sort_order=i) for i in range(3)]
    groups = []
    for g in range(2):
        group = OptionGroupFactory(brand=brand, sort_order=g)
        for o in range(3):
            OptionFactory(group=group, sort_order=o, price_delta=Decimal(o), is_default=o == 0)
        groups.append(group)
    made = []
    for i in range(dishes):
        dish = DishFactory(brand=brand, category=categories[i % 3], code=f"M{first_code + i:04d}", sort_order=i)
        dish.tags.set([spicy, light])
        dish.allergens.set([peanut, gluten])
        dish.option_groups.set(groups)
        StoreDishOverrideFactory(store=store, dish=dish, stock=i % 7)
        made.append(dish)
    DishFactory(brand=brand, category=categories[0], code=f"OFF{first_code}", is_active=False)
    return made
