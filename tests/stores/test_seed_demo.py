from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.auth.password_validation import validate_password
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from accounts.models import Role, User
from audit.models import ActorType, AuditEvent, SecurityReport
from stores.demo_data import DEMO_PASSWORD
from stores.management.commands.seed_demo import chain_store_plans
from stores.models import (
    Brand,
    BrandKind,
    Dish,
    MenuCategory,
    OpeningHours,
    OptionGroup,
    StaffAssignment,
    Store,
    StoreDishOverride,
)

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    """The tests run with DEBUG off, like a real deployment: ``force`` says this is a demo."""
    out = StringIO()
    call_command("seed_demo", stdout=out, **{"force": True, **options})
    return out.getvalue()


def logins_table(output: str) -> str:
    return output[output.index("Demo logins"):]


def snapshot() -> dict:
    """Row counts of every table (history, through tables and audit included) and the
    values that a rewrite would change."""
    counts = {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models(include_auto_created=True)
    }
    values = {
        "stores": list(Store.objects.order_by("code").values()),
        "dishes": list(Dish.objects.order_by("brand_id", "code").values()),
        "overrides": list(StoreDishOverride.objects.order_by("store_id", "dish_id").values()),
        "users": list(User.objects.order_by("phone").values("phone", "password", "name", "role", "last_login")),
    }
    return {"counts": counts, "values": values}


def test_seed_creates_the_chain_with_200_stores_in_several_cities():
    seed()

    chain = Brand.objects.get(code="xiangwei")
    assert chain.kind == BrandKind.CHAIN
    stores = Store.objects.filter(brand=chain)
    assert stores.count() == 200
    assert stores.values("city").distinct().count() >= 5
    assert {"上海", "北京", "广州", "深圳", "杭州", "成都"} <= set(stores.values_list("city", flat=True))
    assert stores.filter(code="SH001").exists() and stores.filter(code="BJ001").exists()
    assert 1 <= stores.filter(is_open=False).count() <= 10
    delivering = stores.filter(offers_delivery=True)
    assert delivering.exists()
    assert not delivering.exclude(delivery_radius_km__gte=Decimal("3"), delivery_radius_km__lte=Decimal("5")).exists()
    assert not stores.exclude(prep_time_minutes__gte=10, prep_time_minutes__lte=25).exists()
    assert not stores.filter(offers_pickup=False).exists()
    # every store opens on all seven weekdays; a few run past midnight
    per_store_days = stores.annotate(days=Count("opening_hours__weekday", distinct=True))
    assert set(per_store_days.values_list("days", flat=True)) == {7}
    assert OpeningHours.objects.filter(store__brand=chain, closes__lt=F("opens")).exists()
    # coordinates inside the city (within ~0.25 degree of its centre) and near their district
    shanghai = stores.filter(city="上海")
    assert not shanghai.exclude(latitude__range=(Decimal("31.00"), Decimal("31.48"))).exists()
    assert not shanghai.exclude(longitude__range=(Decimal("121.22"), Decimal("121.72"))).exists()
    for store in stores.filter(district="宝山区"):
        assert store.latitude > Decimal("31.35")  # north of the centre, as Baoshan is


def test_seed_creates_a_menu_with_nutrition_and_options():
    seed(stores=7)

    chain = Brand.objects.get(code="xiangwei")
    dishes = Dish.objects.filter(brand=chain)
    assert dishes.count() >= 60
    assert MenuCategory.objects.filter(brand=chain).annotate(n=Count("dishes")).filter(n__gt=0).count() >= 8
    assert not dishes.filter(Q(kcal=0) | Q(protein_g=0, fat_g=0, carbs_g=0)).exists()
    assert not dishes.filter(Q(name_en="") | Q(description_zh="") | Q(description_en="")).exists()
    assert not dishes.filter(price__lte=0).exists()
    assert dishes.filter(is_set_meal=True).count() >= 5
    assert dishes.filter(tags__code="light_meal").exists()
    assert dishes.filter(tags__code="halal").exists()
    assert dishes.filter(allergens__code="peanuts").exists()

    with_options = dishes.filter(option_groups__isnull=False).distinct()
    assert with_options.count() >= 30
    spice = OptionGroup.objects.get(brand=chain, code="spice")
    assert list(spice.options.values_list("name_zh", flat=True)) == ["不辣", "微辣", "中辣", "特辣"]
    assert spice.options.filter(is_default=True).count() == 1
    size = OptionGroup.objects.get(brand=chain, code="size")
    assert size.options.get(name_zh="大份").price_delta == Decimal("4.00")
    toppings = OptionGroup.objects.get(brand=chain, code="toppings")
    assert (toppings.min_choices, toppings.max_choices) == (0, 3)
    assert not toppings.options.filter(price_delta__lte=0).exists()

    signature = Dish.objects.get(brand=chain, code="SIG01")
    assert signature.price == Decimal("38.00")
    assert signature.kcal == 4 * 24 + 9 * 32 + 4 * 10
    assert set(signature.tags.values_list("code", flat=True)) == {"signature", "spicy"}
    assert set(signature.option_groups.values_list("code", flat=True)) == {"spice", "size"}


