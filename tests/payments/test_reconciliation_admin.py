"""Reconciliation in the admin: the per-day summary, "Reconcile a date", the mismatch queue."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from payments.models import MismatchKind, ReconciliationMismatch, ReconciliationRun, ReconciliationStatus
from payments.services import reconcile_day
from payments.services.reconciliation import provider_today
from tests.accounts.factories import UserFactory
from tests.ordering.factories import Menu
from tests.payments.reconciliation_world import CHANNEL, at, captured, installed, past_day, tea_order
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
RUNS = "admin:payments_reconciliationrun_changelist"
MISMATCHES = "admin:payments_reconciliationmismatch_changelist"
RECONCILE = "admin:payments_reconciliationrun_reconcile"
STRANGER = "f" * 32


@pytest.fixture
def provider():
    yield from installed()


@pytest.fixture
def day():
    return past_day()


@pytest.fixture
def superuser(db):
    return UserFactory(phone="13900000009", is_staff=True, is_superuser=True)


@pytest.fixture
def world(provider, customer, store, menu, day, other_brand):
    """One day with: a matched payment, ours missing there (acme), another amount (acme, explained
    by nothing), a rival brand's payment missing there, and a capture nobody can attribute."""
    rival_store = StoreFactory(brand=other_brand, code="RV001")
    rival_menu = Menu(rival_store)
    captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 9))
    lost = captured(provider, customer, tea_order(customer, store, menu, 2), when=at(day, 10))
    provider.trades[lost.out_trade_no]["status"] = "closed"
    other = captured(provider, customer, tea_order(customer, store, menu, 3), when=at(day, 11))
    provider.trades[other.out_trade_no]["amount"] = Decimal("14.00")
    rival = captured(provider, customer, tea_order(customer, rival_store, rival_menu, 4), when=at(day, 12))
    provider.trades[rival.out_trade_no]["status"] = "closed"
    provider.trades[STRANGER] = {"status": "succeeded", "amount": Decimal("88.00"), "paid_at": at(day, 13)}
    run = reconcile_day(channel=CHANNEL, day=day)
    return {"run": run, "lost": lost, "other": other, "rival": rival,
            "rows": {m.reference: m for m in run.mismatches.all()}}


def _shown(response):
    return [row.pk for row in response.context["cl"].result_list]


def _rival_hq(other_brand):
    return make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000077")


# --- who may come in ---------------------------------------------------------------------------------------


def test_store_managers_and_kitchen_staff_have_no_access(client, store, store_manager, world):
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13700000088")
    mismatch = world["rows"][world["lost"].out_trade_no]
    urls = [reverse(RUNS), reverse(MISMATCHES), reverse(RECONCILE),
            reverse("admin:payments_reconciliationrun_change", args=[world["run"].pk]),
            reverse("admin:payments_reconciliationmismatch_change", args=[mismatch.pk]),
            reverse("admin:payments_reconciliationmismatch_resolve", args=[mismatch.pk])]
    for user in (store_manager, kitchen):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code in (403, 404), url
        assert client.post(reverse(RECONCILE), {"channel": CHANNEL, "day": "2026-01-01"}).status_code == 403
    assert ReconciliationRun.objects.count() == 1


# --- the summary --------------------------------------------------------------------------------------------


def test_hq_sees_the_summary_with_their_brands_counts_only(client, hq_manager, world, day,
                                                           django_assert_max_num_queries):
    client.force_login(hq_manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse(RUNS), **EN)
    assert response.status_code == 200
    assert _shown(response) == [world["run"].pk]
    row = response.context["cl"].result_list[0]
    # acme: ours missing there + another amount; not the rival's, not the unattributed capture.
    assert (row.shown_mismatches, row.shown_unexplained, row.shown_open, row.shown_status) == (
        2, 2, 2, ReconciliationStatus.MISMATCHES)
    page = response.content.decode()
    assert "Reconcile a date" in page
    assert "captured (provider)" not in page.lower()  # merchant-wide totals: superusers only
    detail = client.get(reverse("admin:payments_reconciliationrun_change", args=[world["run"].pk]), **EN)
    assert detail.status_code == 200
    text = detail.content.decode()
    assert world["lost"].out_trade_no in text and world["other"].out_trade_no in text
    assert world["rival"].out_trade_no not in text and STRANGER not in text


def test_an_hq_whose_brand_agreed_sees_the_day_matched(client, other_brand, world):
    """The rival brand has one mismatch; a third brand's HQ would see none."""
    from tests.stores.factories import BrandFactory

    third = BrandFactory(code="third", name="第三")
    client.force_login(make_staff(role=Role.HQ_MANAGER, brand=third, phone="13700000066"))
    response = client.get(reverse(RUNS), **EN)
    row = response.context["cl"].result_list[0]
    assert (row.shown_mismatches, row.shown_status) == (0, ReconciliationStatus.MATCHED)
    assert response.context["cl"].model_admin.result(row) == "All matched"


