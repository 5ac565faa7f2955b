from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from audit.services import audit_record
from tests.accounts.factories import StaffFactory, UserFactory
from tests.stores.factories import StaffAssignmentFactory

BACKEND = "accounts.backends.RoleModelBackend"
CHANGELIST = reverse("admin:audit_auditevent_changelist")


@pytest.fixture
def events(brand, other_brand):
    mine = audit_record(action="refund.approved", brand_id=brand.pk, amount=Decimal("12.50"),
                        data={"note": "acme-event"})
    theirs = audit_record(action="refund.rejected", brand_id=other_brand.pk, amount=Decimal("99.00"))
    global_event = audit_record(action="system.report_generated")
    return mine, theirs, global_event


@pytest.fixture
def superuser(db):
    return UserFactory(phone="13600000001", is_staff=True, is_superuser=True, role=Role.HQ_MANAGER)


def _ids_on_changelist(response):
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.mark.django_db
def test_superuser_sees_every_event_read_only(client, superuser, events):
    mine, theirs, global_event = events
    client.force_login(superuser, backend=BACKEND)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert _ids_on_changelist(response) == {mine.pk, theirs.pk, global_event.pk}
    content = response.content.decode()
    assert f"{mine.chain}#{mine.seq}" in content
    assert "delete_selected" not in content
    assert "refund.approved" in content

    change_url = reverse("admin:audit_auditevent_change", args=[mine.pk])
    detail = client.get(change_url)
    assert detail.status_code == 200
    html = detail.content.decode()
    assert mine.hash in html and mine.prev_hash in html and "acme-event" in html
    assert 'name="_save"' not in html  # view only, no form to submit
    assert 'name="action"' not in html and 'name="amount"' not in html

    assert client.post(change_url, {"action": "forged", "amount": "0.01"}).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert client.get(reverse("admin:audit_auditevent_delete", args=[mine.pk])).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[mine.pk]), {"post": "yes"}).status_code == 403
    assert client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [mine.pk]}).status_code != 500
    assert AuditEvent.objects.filter(pk=mine.pk, action="refund.approved", amount=Decimal("12.50")).exists()
    assert AuditEvent.objects.count() == 3


@pytest.mark.django_db
def test_filters_search_and_date_hierarchy_work(client, superuser, events):
    mine, theirs, _global = events
    client.force_login(superuser, backend=BACKEND)
    assert _ids_on_changelist(client.get(CHANGELIST, {"action": "refund.rejected"})) == {theirs.pk}
    assert _ids_on_changelist(client.get(CHANGELIST, {"q": "refund.approved"})) == {mine.pk}
    assert _ids_on_changelist(client.get(CHANGELIST, {"actor_type__exact": "system"})) == {e.pk for e in events}
    year = mine.created_at.year
    assert client.get(CHANGELIST, {"created_at__year": year}).status_code == 200


@pytest.mark.django_db
def test_hq_manager_sees_only_their_brands_events(client, hq_manager, events):
    mine, theirs, global_event = events
    client.force_login(hq_manager, backend=BACKEND)

    response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert _ids_on_changelist(response) == {mine.pk}
    assert "refund.rejected" not in response.content.decode()  # not even as a filter choice

    assert client.get(reverse("admin:audit_auditevent_change", args=[mine.pk])).status_code == 200
    for hidden in (theirs, global_event):
        response = client.get(reverse("admin:audit_auditevent_change", args=[hidden.pk]))
        assert response.status_code == 302  # "does not exist", back to the admin index
        assert hidden.hash not in response.content.decode()
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403


@pytest.mark.django_db
def test_staff_without_the_audit_permission_get_403(client, store, events):
    store_manager = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    StaffAssignmentFactory(user=store_manager, brand=store.brand, stores=[store])
    client.force_login(store_manager, backend=BACKEND)
    assert client.get(CHANGELIST).status_code == 403
