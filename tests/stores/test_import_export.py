from decimal import Decimal

import pytest
import tablib
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEvent
from stores.models import Dish, StoreDishOverride
from stores.resources import DishResource, StorePriceResource
from tests.stores.factories import DishFactory, MenuCategoryFactory, StoreDishOverrideFactory, StoreFactory

pytestmark = pytest.mark.django_db

DISH_HEADER = ("code,category,name_zh,name_en,description_zh,description_en,price,kcal,protein_g,fat_g,"
               "carbs_g,tags,allergens,is_set_meal,is_active")


@pytest.fixture
def mains(brand):
    return MenuCategoryFactory(brand=brand, code="mains")


def dataset(text: str) -> tablib.Dataset:
    return tablib.Dataset().load(text.strip(), format="csv")


def upload(client, url, text):
    file = SimpleUploadedFile("data.csv", text.strip().encode(), content_type="text/csv")
    return client.post(url, {"import_file": file, "format": "0"})


def test_dish_import_good_csv_applies_with_tags_and_audit(hq_manager, mains, other_brand):
    DishFactory(brand=other_brand, code="BEEF", price=Decimal("99.00"))  # same code, other brand: untouched
    existing = DishFactory(brand=mains.brand, category=mains, code="RICE", price=Decimal("5.00"))
    csv = f"""
{DISH_HEADER}
BEEF,mains,牛肉面,Beef noodles,,,32.00,650,30.5,20,70,"spicy,signature","gluten,soy",0,1
RICE,mains,米饭,Rice,,,3.50,200,4,0.5,45,,,0,1
"""
    result = DishResource(user=hq_manager).import_data(dataset(csv), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    beef = Dish.objects.get(brand=mains.brand, code="BEEF")
    assert beef.price == Decimal("32.00")
    assert sorted(beef.tags.values_list("code", flat=True)) == ["signature", "spicy"]
    assert sorted(beef.allergens.values_list("code", flat=True)) == ["gluten", "soy"]
    existing.refresh_from_db()
    assert existing.price == Decimal("3.50")
    assert Dish.objects.get(brand=other_brand, code="BEEF").price == Decimal("99.00")
    [event] = AuditEvent.objects.filter(action="dishes.imported")
    assert event.actor_id == hq_manager.pk
    assert event.brand_id == mains.brand_id
    assert event.data["new"] == 1 and event.data["update"] == 1


def test_dish_import_one_bad_row_reports_each_row_and_applies_nothing(hq_manager, mains):
    csv = f"""
{DISH_HEADER}
GOOD,mains,好菜,Good,,,10.00,100,1,1,1,,,0,1
NEG,mains,负价,Negative,,,-1.00,100,1,1,1,,,0,1
TAG,mains,坏标签,Bad tag,,,10.00,100,1,1,1,no_such_tag,,0,1
CAT,nope,无分类,No category,,,abc,100,1,1,1,,,0,1
"""
    result = DishResource(user=hq_manager).import_data(dataset(csv), dry_run=False)

    assert result.has_validation_errors()
    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(invalid) == {2, 3, 4}
    assert "price" in invalid[2]
    assert "tags" in invalid[3]
    assert {"category", "price"} <= set(invalid[4])
    assert not Dish.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.usefixtures("english")
def test_dish_import_refused_for_store_manager(store_manager, mains):
    csv = f"{DISH_HEADER}\nX1,mains,菜,Dish,,,10.00,100,1,1,1,,,0,1"
    result = DishResource(user=store_manager).import_data(dataset(csv), dry_run=False)
    assert result.has_errors()
    assert "HQ" in str(result.base_errors[0].error)
    assert not Dish.objects.exists()


def test_store_price_import_and_export(hq_manager, brand, store):
    other = StoreFactory(brand=brand, code="SH002")
    noodle = DishFactory(brand=brand, code="NOODLE", price=Decimal("20.00"))
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("25.00"), stock=1)
    csv = """
store_code,dish_code,price,available,stock,daily_stock
SH001,NOODLE,,1,,
SH002,NOODLE,18.50,0,5,30
"""
    result = StorePriceResource(user=hq_manager).import_data(dataset(csv), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    mine = StoreDishOverride.objects.get(store=store, dish=noodle)
    assert (mine.price, mine.stock, mine.is_available) == (None, None, True)
    assert mine.effective_price() == Decimal("20.00")
    theirs = StoreDishOverride.objects.get(store=other, dish=noodle)
    assert (theirs.price, theirs.is_available, theirs.stock, theirs.daily_stock) == (Decimal("18.50"), False, 5, 30)
    assert theirs.history.latest().history_user == hq_manager
    event = AuditEvent.objects.get(action="store_prices.imported")
    assert event.data["stores"] == ["SH001", "SH002"]

    exported = StorePriceResource(user=hq_manager).export(StoreDishOverride.objects.order_by("store__code"))
    assert exported.headers == ["store_code", "dish_code", "price", "available", "stock", "daily_stock"]
    assert exported.dict[1]["store_code"] == "SH002"
    assert exported.dict[1]["price"] == "18.50"


def test_store_manager_cannot_import_prices_for_another_store(store_manager, brand, store, other_brand):
    StoreFactory(brand=brand, code="SH002")
    StoreFactory(brand=other_brand, code="RV001")
    DishFactory(brand=brand, code="NOODLE")
    csv = """
store_code,dish_code,price,available,stock,daily_stock
SH001,NOODLE,9.00,1,,
SH002,NOODLE,1.00,1,,
RV001,NOODLE,1.00,1,,
SH001,GHOST,1.00,1,,
SH001,NOODLE,2.00,maybe,-1,
"""
    result = StorePriceResource(user=store_manager).import_data(dataset(csv), dry_run=False)

    invalid = {row.number: row.error_dict for row in result.invalid_rows}
    assert set(invalid) == {2, 3, 4, 5}
    assert "store_code" in invalid[2] and "store_code" in invalid[3]
    assert "dish_code" in invalid[4]
    assert "dish_code" in invalid[5]  # duplicate of row 1
    assert not StoreDishOverride.objects.exists()  # the good first row is not applied either
    assert not AuditEvent.objects.exists()


def test_admin_import_with_bad_row_lists_error_and_changes_nothing(client, hq_manager, brand, store):
    noodle = DishFactory(brand=brand, code="NOODLE")
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("25.00"))
    client.force_login(hq_manager)
    csv = """
store_code,dish_code,price,available,stock,daily_stock
SH001,NOODLE,10.00,1,,
SH001,NOPE,-5,1,,
"""
    response = upload(client, reverse("admin:stores_storedishoverride_import"), csv)

    assert response.status_code == 200
    result = response.context["result"]
    assert [row.number for row in result.invalid_rows] == [2]
    assert "confirm_form" not in response.context or response.context["confirm_form"] is None
    body = response.content.decode()
    assert "NOPE" in body
    assert StoreDishOverride.objects.get(store=store, dish=noodle).price == Decimal("25.00")
    assert not AuditEvent.objects.exists()


