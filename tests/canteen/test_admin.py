"""The canteen admins: HQ sets up its brand's organisations and members; the ledger and the
top-up batches are read-only for everybody; canteen staff look at their organisations only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from canteen.models import Member, Organisation, SubsidyEntry, SubsidyWallet, TopupBatch
from canteen.services import batch_preview, batch_read, monthly_grants_run, subsidy_topup
from tests.canteen.factories import canteen_staff_of, member_of, organisation_for
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _url(name, *args):
    return reverse(f"admin:canteen_{name}", args=args)


@pytest.fixture
def world(store, organisation, member, canteen_staff, other_brand):
    entry, _created = subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="88.50", note="九月补贴")
    monthly_grants_run()
    name, content = batch_read(SimpleUploadedFile("sept.csv", b"number,amount\nE001,10\n"))
    batch = batch_preview(actor=canteen_staff, organisation_id=organisation.pk, file_name=name, content=content)
    rival_store = StoreFactory(brand=other_brand, code="RV001")
    rival_org = organisation_for(rival_store, code="rival-org")
    rival_member = member_of(rival_org, number="R001", name="外人")
    return {"entry": entry, "batch": batch, "rival_org": rival_org, "rival_member": rival_member}


def _shown(response):
    return {row.pk for row in response.context["cl"].result_list}


def test_hq_sees_every_canteen_page_of_its_brand_only(client, hq_manager, organisation, member, world):
    client.force_login(hq_manager)
    for name, expected in (("organisation_changelist", {organisation.pk}), ("member_changelist", {member.pk}),
                           ("subsidyentry_changelist", set(SubsidyEntry.objects.filter(
                               wallet_id=member.pk).values_list("pk", flat=True))),
                           ("topupbatch_changelist", {world["batch"].pk})):
        response = client.get(_url(name))
        assert response.status_code == 200, name
        assert _shown(response) == expected, name
    for name, obj in (("organisation_change", organisation), ("member_change", member),
                      ("subsidyentry_change", world["entry"]), ("topupbatch_change", world["batch"])):
        assert client.get(_url(name, obj.pk)).status_code == 200, name
    # another brand's organisation and member are unknown here
    assert client.get(_url("organisation_change", world["rival_org"].pk)).status_code == 302
    assert client.get(_url("member_change", world["rival_member"].pk)).status_code == 302


def test_the_member_page_shows_the_balance_and_ledger_read_only(client, hq_manager, member, world):
    client.force_login(hq_manager)
    response = client.get(_url("member_change", member.pk), **EN)
    page = response.content.decode()
    balance = SubsidyWallet.objects.get(pk=member.pk).balance
    assert balance == Decimal("388.50")
    assert "388.50" in page and "+88.50" in page and "九月补贴" in page
    assert 'name="balance"' not in page  # shown, not a form field
    assert f"?wallet={member.pk}" in page
    listed = client.get(_url("subsidyentry_changelist") + f"?wallet={member.pk}")
    assert listed.status_code == 200
    assert _shown(listed) == set(SubsidyEntry.objects.filter(wallet_id=member.pk).values_list("pk", flat=True))


def test_member_search_by_number_name_and_phone_digits(client, hq_manager, organisation, member, world):
    other = member_of(organisation, number="E777", name="李四", phone="13911112222")
    client.force_login(hq_manager)
    for term, expected in (("E001", {member.pk}), ("李四", {other.pk}), ("2222", {other.pk}),
                           ("外人", set())):
        response = client.get(_url("member_changelist"), {"q": term})
        assert _shown(response) == expected, term


def test_member_list_has_a_bounded_number_of_queries(client, hq_manager, organisation, world,
                                                     django_assert_max_num_queries):
    for i in range(15):
        member_of(organisation, number=f"N{i:03d}", phone=f"1550000{i:04d}")
    client.force_login(hq_manager)
    with django_assert_max_num_queries(20):
        response = client.get(_url("member_changelist"))
    assert len(_shown(response)) == 16


def test_ledger_entries_and_batches_cannot_be_added_changed_or_deleted(client, hq_manager, member, world):
    client.force_login(hq_manager)
    entry, batch = world["entry"], world["batch"]
    page = client.get(_url("subsidyentry_change", entry.pk)).content.decode()
    assert 'name="_save"' not in page and 'name="amount"' not in page
    assert client.get(_url("subsidyentry_add")).status_code == 403
    assert client.post(_url("subsidyentry_change", entry.pk), {"amount": "9999.00"}).status_code == 403
    assert client.post(_url("subsidyentry_delete", entry.pk), {"post": "yes"}).status_code == 403
    assert client.get(_url("topupbatch_add")).status_code == 403
    assert client.post(_url("topupbatch_change", batch.pk), {"status": "applied"}).status_code == 403
    assert client.post(_url("topupbatch_delete", batch.pk), {"post": "yes"}).status_code == 403
    response = client.post(_url("subsidyentry_changelist"),
                           {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert response.status_code in (200, 302)
    assert SubsidyEntry.objects.filter(pk=entry.pk, amount=Decimal("88.50")).exists()
    assert TopupBatch.objects.get(pk=batch.pk).status == TopupBatch.Status.PREVIEWED
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("388.50")


def test_hq_edits_the_policy_and_sets_up_a_member_with_an_empty_wallet(client, hq_manager, organisation, store,
                                                                      canteen_staff, world):
    client.force_login(hq_manager)
    response = client.post(_url("organisation_change", organisation.pk), {
        "name": "阿可美科技", "kind": "company", "is_active": "on", "monthly_amount": "250.00",
        "per_meal_cap": "18.00", "month_end": "carry_over", "stores": [store.pk], "staff": [canteen_staff.pk],
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    organisation.refresh_from_db()
    assert (organisation.monthly_amount, organisation.per_meal_cap, organisation.month_end) == (
        Decimal("250.00"), Decimal("18.00"), "carry_over")
    assert organisation.code == "acme-corp"  # read-only once created

    response = client.post(_url("member_add"), {
        "organisation": organisation.pk, "number": "E900", "name": "王五", "department": "财务部",
        "phone": "13955556666", "dietary_needs": ["halal"],
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    added = Member.objects.select_related("wallet", "user").get(number="E900")
    assert added.user.phone == "13955556666" and added.user.role == Role.CUSTOMER
    assert added.dietary_needs == ["halal"]
    assert added.wallet.balance == Decimal("0.00") and not SubsidyEntry.objects.filter(wallet_id=added.pk).exists()


def test_hq_changes_a_member_and_their_dietary_needs(client, hq_manager, member, world):
    client.force_login(hq_manager)
    response = client.post(_url("member_change", member.pk), {
        "name": "张三丰", "department": "测试部", "is_active": "on", "dietary_needs": ["vegetarian", "low_sugar"],
        "allergies": ["peanuts"],
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.name, member.department, member.dietary_needs) == ("张三丰", "测试部", ["low_sugar", "vegetarian"])
    assert list(member.allergies.values_list("pk", flat=True)) == ["peanuts"]
    assert member.number == "E001" and SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("388.50")


def test_a_member_number_is_unique_in_its_organisation(client, hq_manager, organisation, member, world):
    client.force_login(hq_manager)
    response = client.post(_url("member_add"), {"organisation": organisation.pk, "number": member.number,
                                                "name": "重复", "phone": "13955550000"}, **EN)
    assert response.status_code == 200
    assert Member.objects.filter(number=member.number).count() == 1


def test_hq_of_another_brand_cannot_put_its_organisation_on_our_stores(client, other_brand, store, world):
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000066")
    client.force_login(rival_hq)
    assert _shown(client.get(_url("organisation_changelist"))) == {world["rival_org"].pk}
    rival_org = world["rival_org"]
    response = client.post(_url("organisation_change", rival_org.pk), {
        "name": rival_org.name, "kind": "company", "is_active": "on", "monthly_amount": "1.00",
        "per_meal_cap": "1.00", "month_end": "expire", "stores": [store.pk],
    })
    assert response.status_code == 200  # the form refuses a store it may not choose
    assert not Organisation.objects.get(pk=rival_org.pk).stores.filter(pk=store.pk).exists()


def test_canteen_staff_look_but_cannot_change_members_or_money(client, canteen_staff, organisation, member, world):
    client.force_login(canteen_staff)
    response = client.get(_url("member_changelist"))
    assert response.status_code == 200 and _shown(response) == {member.pk}
    page = client.get(_url("member_change", member.pk)).content.decode()
    assert "388.50" in page and 'name="_save"' not in page and 'name="name"' not in page
    assert client.post(_url("member_change", member.pk), {"name": "改名", "is_active": ""}).status_code == 403
    assert client.get(_url("member_add")).status_code == 403
    assert client.get(_url("subsidyentry_changelist")).status_code == 200
    assert client.post(_url("subsidyentry_change", world["entry"].pk), {"amount": "1"}).status_code == 403
    assert client.get(_url("topupbatch_change", world["batch"].pk)).status_code == 200
    assert client.post(_url("organisation_change", organisation.pk), {"monthly_amount": "9999"}).status_code == 403
    member.refresh_from_db()
    organisation.refresh_from_db()
    assert member.name == "张三" and member.is_active and organisation.monthly_amount == Decimal("300.00")
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("388.50")


def test_canteen_staff_not_named_on_an_organisation_see_none_of_it(client, store, organisation, member, world):
    stranger = canteen_staff_of(store, phone="13700000088")
    client.force_login(stranger)
    for name in ("member_changelist", "subsidyentry_changelist", "topupbatch_changelist", "organisation_changelist"):
        response = client.get(_url(name))
        assert response.status_code == 200 and _shown(response) == set(), name
    assert client.get(_url("member_change", member.pk)).status_code == 302


def test_store_staff_have_no_canteen_admin(client, store_manager, member, world):
    client.force_login(store_manager)
    assert client.get(_url("member_changelist")).status_code == 403
    assert client.get(_url("subsidyentry_changelist")).status_code == 403