def test_seed_overrides_prices_availability_and_stock_on_some_stores():
    seed()

    chain = Brand.objects.get(code="xiangwei")
    overrides = StoreDishOverride.objects.filter(brand=chain)
    stores_with_overrides = overrides.values("store").distinct().count()
    assert 10 <= stores_with_overrides <= 60  # about 15% of 200
    assert overrides.filter(store__code="SH001").count() == 5
    repriced = overrides.filter(price__isnull=False).select_related("dish")
    assert repriced.exists()
    assert all(o.price != o.dish.price for o in repriced)
    assert overrides.filter(is_available=False).exists()
    assert overrides.filter(stock=3, daily_stock=20).exists()
    assert overrides.filter(stock=0).exists()
    assert not overrides.exclude(store__brand=chain).exists()
    assert not overrides.exclude(dish__brand=chain).exists()


def test_seed_creates_one_canteen_brand_with_its_own_stores_and_menu():
    seed(stores=7)

    canteen = Brand.objects.get(kind=BrandKind.CANTEEN)
    assert canteen.code == "campus"
    assert 2 <= canteen.stores.count() <= 3
    assert Dish.objects.filter(brand=canteen).count() >= 10
    assert Dish.objects.filter(brand=canteen, category__brand=canteen).count() == Dish.objects.filter(
        brand=canteen
    ).count()
    assert not canteen.stores.filter(offers_delivery=True).exists()


def test_seed_creates_a_login_for_each_role_and_the_demo_customer():
    output = seed(stores=14)  # SH001 and SH002 are among the first 14

    customer = User.objects.get(phone="13800000001")
    assert customer.is_customer and customer.name == "演示顾客"
    assert not customer.is_staff and not customer.has_usable_password()

    superuser = User.objects.get(phone="13900000000")
    assert superuser.is_superuser and superuser.check_password(DEMO_PASSWORD)

    chain = Brand.objects.get(code="xiangwei")
    canteen = Brand.objects.get(code="campus")
    expected = {
        Role.HQ_MANAGER: (chain, set()),
        Role.STORE_MANAGER: (chain, {"SH001", "SH002"}),
        Role.KITCHEN_STAFF: (chain, {"SH001"}),
        Role.CANTEEN_STAFF: (canteen, set(canteen.stores.values_list("code", flat=True))),
    }
    for role, (brand, store_codes) in expected.items():
        user = User.objects.get(role=role, is_superuser=False)
        assert user.is_staff and user.is_active
        assert user.check_password(DEMO_PASSWORD)
        assignment = StaffAssignment.objects.get(user=user)
        assert assignment.brand == brand
        assert set(assignment.stores.values_list("code", flat=True)) == store_codes
        assert user.phone in output
    validate_password(DEMO_PASSWORD, user=User(phone="13900000009", name="演示"))
    assert DEMO_PASSWORD in output
    assert "/admin/" in output and "/accounts/login/" in output
    assert "SMS code" in output