def test_admin_dish_import_dry_run_then_confirm(client, hq_manager, mains):
    client.force_login(hq_manager)
    csv = f"{DISH_HEADER}\nSOUP,mains,汤,Soup,,,8.00,90,1,1,1,light_meal,,0,1"
    preview = upload(client, reverse("admin:stores_dish_import"), csv)
    assert preview.status_code == 200
    assert not Dish.objects.exists()  # dry run only
    confirm = preview.context["confirm_form"]

    done = client.post(reverse("admin:stores_dish_process_import"), confirm.initial)

    assert done.status_code == 302
    soup = Dish.objects.get(code="SOUP")
    assert soup.brand_id == mains.brand_id
    assert list(soup.tags.values_list("code", flat=True)) == ["light_meal"]
    assert AuditEvent.objects.get().action == "dishes.imported"


def test_admin_dish_import_forbidden_for_store_manager(client, store_manager, mains):
    client.force_login(store_manager)
    response = upload(client, reverse("admin:stores_dish_import"), f"{DISH_HEADER}\nX,mains,x,x,,,1,1,1,1,1,,,0,1")
    assert response.status_code == 403
    assert not Dish.objects.exists()


def test_admin_export_contains_only_own_rows(client, store_manager, brand, store, other_brand):
    StoreDishOverrideFactory(store=store, dish=DishFactory(brand=brand, code="MINE"))
    other_store = StoreFactory(brand=brand, code="SH002")
    StoreDishOverrideFactory(store=other_store, dish=DishFactory(brand=brand, code="NOTMINE"))
    client.force_login(store_manager)
    fields = ["store_code", "dish_code", "price", "available", "stock", "daily_stock"]
    data = {"format": "0", "resource": "0", **{f"storepriceresource_{name}": "on" for name in fields}}
    response = client.post(reverse("admin:stores_storedishoverride_export"), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "MINE" in body
    assert "NOTMINE" not in body and "SH002" not in body


# --- store prices need stores.set_store_price; the stores are locked first ---


def test_kitchen_staff_import_may_change_stock_but_not_prices(brand, store):
    from accounts.models import Role
    from tests.stores.factories import make_staff

    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000005")
    noodle = DishFactory(brand=brand, code="NOODLE", price=Decimal("20.00"))
    rice = DishFactory(brand=brand, code="RICE")
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("25.00"), stock=1)
    priced = """
store_code,dish_code,price,available,stock,daily_stock
SH001,NOODLE,25.00,0,3,
SH001,RICE,9.00,1,,
"""
    refused = StorePriceResource(user=cook).import_data(dataset(priced), dry_run=False)

    invalid = {row.number: row.error_dict for row in refused.invalid_rows}
    assert set(invalid) == {2} and "price" in invalid[2]
    assert StoreDishOverride.objects.get(dish=noodle).stock == 1  # nothing applied
    assert not StoreDishOverride.objects.filter(dish=rice).exists()

    stock_only = """
store_code,dish_code,price,available,stock,daily_stock
SH001,NOODLE,25.00,0,3,
SH001,RICE,,1,5,
"""
    result = StorePriceResource(user=cook).import_data(dataset(stock_only), dry_run=False)

    assert not result.has_errors() and not result.has_validation_errors()
    row = StoreDishOverride.objects.get(dish=noodle)
    assert (row.price, row.stock, row.is_available) == (Decimal("25.00"), 3, False)
    assert StoreDishOverride.objects.get(dish=rice).stock == 5
    assert AuditEvent.objects.get().action == "store_prices.imported"


def test_store_price_import_locks_its_stores_before_writing_and_audits_last(hq_manager, brand, store):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    StoreFactory(brand=brand, code="SH002")
    DishFactory(brand=brand, code="NOODLE")
    csv = """
store_code,dish_code,price,available,stock,daily_stock
SH002,NOODLE,18.50,0,5,30
SH001,NOODLE,,1,,
"""
    with CaptureQueriesContext(connection) as captured:
        StorePriceResource(user=hq_manager).import_data(dataset(csv), dry_run=False)

    sqls = [q["sql"] for q in captured.captured_queries]
    lock = next(i for i, sql in enumerate(sqls) if 'FROM "stores_store"' in sql and "FOR UPDATE" in sql)
    first_write = next(i for i, sql in enumerate(sqls) if sql.startswith('INSERT INTO "stores_storedishoverride"'))
    chain = next(i for i, sql in enumerate(sqls) if '"audit_auditchain"' in sql and "FOR UPDATE" in sql)
    last_write = max(i for i, sql in enumerate(sqls) if '"stores_storedishoverride"' in sql and
                     sql.startswith(("INSERT", "UPDATE")))
    assert lock < first_write < last_write < chain
    assert StoreDishOverride.objects.count() == 2
