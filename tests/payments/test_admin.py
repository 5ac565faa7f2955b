"""The payments and gift card admins: scoping, read-only payments, issuing and topping up cards."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from payments.models import GiftCard, GiftCardEntry, GiftCardEntryKind, Payment, PaymentStatus
from tests.ordering.factories import Menu, gift_card_for, paid_order
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

PAYMENTS = "admin:payments_payment_changelist"
CARDS = "admin:payments_giftcard_changelist"
ISSUE = "admin:payments_giftcard_issue"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def _payment_url(payment):
    return reverse("admin:payments_payment_change", args=[payment.pk])


def _card_url(card):
    return reverse("admin:payments_giftcard_change", args=[card.pk])


def _top_up_url(card):
    return reverse("admin:payments_giftcard_topup", args=[card.pk])


@pytest.fixture
def world(brand, other_brand, store, menu, customer):
    store_b = StoreFactory(brand=brand, code="SH002", name="B 店")
    rival_store = StoreFactory(brand=other_brand, code="RV001", name="对手店")
    orders = {
        "a": paid_order(customer, store, menu),
        "b": paid_order(customer, store_b, menu),
        "rival": paid_order(customer, rival_store, Menu(rival_store)),
    }
    payments = {key: order.payments.get() for key, order in orders.items()}
    return {"orders": orders, "payments": payments, "store_b": store_b}


def _shown(response):
    return {row.pk for row in response.context["cl"].result_list}


# --- payments ---


def test_store_manager_sees_only_own_store_payments(client, store_manager, world):
    client.force_login(store_manager)
    response = client.get(reverse(PAYMENTS))
    assert response.status_code == 200
    assert _shown(response) == {world["payments"]["a"].pk}
    assert "SH002" not in response.content.decode()
    for key in ("b", "rival"):
        assert client.get(_payment_url(world["payments"][key])).status_code in (302, 403, 404)


def test_hq_sees_brand_payments_and_filters(client, hq_manager, world):
    client.force_login(hq_manager)
    assert _shown(client.get(reverse(PAYMENTS))) == {world["payments"]["a"].pk, world["payments"]["b"].pk}
    by_store = client.get(reverse(PAYMENTS), {"order__store__id__exact": world["store_b"].pk})
    assert _shown(by_store) == {world["payments"]["b"].pk}
    by_channel = client.get(reverse(PAYMENTS), {"channel": "counter"})
    assert _shown(by_channel) == set()
    failed = client.get(reverse(PAYMENTS), {"status__exact": PaymentStatus.FAILED})
    assert _shown(failed) == set()
    by_id = client.get(reverse(PAYMENTS), {"q": world["payments"]["b"].out_trade_no})
    assert _shown(by_id) == {world["payments"]["b"].pk}


def test_kitchen_staff_has_no_payments_admin(client, brand, store, world):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store])
    client.force_login(cook)
    assert client.get(reverse(PAYMENTS)).status_code == 403


def test_payments_are_read_only_with_history(client, hq_manager, world):
    client.force_login(hq_manager)
    payment = world["payments"]["a"]
    page = client.get(_payment_url(payment))
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert list(page.context["adminform"].form.fields) == []
    assert client.post(_payment_url(payment), {"amount": "1.00", "status": "failed"}).status_code == 403
    payment.refresh_from_db()
    assert (payment.amount, payment.status) == (Decimal("45.00"), PaymentStatus.SUCCEEDED)
    assert client.get(reverse("admin:payments_payment_add")).status_code == 403
    assert client.post(reverse("admin:payments_payment_delete", args=[payment.pk]), {"post": "yes"}).status_code == 403
    assert Payment.objects.filter(pk=payment.pk).exists()
    history = client.get(reverse("admin:payments_payment_history", args=[payment.pk]))
    assert history.status_code == 200 and history.context["revert_disabled"] is True


# --- gift cards ---


@pytest.fixture
def cards(brand, other_brand, customer):
    return {
        "ours": gift_card_for(customer, brand, "80.00"),
        "rival": gift_card_for(customer, other_brand, "60.00"),
    }


def test_gift_card_list_is_scoped_and_masked(client, hq_manager, cards):
    client.force_login(hq_manager)
    response = client.get(reverse(CARDS))
    assert _shown(response) == {cards["ours"].pk}
    body = response.content.decode()
    assert cards["ours"].code not in body
    assert cards["ours"].code[-4:] in body
    assert "138****0001" in body and "13800000001" not in body
    assert client.get(_card_url(cards["rival"])).status_code in (302, 403, 404)

    by_digits = client.get(reverse(CARDS), {"q": cards["ours"].code[-4:]})
    assert _shown(by_digits) == {cards["ours"].pk}
    by_phone = client.get(reverse(CARDS), {"q": "13800000001"})
    assert _shown(by_phone) == {cards["ours"].pk}
    assert _shown(client.get(reverse(CARDS), {"q": "no-digits"})) == set()


def test_hq_sees_full_number_on_detail_store_manager_does_not(client, hq_manager, store_manager, cards):
    card = cards["ours"]
    full = " ".join(card.code[i:i + 4] for i in range(0, 16, 4))
    client.force_login(hq_manager)
    page = client.get(_card_url(card))
    assert page.status_code == 200 and full in page.content.decode()
    assert _top_up_url(card) in page.content.decode()
    assert "id=\"entries-group\"" in page.content.decode()  # the ledger inline

    client.force_login(store_manager)
    page = client.get(_card_url(card))
    assert page.status_code == 200
    body = page.content.decode()
    assert full not in body and card.code not in body and card.code[-4:] in body
    assert page.context["has_change_permission"] is False
    assert _top_up_url(card) not in body
    assert client.get(reverse(ISSUE)).status_code == 403
    assert client.post(_top_up_url(card), {"amount": "10"}).status_code == 403
    card.refresh_from_db()
    assert card.balance == Decimal("80.00")


def test_issue_gift_card_through_admin(client, hq_manager, brand, customer, cards):
    client.force_login(hq_manager)
    assert reverse(ISSUE) in client.get(reverse(CARDS)).content.decode()
    form = client.get(reverse(ISSUE))
    assert form.status_code == 200

    response = client.post(reverse(ISSUE), {"brand": brand.pk, "amount": "200", "owner_phone": "138 0000 0001",
                                            "note": "会员礼"})

    assert response.status_code == 302
    card = GiftCard.objects.exclude(pk__in=[c.pk for c in cards.values()]).get()
    assert response["Location"] == _card_url(card)
    assert (card.brand, card.owner, card.balance, card.is_active) == (brand, customer, Decimal("200.00"), True)
    [entry] = card.entries.all()
    assert (entry.kind, entry.amount, entry.balance_after, entry.actor) == (
        GiftCardEntryKind.ISSUE, Decimal("200.00"), Decimal("200.00"), hq_manager)
    event = AuditEvent.objects.get(action="gift_card.issued", object_id=str(card.pk))
    assert (event.actor_id, event.amount, event.reason) == (hq_manager.pk, Decimal("200.00"), "会员礼")


def test_issue_unbound_card(client, hq_manager, brand):
    client.force_login(hq_manager)
    response = client.post(reverse(ISSUE), {"brand": brand.pk, "amount": "50.5"})
    assert response.status_code == 302
    card = GiftCard.objects.get()
    assert (card.owner, card.balance) == (None, Decimal("50.50"))


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "more than zero"),
    ("-5", "more than zero"),
    ("10000.01", "at most"),
    ("abc", "Enter an amount"),
    ("", "required"),
])
def test_bad_issue_amount_is_a_form_error_and_writes_nothing(client, hq_manager, brand, amount, message):
    client.force_login(hq_manager)
    response = client.post(reverse(ISSUE), {"brand": brand.pk, "amount": amount}, **EN)
    assert response.status_code == 200
    errors = response.context["form"].errors["amount"]
    assert any(message in str(error) for error in errors)
    assert not GiftCard.objects.exists()
    assert not GiftCardEntry.objects.exists()
    assert not AuditEvent.objects.exists()


def test_issue_refuses_unknown_phone_and_other_brand(client, hq_manager, other_brand, brand):
    client.force_login(hq_manager)
    unknown = client.post(reverse(ISSUE), {"brand": brand.pk, "amount": "10", "owner_phone": "13999999999"})
    assert unknown.status_code == 200 and unknown.context["form"].errors["owner_phone"]
    rival = client.post(reverse(ISSUE), {"brand": other_brand.pk, "amount": "10"})
    assert rival.status_code == 200 and rival.context["form"].errors["brand"]
    assert not GiftCard.objects.exists()


def test_top_up_through_admin(client, hq_manager, cards):
    card = cards["ours"]
    client.force_login(hq_manager)
    assert client.get(_top_up_url(card)).status_code == 200

    response = client.post(_top_up_url(card), {"amount": "20.00", "note": "补偿"})

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.balance == Decimal("100.00")
    entry = card.entries.order_by("created_at", "pk").last()
    assert (entry.kind, entry.amount, entry.balance_after) == (GiftCardEntryKind.TOP_UP, Decimal("20.00"),
                                                               Decimal("100.00"))
    assert AuditEvent.objects.get(action="gift_card.topped_up").actor_id == hq_manager.pk


@pytest.mark.parametrize("amount", ["0", "-1", "10001", "ten", "NaN"])
def test_bad_top_up_changes_nothing(client, hq_manager, cards, amount):
    card = cards["ours"]
    client.force_login(hq_manager)
    response = client.post(_top_up_url(card), {"amount": amount})
    assert response.status_code == 200
    assert response.context["form"].errors["amount"]
    card.refresh_from_db()
    assert card.balance == Decimal("80.00")
    assert card.entries.count() == 1
    assert not AuditEvent.objects.filter(action="gift_card.topped_up").exists()


def test_other_brand_card_cannot_be_topped_up(client, hq_manager, cards):
    client.force_login(hq_manager)
    assert client.post(_top_up_url(cards["rival"]), {"amount": "10"}).status_code == 404
    cards["rival"].refresh_from_db()
    assert cards["rival"].balance == Decimal("60.00")


def test_switched_off_card_top_up_is_refused(client, hq_manager, cards):
    card = cards["ours"]
    client.force_login(hq_manager)
    data = {"is_active": "", "entries-TOTAL_FORMS": "1", "entries-INITIAL_FORMS": "1",
            "entries-MIN_NUM_FORMS": "0", "entries-MAX_NUM_FORMS": "0"}
    response = client.post(_card_url(card), data)
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.is_active, card.balance) == (False, Decimal("80.00"))
    assert card.history.latest().history_user == hq_manager

    refused = client.post(_top_up_url(card), {"amount": "10"}, **EN)
    assert refused.status_code == 200
    assert "switched off" in str(refused.context["form"].non_field_errors())
    card.refresh_from_db()
    assert card.balance == Decimal("80.00")


def test_balance_is_not_editable(client, hq_manager, cards):
    card = cards["ours"]
    client.force_login(hq_manager)
    page = client.get(_card_url(card))
    assert list(page.context["adminform"].form.fields) == ["is_active"]
    response = client.post(_card_url(card), {"is_active": "on", "balance": "9999", "code": "1" * 16,
                                             "entries-TOTAL_FORMS": "1", "entries-INITIAL_FORMS": "1"})
    assert response.status_code == 302
    card.refresh_from_db()
    assert (card.balance, card.code) == (Decimal("80.00"), cards["ours"].code)
    assert client.get(reverse("admin:payments_giftcard_add")).status_code == 403