def test_seed_records_history_rows_and_one_audit_event():
    seed(stores=20)

    for model in (Store, Dish, StoreDishOverride, MenuCategory, OptionGroup, Brand):
        created = model.history.filter(history_type="+")
        assert created.count() == model.objects.count() > 0, model
    dish = Dish.objects.get(brand__code="xiangwei", code="SIG01")
    first = dish.history.earliest()
    assert set(first.tags.values_list("tag_id", flat=True)) == {"signature", "spicy"}

    event = AuditEvent.objects.get(action="demo.seeded")
    assert event.actor_type == ActorType.SYSTEM and event.actor_id is None
    assert event.data["created"]["stores"] == 20 + 3
    assert event.data["created"]["dishes"] == Dish.objects.count()
    # HQ has a first security report to read at once: the platform's and each seeded brand's.
    reports = SecurityReport.objects.all()
    assert reports.filter(brand_id__isnull=True).count() == 1
    assert Brand.objects.get(code="xiangwei").pk in set(reports.values_list("brand_id", flat=True))


def test_second_run_changes_nothing_and_prints_the_same_logins():
    first_output = seed()
    before = snapshot()

    second_output = seed()

    assert snapshot() == before
    assert "nothing created" in second_output
    assert "nothing created" not in first_output
    assert logins_table(second_output) == logins_table(first_output)
    assert AuditEvent.objects.filter(action="demo.seeded").count() == 1


def test_seed_is_deterministic():
    assert chain_store_plans(200) == chain_store_plans(200)
    seed(stores=14)
    sh001 = Store.objects.get(code="SH001")
    plan = next(p for p in chain_store_plans(200) if p.code == "SH001")
    assert (sh001.name, sh001.address, sh001.latitude, sh001.longitude, sh001.phone) == (
        plan.name, plan.address, plan.latitude, plan.longitude, plan.phone
    )


def test_a_small_seed_spans_every_city_and_grows_to_the_full_chain():
    seed(stores=14, quiet=True)
    chain_stores = Store.objects.filter(brand__code="xiangwei")
    assert chain_stores.count() == 14
    assert chain_stores.values("city").distinct().count() == 7
    sh002 = Store.objects.get(code="SH002")
    sh002_updated = sh002.history.count()

    output = seed()

    assert chain_stores.count() == 200
    assert "186 stores" in output
    assert Brand.objects.count() == 2
    assert sh002.history.count() == sh002_updated  # existing stores untouched


def test_existing_accounts_are_left_alone():
    User.objects.create_user("13800000001", None, name="老顾客")
    User.objects.create_user("13900000001", "another-Secret-77", name="已有经理", role=Role.HQ_MANAGER, is_staff=True)

    seed(stores=7)

    assert User.objects.get(phone="13800000001").name == "老顾客"
    manager = User.objects.get(phone="13900000001")
    assert manager.name == "已有经理" and manager.check_password("another-Secret-77")
    assert not StaffAssignment.objects.filter(user=manager).exists()
    assert User.objects.filter(phone="13900000002", role=Role.STORE_MANAGER).exists()


def test_quiet_prints_nothing_and_bad_store_count_is_refused():
    assert seed(stores=7, quiet=True) == ""
    with pytest.raises(CommandError, match="--stores must be between 1 and 200"):
        seed(stores=0)


def test_seed_refuses_without_debug_or_force(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=StringIO())

    assert not User.objects.exists()
    assert not Brand.objects.exists()
    assert not AuditEvent.objects.exists()


def test_seed_runs_with_debug_on(settings):
    settings.DEBUG = True
    call_command("seed_demo", stores=1, stdout=StringIO())
    assert User.objects.filter(phone="13900000000", is_superuser=True).exists()


def test_seed_drops_the_cached_menu_of_every_brand_it_fills(monkeypatch):
    """bulk_create sends no signals, so the seed bumps the menu versions itself."""
    from stores.management.commands import seed_demo

    calls = []
    monkeypatch.setattr(seed_demo, "menu_changed", calls.append)

    seed(stores=1, quiet=True)
    first = sorted(calls)
    calls.clear()
    seed(stores=1, quiet=True)

    assert first == sorted(Brand.objects.values_list("pk", flat=True))
    assert len(first) == 2
    assert calls == []  # nothing created, nothing to drop


def test_seeded_demo_lists_chain_stores_only(client):
    seed(stores=3, quiet=True)
    from stores.selectors import store_list_public

    assert Store.objects.count() == 3 + Store.objects.filter(brand__kind=BrandKind.CANTEEN).count()
    assert Store.objects.filter(brand__kind=BrandKind.CANTEEN).exists()
    assert store_list_public().count() == 3
    assert client.get("/api/v1/stores/").json()["count"] == 3
