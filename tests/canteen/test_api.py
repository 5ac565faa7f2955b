"""The canteen API: a top-up per Idempotency-Key (201, replay 200, another body 409), who may call
it (403 / 404), bad input (400), and CSV batches checked then applied all or nothing, once."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from canteen.models import SubsidyEntry, SubsidyWallet, TopupBatch
from canteen.selectors import ledger_sum
from tests.canteen.factories import canteen_staff_of, member_of, organisation_for

pytestmark = pytest.mark.django_db

TOPUPS = "/api/v1/canteen/topups/"
BATCHES = "/api/v1/canteen/batches/"


def api_for(user=None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_authenticate(user)
    return client


def topup(client, body, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(TOPUPS, body, format="json", **headers)


def balance(member) -> Decimal:
    return SubsidyWallet.objects.get(pk=member.pk).balance


def test_a_top_up_is_created_once_per_key(member, canteen_staff):
    client = api_for(canteen_staff)
    created = topup(client, {"member": member.pk, "amount": "50.00", "note": "九月"})
    assert created.status_code == 201
    body = created.json()
    entry = SubsidyEntry.objects.get()
    assert body == {
        "entry": entry.pk, "member": member.pk, "member_number": "E001", "member_name": "张三",
        "organisation": member.organisation_id, "amount": "50.00", "balance_after": "50.00", "note": "九月",
        "created_at": body["created_at"],
    }
    again = topup(client, {"member": member.pk, "amount": "50", "note": "九月"})
    assert again.status_code == 200 and again.json()["entry"] == entry.pk
    assert balance(member) == Decimal("50.00") == ledger_sum(member)
    assert SubsidyEntry.objects.count() == 1


@pytest.mark.parametrize("changed", [{"amount": "60.00"}, {"note": "十月"}, {"member": "E002"}])
def test_the_same_key_with_another_body_is_409(organisation, member, canteen_staff, changed):
    member_of(organisation, number="E002", name="李四")
    client = api_for(canteen_staff)
    assert topup(client, {"member": member.pk, "amount": "50.00", "note": "九月"}).status_code == 201
    response = topup(client, {"member": member.pk, "amount": "50.00", "note": "九月", **changed})
    assert response.status_code == 409
    assert response.json() == {"code": "idempotency_conflict",
                               "detail": "This request key was already used for another top-up."}
    assert SubsidyEntry.objects.count() == 1 and balance(member) == Decimal("50.00")


def test_a_member_by_number_and_a_number_in_two_organisations(store, organisation, member, hq_manager):
    other = organisation_for(store, code="campus")
    twin = member_of(other, number="E001", name="同号")
    client = api_for(hq_manager)  # manages both organisations of the brand
    ambiguous = topup(client, {"member": "E001", "amount": "10"}, key="a")
    assert ambiguous.status_code == 400 and ambiguous.json()["code"] == "ambiguous_member"
    chosen = topup(client, {"member": "E001", "organisation": other.pk, "amount": "10"}, key="b")
    assert chosen.status_code == 201 and chosen.json()["member"] == twin.pk
    assert balance(twin) == Decimal("10.00") and balance(member) == Decimal("0.00")


def test_the_idempotency_key_is_required_and_checked(member, canteen_staff):
    client = api_for(canteen_staff)
    missing = topup(client, {"member": member.pk, "amount": "10"}, key=None)
    assert missing.status_code == 400 and missing.json()["code"] == "idempotency_key_required"
    too_long = topup(client, {"member": member.pk, "amount": "10"}, key="k" * 101)
    assert too_long.status_code == 400 and too_long.json()["code"] == "idempotency_key_invalid"
    assert not SubsidyEntry.objects.exists()


@pytest.mark.parametrize(("amount", "code"), [
    ("0", "invalid_amount"), ("-5", "invalid_amount"), ("abc", "invalid_amount"), ("1.005", "invalid_amount"),
    ("5000.01", "invalid_amount"), ("NaN", "invalid_amount"), ("Infinity", "invalid_amount"),
    (True, "invalid"), (None, "null"), ("9" * 21, "max_length"),
])
def test_a_bad_amount_is_400(member, canteen_staff, amount, code):
    response = topup(api_for(canteen_staff), {"member": member.pk, "amount": amount})
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail"}
    assert body["code"] == code if code == "invalid_amount" else "amount" in body["detail"]
    assert not SubsidyEntry.objects.exists()


@pytest.mark.parametrize("ref", [True, 0, -1, 2**63, "", "x" * 33, [1], {"id": 1}])
def test_a_malformed_member_is_400(member, canteen_staff, ref):
    response = topup(api_for(canteen_staff), {"member": ref, "amount": "10"})
    assert response.status_code == 400 and "member" in response.json()["detail"]
    assert not SubsidyEntry.objects.exists()


def test_another_organisations_member_is_404_and_non_staff_403(store, member, canteen_staff, customer,
                                                               store_manager):
    other = organisation_for(store, code="other-org")
    stranger = member_of(other, number="X1")
    for ref in (stranger.pk, "X1", 999999):
        response = topup(api_for(canteen_staff), {"member": ref, "amount": "10"}, key=f"k{ref}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    for user in (customer, store_manager):
        response = topup(api_for(user), {"member": member.pk, "amount": "10"})
        assert response.status_code == 403 and response.json()["code"] == "not_yours"
    assert topup(api_for(), {"member": member.pk, "amount": "10"}).status_code in (401, 403)
    assert not SubsidyEntry.objects.exists()


def test_an_inactive_member_is_409(member, canteen_staff):
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = topup(api_for(canteen_staff), {"member": member.pk, "amount": "10"})
    assert response.status_code == 409 and response.json()["code"] == "member_inactive"


# --- batches ---


def upload(client, organisation_id, content: bytes, name="batch.csv"):
    return client.post(BATCHES, {"organisation": organisation_id,
                                 "file": SimpleUploadedFile(name, content, content_type="text/csv")},
                       format="multipart")


def test_a_batch_is_checked_then_applied_once(organisation, member, canteen_staff):
    second = member_of(organisation, number="E002", name="李四")
    client = api_for(canteen_staff)
    content = "number,amount,note\nE001,100,九月\nE002,50.50,\n".encode()
    preview = upload(client, organisation.pk, content)
    assert preview.status_code == 201
    body = preview.json()
    batch = TopupBatch.objects.get()
    assert body["batch"] == batch.pk and body["status"] == "previewed"
    assert body["total"] == "150.50" and body["error_count"] == 0 and body["errors"] == []
    assert body["sha256"] == hashlib.sha256(content).hexdigest() and body["line_count"] == 2
    assert [(r["line"], r["number"], r["amount"], r["member_id"], r["error"]) for r in body["rows"]] == [
        (2, "E001", "100.00", member.pk, ""), (3, "E002", "50.50", second.pk, "")]
    assert not SubsidyEntry.objects.exists()  # nothing credited by a preview

    applied = client.post(f"{BATCHES}{batch.pk}/apply/")
    assert applied.status_code == 200
    assert applied.json()["status"] == "applied" and applied.json()["applied_now"] is True
    assert applied.json()["applied_by"] == canteen_staff.pk
    again = client.post(f"{BATCHES}{batch.pk}/apply/")
    assert again.status_code == 200 and again.json()["applied_now"] is False
    twin = upload(client, organisation.pk, content).json()["batch"]
    refused = client.post(f"{BATCHES}{twin}/apply/")
    assert refused.status_code == 409 and refused.json()["code"] == "batch_applied_already"
    assert (balance(member), balance(second)) == (Decimal("100.00"), Decimal("50.50"))
    assert SubsidyEntry.objects.count() == 2


def test_a_batch_with_errors_reports_them_and_is_refused_whole(organisation, member, canteen_staff):
    client = api_for(canteen_staff)
    body = upload(client, organisation.pk, b"number,amount\nE001,10\nE404,5\nE001,abc\n").json()
    assert body["error_count"] == 2 and body["total"] == "10.00"
    assert [e["line"] for e in body["errors"]] == [3, 4]
    assert "No member with this number" in body["errors"][0]["error"]
    response = client.post(f"{BATCHES}{body['batch']}/apply/")
    assert response.status_code == 409 and response.json()["code"] == "batch_has_errors"
    assert not SubsidyEntry.objects.exists()


@pytest.mark.parametrize(("content", "code"), [
    (b"id,money\nE001,10\n", "invalid_columns"),
    (b"\x00\x01\x02\xff\xfe binary", "invalid_file"),
    (b"", "empty_file"),
    (b"number,amount\nE001,1\n" + b"x" * (3 * 1024 * 1024), "file_too_large"),
])
def test_a_malformed_batch_file_is_400(organisation, canteen_staff, content, code):
    response = upload(api_for(canteen_staff), organisation.pk, content)
    assert response.status_code == 400 and response.json()["code"] == code
    assert not TopupBatch.objects.exists()


def test_batches_of_another_organisation_are_404_and_non_staff_403(store, organisation, member, canteen_staff,
                                                                   customer):
    other = organisation_for(store, code="other-org")
    other_staff = canteen_staff_of(store, phone="13700000079")
    other.staff.add(other_staff)
    member_of(other, number="X1")
    mine = api_for(canteen_staff)
    response = upload(mine, other.pk, b"number,amount\nX1,10\n")
    assert response.status_code == 404 and not TopupBatch.objects.exists()
    theirs = upload(api_for(other_staff), other.pk, b"number,amount\nX1,10\n").json()["batch"]
    assert mine.post(f"{BATCHES}{theirs}/apply/").status_code == 404
    assert upload(api_for(customer), organisation.pk, b"number,amount\nE001,10\n").status_code == 403
    assert api_for(customer).post(f"{BATCHES}{theirs}/apply/").status_code == 403
    missing = mine.post(BATCHES, {"organisation": organisation.pk}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()["detail"]
    assert not SubsidyEntry.objects.exists()
    assert TopupBatch.objects.get(pk=theirs).status == TopupBatch.Status.PREVIEWED


def test_the_schema_documents_the_canteen_endpoints(client):
    schema = client.get("/api/schema/").content.decode()
    for operation in ("canteen_topups_create", "canteen_batches_create", "canteen_batches_apply"):
        assert operation in schema


@pytest.mark.django_db(transaction=True)
def test_the_same_key_at_the_same_instant_credits_once(member, canteen_staff):
    from tests.concurrency import run_together

    def call():
        return topup(api_for(canteen_staff), {"member": member.pk, "amount": "25.00"}, key="same").status_code

    results = run_together([call for _i in range(5)])
    assert sorted(code for _ok, code in results) == [200, 200, 200, 200, 201]
    assert SubsidyEntry.objects.count() == 1 and balance(member) == Decimal("25.00")