def test_superuser_sees_totals_and_every_row(client, superuser, world, day):
    client.force_login(superuser)
    response = client.get(reverse(RUNS), **EN)
    row = response.context["cl"].result_list[0]
    assert (row.shown_mismatches, row.shown_unexplained) == (4, 4)
    page = response.content.decode()
    assert "captured (provider)" in page.lower()
    run = world["run"]
    # 5 + 10 + 15 + 20 here; 5 + 14 + 88 there.
    assert (run.captures_ours, run.captures_theirs) == (Decimal("50.00"), Decimal("107.00"))
    assert "107.00" in page and "50.00" in page
    detail = client.get(reverse("admin:payments_reconciliationrun_change", args=[run.pk]), **EN).content.decode()
    assert STRANGER in detail and world["rival"].out_trade_no in detail


def test_the_summary_shows_the_latest_run_of_each_day_and_the_history_on_demand(client, superuser, world, day):
    again = reconcile_day(channel=CHANNEL, day=day)
    client.force_login(superuser)
    assert _shown(client.get(reverse(RUNS))) == [again.pk]
    assert set(_shown(client.get(reverse(RUNS) + "?runs=all"))) == {again.pk, world["run"].pk}
    # The queue too lists the latest run's mismatches by default.
    assert set(ReconciliationMismatch.objects.filter(pk__in=_shown(client.get(reverse(MISMATCHES))))
               .values_list("run_id", flat=True)) == {again.pk}
    assert len(_shown(client.get(reverse(MISMATCHES) + "?runs=all"))) == 8


# --- reconcile a date -----------------------------------------------------------------------------------------


def test_reconcile_a_date_runs_the_day_and_reports(client, hq_manager, provider, day, world):
    client.force_login(hq_manager)
    page = client.get(reverse(RECONCILE), **EN)
    assert page.status_code == 200 and f'value="{CHANNEL}"' in page.content.decode()
    assert 'value="gift_card"' not in page.content.decode()  # not a reconciled channel
    response = client.post(reverse(RECONCILE), {"channel": CHANNEL, "day": day.isoformat()}, follow=True, **EN)
    run = ReconciliationRun.objects.latest("pk")
    assert run.pk != world["run"].pk and run.started_by == hq_manager
    assert response.redirect_chain[-1][0] == reverse("admin:payments_reconciliationrun_change", args=[run.pk])
    assert f"ReconPay, {day.isoformat()}: 2 mismatch(es), 2 of them unexplained." in response.content.decode()


def test_reconcile_a_date_refuses_a_future_date_and_bad_input(client, hq_manager, provider):
    client.force_login(hq_manager)
    tomorrow = (provider_today() + timedelta(days=1)).isoformat()
    cases = [
        ({"channel": CHANNEL, "day": tomorrow}, "day", "A day in the future has no statement yet."),
        ({"channel": CHANNEL, "day": "2026-02-30"}, "day", "Enter a valid date."),
        ({"channel": CHANNEL, "day": ""}, "day", "This field is required."),
        ({"channel": "gift_card", "day": "2026-01-05"}, "channel", "Select a valid choice."),
        ({"channel": "nope", "day": "2026-01-05"}, "channel", "Select a valid choice."),
    ]
    for data, field, message in cases:
        response = client.post(reverse(RECONCILE), data, **EN)
        assert response.status_code == 200
        assert any(message in error for error in response.context["form"].errors[field]), (data, field)
    assert not ReconciliationRun.objects.exists()
    assert provider.statement_calls == []


def test_reconcile_a_date_reports_a_statement_error(client, superuser, provider, day):
    provider.down = True
    client.force_login(superuser)
    response = client.post(reverse(RECONCILE), {"channel": CHANNEL, "day": day.isoformat()}, follow=True, **EN)
    assert "the statement could not be fetched (provider down)" in response.content.decode()
    assert ReconciliationRun.objects.get().status == ReconciliationStatus.ERROR


# --- the mismatch queue and resolving ----------------------------------------------------------------------------


