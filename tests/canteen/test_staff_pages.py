"""The canteen staff pages: who may use them, member search, single top-ups (idempotent per
one-time form token), CSV batches (preview, all or nothing, once, receipt; malformed files) and
the monthly settlement export per department."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from canteen.models import EntryKind, SubsidyEntry, SubsidyWallet, TopupBatch
from canteen.selectors import ledger_sum
from canteen.services import monthly_grants_run, subsidy_topup
from payments.models import RefundOrigin
from payments.services import payment_create, payment_split_create
from payments.services.refunding import refund_attempt_create, refund_attempt_execute
from tests.accounts.factories import UserFactory
from tests.canteen.factories import canteen_staff_of, member_of, organisation_for
from tests.ordering.factories import gift_card_for, submit
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOME = "/canteen/staff/"


def client_for(user=None) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def org_url(organisation, rest: str = "") -> str:
    return f"/canteen/staff/{organisation.pk}/{rest}"


def member_url(member) -> str:
    return org_url(member.organisation, f"members/{member.pk}/")


def balance(member) -> Decimal:
    return SubsidyWallet.objects.get(pk=member.pk).balance


def form_token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no form token on the page"
    return match.group(1)


def upload(client, organisation, content: bytes, name: str = "september.csv"):
    return client.post(org_url(organisation, "batches/"),
                       {"file": SimpleUploadedFile(name, content, content_type="text/csv")})


def batch_id_from(response) -> int:
    match = re.search(r"/batches/(\d+)/$", response["Location"])
    assert match, response["Location"]
    return int(match.group(1))


# --- access ---


def test_anonymous_users_go_to_the_staff_login(organisation):
    response = client_for().get(org_url(organisation))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")
    assert f"/canteen/staff/{organisation.pk}/" in response["Location"].replace("%2F", "/")


@pytest.mark.parametrize("who", ["customer", "store_manager", "kitchen", "frozen_canteen_staff"])
def test_others_get_403(who, organisation, customer, store_manager, store, canteen_staff):
    if who == "customer":
        user = customer
    elif who == "store_manager":
        user = store_manager
    elif who == "kitchen":
        user = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13700000055")
    else:
        canteen_staff.is_frozen, canteen_staff.frozen_at = True, timezone.now()
        canteen_staff.save(update_fields=["is_frozen", "frozen_at"])
        user = canteen_staff
    for url in (HOME, org_url(organisation), org_url(organisation, "batches/"),
                org_url(organisation, "settlement.csv?month=2026-09")):
        response = client_for(user).get(url)
        assert response.status_code == 403, url
        assert "You cannot use the canteen staff pages" in response.content.decode()


def test_one_organisation_redirects_to_it(canteen_staff, organisation):
    response = client_for(canteen_staff).get(HOME)
    assert response.status_code == 302 and response["Location"] == org_url(organisation)


def test_hq_and_superusers_see_the_organisations_of_their_brand(store, organisation, hq_manager, other_brand):
    second = organisation_for(store, code="campus")
    foreign = organisation_for(StoreFactory(brand=other_brand, code="RV001"), code="rival-school")
    html = client_for(hq_manager).get(HOME).content.decode()
    assert organisation.name in html and second.name in html and foreign.name not in html
    assert client_for(hq_manager).get(org_url(foreign)).status_code == 404
    superuser = UserFactory(phone="13700000099", is_staff=True, is_superuser=True, role=Role.HQ_MANAGER)
    html = client_for(superuser).get(HOME).content.decode()
    assert foreign.name in html and organisation.name in html


def test_canteen_staff_without_an_organisation_see_an_empty_list(store, organisation):
    other = canteen_staff_of(store, phone="13700000078")
    response = client_for(other).get(HOME)
    assert response.status_code == 200
    assert "You do not manage any organisation yet" in response.content.decode()


def test_another_organisations_data_is_404(store, canteen_staff, organisation, member):
    other = organisation_for(store, code="other-org")
    stranger = member_of(other, number="X1")
    batch_of_other = TopupBatch.objects.create(organisation=other, file_name="x.csv", sha256="0" * 64,
                                               uploaded_by=canteen_staff)
    client = client_for(canteen_staff)
    assert client.get(org_url(other)).status_code == 404
    assert client.get(member_url(stranger)).status_code == 404
    # Their member (or batch) under one's own organisation's URL is unknown too.
    assert client.get(org_url(organisation, f"members/{stranger.pk}/")).status_code == 404
    assert client.get(org_url(organisation, f"batches/{batch_of_other.pk}/")).status_code == 404
    assert client.post(org_url(organisation, f"batches/{batch_of_other.pk}/apply/")).status_code == 404
    assert client.get(org_url(other, "settlement.csv?month=2026-09")).status_code == 404
    assert client.get(org_url(organisation, "members/99999999999999999999/")).status_code == 404
    # A top-up posted to another organisation's member changes nothing.
    response = client.post(member_url(stranger), {"amount": "10", "token": "x"})
    assert response.status_code == 404 and not SubsidyEntry.objects.exists()


# --- members ---


def test_member_search_by_number_name_phone_tail_and_department(organisation, canteen_staff, member,
                                                                django_assert_max_num_queries):
    lisi = member_of(organisation, number="E002", name="李四", department="市场部", phone="13912345678")
    member_of(organisation, number="M100", name="王五", department="财务部", phone="13911110000")
    subsidy_topup(actor=canteen_staff, member_id=lisi.pk, amount="88.50")
    client = client_for(canteen_staff)

    def found(query):
        html = client.get(org_url(organisation), {"q": query}).content.decode()
        return sorted(set(re.findall(r">(E\d{3}|M\d{3})</a>", html)))

    assert found("E002") == ["E002"]
    assert found("李四") == ["E002"]
    assert found("5678") == ["E002"]
    assert found("市场") == ["E002"]
    assert found("E0") == ["E001", "E002"]
    assert found("nobody") == []
    html = client.get(org_url(organisation), {"q": "E002"}).content.decode()
    assert "88.50" in html and "139****5678" in html and "13912345678" not in html
    assert "No member matches this search." in client.get(org_url(organisation), {"q": "zzz"}).content.decode()
    with django_assert_max_num_queries(12):
        assert client.get(org_url(organisation)).status_code == 200


def test_member_page_shows_balance_and_latest_entries(member, canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="30", note="九月补贴")
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="12.50", note="加餐")
    html = client_for(canteen_staff).get(member_url(member)).content.decode()
    assert "42.50 CNY" in html
    assert html.index("加餐") < html.index("九月补贴")  # latest first
    assert html.count("data-entry=") == 2


def test_a_top_up_submitted_twice_credits_once(member, canteen_staff):
    client = client_for(canteen_staff)
    token = form_token(client.get(member_url(member)).content.decode())
    first = client.post(member_url(member), {"amount": "50", "note": "月初", "token": token}, follow=True)
    assert first.redirect_chain == [(member_url(member), 302)]
    assert "Topped up 50.00 CNY for 张三. New balance: 50.00 CNY." in first.content.decode()
    again = client.post(member_url(member), {"amount": "50", "note": "月初", "token": token}, follow=True)
    assert "This top-up was recorded already" in again.content.decode()
    assert balance(member) == Decimal("50.00")
    assert SubsidyEntry.objects.filter(wallet_id=member.pk).count() == 1
    entry = SubsidyEntry.objects.get(wallet_id=member.pk)
    assert entry.kind == EntryKind.TOPUP and entry.note == "月初" and entry.actor == canteen_staff
    # The next form has a new token: a second, deliberate top-up is credited.
    assert form_token(again.content.decode()) != token
    third = client.post(member_url(member), {"amount": "20", "token": form_token(again.content.decode())},
                        follow=True)
    assert "New balance: 70.00 CNY." in third.content.decode()
    assert balance(member) == Decimal("70.00") == ledger_sum(member)


@pytest.mark.parametrize(("amount", "message"), [
    ("abc", "The amount must be a number such as 50 or 12.50."),
    ("0", "The amount must be more than 0."),
    ("-5", "The amount must be more than 0."),
    ("1.005", "Amounts have at most 2 decimals."),
    ("5000.01", "At most 5000.00 CNY per top-up."),
    ("NaN", "The amount must be more than 0."),
    ("", "Enter the amount to top up"),
    ("9" * 30, "The amount must be a number such as 50 or 12.50."),
])
def test_a_bad_amount_is_a_form_error(member, canteen_staff, amount, message):
    client = client_for(canteen_staff)
    token = form_token(client.get(member_url(member)).content.decode())
    response = client.post(member_url(member), {"amount": amount, "token": token})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SubsidyEntry.objects.exists()
    # The same form can then be corrected and sent.
    retry = client.post(member_url(member), {"amount": "10", "token": form_token(response.content.decode())})
    assert retry.status_code == 302 and balance(member) == Decimal("10.00")


def test_a_stale_or_forged_token_credits_nothing(member, canteen_staff):
    client = client_for(canteen_staff)
    client.get(member_url(member))
    response = client.post(member_url(member), {"amount": "10", "token": "made-up"})
    assert response.status_code == 400
    assert "This form had expired" in response.content.decode()
    assert not SubsidyEntry.objects.exists()


def test_an_inactive_member_cannot_be_topped_up(member, canteen_staff):
    client = client_for(canteen_staff)
    token = form_token(client.get(member_url(member)).content.decode())
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = client.post(member_url(member), {"amount": "10", "token": token})
    assert response.status_code == 409
    assert "is no longer an active member" in response.content.decode()
    assert not SubsidyEntry.objects.exists()


# --- CSV batches ---


def test_a_batch_with_one_bad_row_is_refused_whole_with_a_report_per_row(organisation, member, canteen_staff):
    member_of(organisation, number="E002", name="李四")
    gone = member_of(organisation, number="E003", name="王五")
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    client = client_for(canteen_staff)
    content = b"number,amount,note\nE001,100,ok\nE404,20,?\nE002,abc,\nE001,5,again\nE003,10,\n"
    response = upload(client, organisation, content)
    assert response.status_code == 302
    batch_id = batch_id_from(response)
    html = client.get(org_url(organisation, f"batches/{batch_id}/")).content.decode()
    rows = dict(re.findall(r'data-line="(\d+)">(.*?)</tr>', html, re.S))
    assert ">OK<" in rows["2"]
    assert "No member with this number" in rows["3"]
    assert "The amount must be a number" in rows["4"]
    assert "Duplicate line: this member is on line 2 already." in rows["5"]
    assert "王五 is no longer an active member." in rows["6"]
    assert "4 lines have an error" in html
    assert "data-apply" not in html  # no Apply button
    # Applying anyway is refused and credits nothing.
    applied = client.post(org_url(organisation, f"batches/{batch_id}/apply/"), follow=True)
    assert "4 line(s) of this batch are wrong" in applied.content.decode()
    assert not SubsidyEntry.objects.exists()
    assert TopupBatch.objects.get(pk=batch_id).status == TopupBatch.Status.PREVIEWED


def test_a_good_batch_applied_twice_credits_once_and_prints_a_receipt(organisation, member, canteen_staff):
    second = member_of(organisation, number="E002", name="李四")
    client = client_for(canteen_staff)
    content = "工号,金额,备注\nE001,100,九月\nE002,50.5,九月加餐\n".encode("gb18030")  # Excel's GBK
    batch_id = batch_id_from(upload(client, organisation, content, name="九月.csv"))
    preview = client.get(org_url(organisation, f"batches/{batch_id}/")).content.decode()
    assert "data-apply" in preview and "150.50" in preview and "李四" in preview

    applied = client.post(org_url(organisation, f"batches/{batch_id}/apply/"), follow=True)
    html = applied.content.decode()
    assert f"Batch {batch_id} applied: 2 top-ups, 150.50 CNY in all." in html
    assert (balance(member), balance(second)) == (Decimal("100.00"), Decimal("50.50"))
    # The receipt: organisation, batch, file, fingerprint, who and when, every line, the total.
    batch = TopupBatch.objects.get(pk=batch_id)
    entries = {e.batch_line: e for e in SubsidyEntry.objects.filter(batch=batch)}
    assert "Top-up batch receipt" in html and organisation.name in html and f"#{batch_id}" in html
    assert "九月.csv" in html and hashlib.sha256(content).hexdigest() in html
    assert canteen_staff.get_short_name() in html
    assert f"{batch.applied_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" in html
    lines = dict(re.findall(r'data-line="(\d+)">(.*?)</tr>', html, re.S))
    assert "E001" in lines["2"] and "张三" in lines["2"] and "100.00" in lines["2"] and "九月" in lines["2"]
    assert "E002" in lines["3"] and "50.50" in lines["3"] and f"#{entries[3].pk}" in lines["3"]
    assert 'data-total>150.50<' in html

    again = client.post(org_url(organisation, f"batches/{batch_id}/apply/"), follow=True)
    assert f"Batch {batch_id} was applied already on" in again.content.decode()
    assert "nothing was credited again" in again.content.decode()
    # The same file uploaded again: its preview warns, and applying it credits nothing.
    twin_id = batch_id_from(upload(client, organisation, content, name="九月-copy.csv"))
    twin_page = client.get(org_url(organisation, f"batches/{twin_id}/")).content.decode()
    assert "This file was applied already" in twin_page and "data-apply" not in twin_page
    refused = client.post(org_url(organisation, f"batches/{twin_id}/apply/"), follow=True)
    assert "This file was applied already" in refused.content.decode()
    assert (balance(member), balance(second)) == (Decimal("100.00"), Decimal("50.50"))
    assert SubsidyEntry.objects.count() == 2
    # The recent batches list shows both.
    listing = client.get(org_url(organisation, "batches/")).content.decode()
    assert f"#{batch_id}" in listing and f"#{twin_id}" in listing and "九月-copy.csv" in listing


@pytest.mark.parametrize(("content", "message"), [
    (b"id,money\nE001,10\n", "The first line must name the columns: number, amount and (optional) note."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01", "The file is not text in UTF-8 or GBK: save it as CSV."),
    (b"\xff\xfe\xfd\x80\x81" * 20, "The file is not text in UTF-8 or GBK: save it as CSV."),
    (b"", "The file is empty."),
    (b"  \n\n", "The file is empty."),
    (b"number,amount\n", "The file has a header but no lines."),
    (b"number,amount\nE001,1\n" + b"x" * (3 * 1024 * 1024), "The file is too large: at most 2 MB."),
])
def test_a_malformed_file_is_a_clear_form_error(organisation, member, canteen_staff, content, message):
    response = upload(client_for(canteen_staff), organisation, content)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TopupBatch.objects.exists() and not SubsidyEntry.objects.exists()


def test_a_100_mb_file_is_refused_without_being_read(organisation, member, canteen_staff):
    content = b"number,amount\nE001,1\n" + b"E001,1\n" * (100 * 1024 * 1024 // 7)  # ~100 MB of valid-looking lines
    response = upload(client_for(canteen_staff), organisation, content)
    assert response.status_code == 400
    assert "The file is too large: at most 2 MB." in response.content.decode()
    assert not TopupBatch.objects.exists() and not SubsidyEntry.objects.exists()


def test_no_file_is_a_form_error(organisation, canteen_staff):
    response = client_for(canteen_staff).post(org_url(organisation, "batches/"), {})
    assert response.status_code == 400 and "Choose a CSV file to upload." in response.content.decode()


# --- settlement ---


def _at(year, month, day, hour=12):
    return datetime(year, month, day, hour, 0, tzinfo=SHANGHAI)


@pytest.fixture
def september(store, organisation, member, customer, canteen_staff, menu):
    """A month of an organisation, hand-counted (all amounts CNY):

    研发部: E001 (the customer) and E002; 市场部: M001. Monthly subsidy 300, expires at month end.
    - 1 Sep: what was left of the August grant expires (300 each), the September grant (300 each).
    - E001: top-up 50; order 1 (45.00) paid 20 subsidy + 25 gift card, then 5 of the subsidy and 10
      of the card refunded; order 2 (45.00) paid by gift card only.
    - E002: nothing more. M001: top-up 20; an order paid 20 subsidy + 25 gift card.
    - Not counted: a non-member's order at the store, E001's order at a store not serving the
      organisation, and October's top-up and order.
    """
    e002 = member_of(organisation, number="E002", name="李四", department="研发部")
    m_user = UserFactory(phone="13800000002", name="市场")
    m001 = member_of(organisation, number="M001", name="王五", department="市场部", user=m_user)
    monthly_grants_run(month=_at(2026, 8, 1).date(), now=_at(2026, 8, 1, 0))
    monthly_grants_run(month=_at(2026, 9, 1).date(), now=_at(2026, 9, 1, 0))
    elsewhere = StoreFactory(brand=store.brand, code="SH009")
    with time_machine.travel(_at(2026, 9, 15), tick=True):
        subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="50")
        subsidy_topup(actor=canteen_staff, member_id=m001.pk, amount="20")
        card = gift_card_for(customer, store.brand, "500.00")
        first = submit(customer, store, menu)
        sub_pay, card_pay = (r.payment for r in payment_split_create(
            actor=customer, order_id=first.pk, first_channel="meal_subsidy", first_amount="20",
            channel="gift_card", params={"gift_card": card.pk}))
        for payment, amount in ((sub_pay, "5.00"), (card_pay, "10.00")):
            with transaction.atomic():
                attempt = refund_attempt_create(payment=payment, amount=Decimal(amount), origin=RefundOrigin.STAFF,
                                                reason="test")
            refund_attempt_execute(attempt_id=attempt.pk)
        second = submit(customer, store, menu)
        payment_create(actor=customer, order_id=second.pk, channel="gift_card", params={"gift_card": card.pk})
        m_card = gift_card_for(m_user, store.brand, "100.00")
        m_order = submit(m_user, store, menu)
        payment_split_create(actor=m_user, order_id=m_order.pk, first_channel="meal_subsidy", first_amount="20",
                             channel="gift_card", params={"gift_card": m_card.pk})
        outsider = UserFactory(phone="13800000003")
        o_card = gift_card_for(outsider, store.brand, "100.00")
        o_order = submit(outsider, store, menu)
        payment_create(actor=outsider, order_id=o_order.pk, channel="gift_card", params={"gift_card": o_card.pk})
        away = submit(customer, elsewhere, menu)
        payment_create(actor=customer, order_id=away.pk, channel="gift_card", params={"gift_card": card.pk})
    with time_machine.travel(_at(2026, 10, 2), tick=True):
        subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="30")
        third = submit(customer, store, menu)
        payment_create(actor=customer, order_id=third.pk, channel="gift_card", params={"gift_card": card.pk})
    return {"e002": e002, "m001": m001}


def _csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_settlement_per_department_matches_the_hand_count(organisation, canteen_staff, september,
                                                              django_assert_max_num_queries):
    client = client_for(canteen_staff)
    with django_assert_max_num_queries(12):
        response = client.get(org_url(organisation, "settlement.csv"), {"month": "2026-09"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="settlement-{organisation.code}-2026-09.csv"' in response["Content-Disposition"]
    assert _csv_rows(response) == [
        ["Department", "Members", "Granted", "Topped up", "Used", "Expired", "Personal spend"],
        ["市场部", "1", "300.00", "20.00", "20.00", "300.00", "25.00"],
        ["研发部", "2", "600.00", "50.00", "15.00", "600.00", "60.00"],
    ]
    august = _csv_rows(client.get(org_url(organisation, "settlement.csv"), {"month": "2026-08"}))
    assert august[1:] == [["市场部", "1", "300.00", "0.00", "0.00", "0.00", "0.00"],
                          ["研发部", "2", "600.00", "0.00", "0.00", "0.00", "0.00"]]
    october = _csv_rows(client.get(org_url(organisation, "settlement.csv"), {"month": "2026-10"}))
    assert october[1:] == [["市场部", "1", "0.00", "0.00", "0.00", "0.00", "0.00"],
                           ["研发部", "2", "0.00", "30.00", "0.00", "0.00", "45.00"]]


def test_the_settlement_page_has_a_month_picker_and_totals(organisation, canteen_staff, september):
    client = client_for(canteen_staff)
    html = client.get(org_url(organisation, "settlement/"), {"month": "2026-09"}).content.decode()
    assert f'href="/canteen/staff/{organisation.pk}/settlement.csv?month=2026-09"' in html
    assert 'type="month"' in html
    totals = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert re.findall(r'class="num">([^<]+)<', totals) == ["3", "900.00", "70.00", "35.00", "900.00", "85.00"]
    default = client.get(org_url(organisation, "settlement/"))
    assert default.status_code == 200 and "settlement.csv?month=" in default.content.decode()


@pytest.mark.parametrize("month", ["", "2026-13", "2026-9", "abcd-ef", "1999-12", "2026-09-01"])
def test_a_bad_month_is_400_and_exports_nothing(organisation, canteen_staff, month):
    response = client_for(canteen_staff).get(org_url(organisation, "settlement.csv"), {"month": month})
    assert response.status_code == 400
    assert "month" in response.content.decode().lower()
    page = client_for(canteen_staff).get(org_url(organisation, "settlement/"), {"month": month})
    assert page.status_code == 400 and "Download the settlement" not in page.content.decode()


@pytest.mark.django_db(transaction=True)
def test_a_double_click_sent_at_the_same_instant_credits_once(member, canteen_staff):
    from tests.concurrency import run_together

    client = client_for(canteen_staff)
    token = form_token(client.get(member_url(member)).content.decode())

    def click():
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        browser.cookies = client.cookies  # the same browser session, several requests at once
        return browser.post(member_url(member), {"amount": "50", "token": token}).status_code

    results = run_together([click for _i in range(4)])
    assert results == [("ok", 302)] * 4
    assert SubsidyEntry.objects.filter(wallet_id=member.pk).count() == 1
    assert balance(member) == Decimal("50.00") == ledger_sum(member)