def test_the_queue_shows_the_brands_mismatches_unexplained_first(client, hq_manager, provider, customer, store,
                                                                 menu, world, day, django_assert_max_num_queries):
    # A midnight payment gives an explained row on the next day.
    provider.report_paid_at = False
    late = captured(provider, customer, tea_order(customer, store, menu, 1), when=at(day, 23, 59, 55),
                    recorded=at(day + timedelta(days=1), 0, 0, 30))
    explained_run = reconcile_day(channel=CHANNEL, day=day + timedelta(days=1))
    explained = explained_run.mismatches.get()
    assert explained.payment_id == late.pk and explained.explanation
    rows = world["rows"]
    client.force_login(hq_manager)
    with django_assert_max_num_queries(12):
        response = client.get(reverse(MISMATCHES), **EN)
    shown = _shown(response)
    assert set(shown[:2]) == {rows[world["lost"].out_trade_no].pk, rows[world["other"].out_trade_no].pk}
    assert shown[2:] == [explained.pk]
    assert rows[STRANGER].pk not in shown and rows[world["rival"].out_trade_no].pk not in shown
    # Filters: kind, explained, resolved, channel.
    assert _shown(client.get(reverse(MISMATCHES) + f"?kind={MismatchKind.AMOUNT_DIFFERS}")) == [
        rows[world["other"].out_trade_no].pk]
    assert _shown(client.get(reverse(MISMATCHES) + "?explained=yes")) == [explained.pk]
    assert _shown(client.get(reverse(MISMATCHES) + "?resolved__exact=1")) == []
    assert len(_shown(client.get(reverse(MISMATCHES) + f"?channel={CHANNEL}"))) == 3
    # Another brand's row is not reachable by its address either.
    rival = rows[world["rival"].out_trade_no]
    assert client.get(reverse("admin:payments_reconciliationmismatch_change", args=[rival.pk])).status_code in (
        302, 403, 404)
    assert client.get(reverse("admin:payments_reconciliationmismatch_resolve", args=[rival.pk])).status_code == 404


def test_resolve_page_needs_a_note_and_works_once(client, hq_manager, world):
    mismatch = world["rows"][world["other"].out_trade_no]
    url = reverse("admin:payments_reconciliationmismatch_resolve", args=[mismatch.pk])
    client.force_login(hq_manager)
    change = client.get(reverse("admin:payments_reconciliationmismatch_change", args=[mismatch.pk]), **EN)
    assert change.status_code == 200 and url in change.content.decode()
    assert client.get(url, **EN).status_code == 200
    response = client.post(url, {"note": ""}, **EN)
    assert response.status_code == 200 and response.context["form"].errors["note"] == ["This field is required."]
    response = client.post(url, {"note": "x" * 501}, **EN)
    assert response.status_code == 200 and "note" in response.context["form"].errors
    mismatch.refresh_from_db()
    assert not mismatch.resolved

    response = client.post(url, {"note": "The customer paid 14.00; agreed with the store."}, follow=True, **EN)
    assert f"Mismatch {mismatch.reference} resolved." in response.content.decode()
    mismatch.refresh_from_db()
    assert (mismatch.resolved, mismatch.resolved_by, mismatch.resolution_note) == (
        True, hq_manager, "The customer paid 14.00; agreed with the store.")
    again = client.post(url, {"note": "again"}, **EN)
    assert again.context["form"].errors["note"] == ["This mismatch has been resolved already."]
    change = client.get(reverse("admin:payments_reconciliationmismatch_change", args=[mismatch.pk]), **EN)
    assert url not in change.content.decode()  # no "Resolve" button any more


def test_unattributed_rows_are_for_superusers_only(client, hq_manager, superuser, world):
    nobodys = world["rows"][STRANGER]
    url = reverse("admin:payments_reconciliationmismatch_resolve", args=[nobodys.pk])
    client.force_login(hq_manager)
    assert client.post(url, {"note": "mine"}).status_code == 404
    client.force_login(superuser)
    client.post(url, {"note": "provider booked someone else's trade"})
    nobodys.refresh_from_db()
    assert nobodys.resolved and nobodys.resolved_by == superuser


def test_resolve_several_at_once_with_one_note(client, hq_manager, world, other_brand):
    rows = world["rows"]
    mine = [rows[world["lost"].out_trade_no].pk, rows[world["other"].out_trade_no].pk]
    rival = rows[world["rival"].out_trade_no].pk
    client.force_login(hq_manager)
    ask = client.post(reverse(MISMATCHES), {"action": "resolve_selected", "_selected_action": mine}, **EN)
    assert ask.status_code == 200 and "Resolve 2 mismatches" in ask.content.decode()
    missing_note = client.post(reverse(MISMATCHES), {"action": "resolve_selected", "_selected_action": mine,
                                                     "apply": "yes", "note": ""}, **EN)
    assert missing_note.context["form"].errors["note"] == ["This field is required."]
    assert not ReconciliationMismatch.objects.filter(resolved=True).exists()
    done = client.post(reverse(MISMATCHES), {"action": "resolve_selected", "_selected_action": [*mine, rival],
                                             "apply": "yes", "note": "checked with finance"}, follow=True, **EN)
    assert "2 mismatches resolved." in done.content.decode()
    assert set(ReconciliationMismatch.objects.filter(resolved=True).values_list("pk", flat=True)) == set(mine)
    # The rival brand's HQ resolves their own.
    client.force_login(_rival_hq(other_brand))
    client.post(reverse(MISMATCHES), {"action": "resolve_selected", "_selected_action": [rival], "apply": "yes",
                                      "note": "ours"})
    assert ReconciliationMismatch.objects.get(pk=rival).resolved
