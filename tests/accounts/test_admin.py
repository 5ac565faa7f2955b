import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import override_settings

from accounts import services, sms
from accounts.models import Role, SmsCode, User
from audit.models import AuditEvent
from tests.accounts.factories import StaffFactory, UserFactory
from tests.accounts.helpers import code_from_outbox

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(phone="13600000000", password=PASSWORD, name="管理员")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


# --- staff password login and lockout (django-axes) ----------------------------------------


def admin_login(client, phone, password, ip="10.0.0.1", **extra):
    return client.post(
        ADMIN_LOGIN, {"username": phone, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip, **extra
    )


def test_staff_logs_in_to_the_admin_with_a_password(client):
    staff = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    response = admin_login(client, staff.phone, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.session[SESSION_KEY] == str(staff.pk)


def test_staff_is_locked_out_after_five_wrong_passwords(client):
    staff = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    for _ in range(4):
        response = admin_login(client, staff.phone, "wrong password")
        assert response.status_code == 200  # the login form with its error
    response = admin_login(client, staff.phone, "wrong password")
    assert response.status_code == 429

    response = admin_login(client, staff.phone, PASSWORD)

    assert response.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "5" in html
    assert "30" in html  # AXES_COOLOFF_TIME in minutes
    assert SESSION_KEY not in client.session
    # Another IP is not locked (lockout is per phone and IP).
    response = admin_login(client, staff.phone, PASSWORD, ip="10.0.0.2")
    assert response.status_code == 302


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_the_lockout_is_per_forwarded_client(client):
    """Someone failing from one address cannot lock the staff member out everywhere."""
    staff = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    for _ in range(5):
        admin_login(client, staff.phone, "wrong password", ip="10.0.0.254", HTTP_X_FORWARDED_FOR="1.1.1.1")
    response = admin_login(client, staff.phone, PASSWORD, ip="10.0.0.254", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"1.1.1.1"}

    # Same proxy (REMOTE_ADDR), another client: not locked.
    response = admin_login(client, staff.phone, PASSWORD, ip="10.0.0.254", HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(staff.pk)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_a_proxy_a_forged_forwarded_for_does_not_change_the_lockout_key(client):
    staff = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    for i in range(5):
        admin_login(client, staff.phone, "wrong password", HTTP_X_FORWARDED_FOR=f"1.1.1.{i}")
    response = admin_login(client, staff.phone, PASSWORD, HTTP_X_FORWARDED_FOR="2.2.2.2")
    assert response.status_code == 429
    assert SESSION_KEY not in client.session
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"10.0.0.1"}


@pytest.mark.usefixtures("english")
def test_a_frozen_staff_member_is_refused_at_password_login_with_a_clear_message(client):
    staff = StaffFactory(phone="13700000001", role=Role.HQ_MANAGER)
    services.user_freeze(user=staff, reason="left the company")

    response = admin_login(client, staff.phone, PASSWORD)

    assert response.status_code == 200
    assert SESSION_KEY not in client.session
    assert "该账号已被冻结" in response.content.decode()  # Chinese by default
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = admin_login(client, staff.phone, PASSWORD)
    assert "This account is frozen and cannot log in." in response.content.decode()
    # A wrong password still gets the ordinary answer: the freeze is told only to the owner.
    response = admin_login(client, staff.phone, "wrong password")
    assert "frozen" not in response.content.decode()

    services.user_unfreeze(user=staff)
    assert admin_login(client, staff.phone, PASSWORD).status_code == 302
    assert client.session[SESSION_KEY] == str(staff.pk)


def test_customer_sms_login_is_unaffected_by_a_staff_lockout(client, django_capture_on_commit_callbacks):
    staff = StaffFactory(phone="13700000001")
    for _ in range(6):
        admin_login(client, staff.phone, "wrong password")

    phone = "13800000001"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/accounts/login/", {"phone": phone, "action": "send"}, REMOTE_ADDR="10.0.0.1")
    response = client.post(
        "/accounts/login/", {"phone": phone, "code": code_from_outbox(phone)}, REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(User.objects.get(phone=phone).pk)


def test_customers_cannot_use_the_admin(client, customer):
    response = admin_login(client, customer.phone, PASSWORD)
    assert response.status_code == 200
    assert SESSION_KEY not in client.session


# --- the user admin ------------------------------------------------------------------------


def test_user_changelist_search_and_filters(admin_client, customer):
    StaffFactory(phone="13700000003", name="厨师长", role=Role.KITCHEN_STAFF)
    response = admin_client.get("/admin/accounts/user/", {"q": "厨师长"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list.values_list("phone", flat=True)) == ["13700000003"]

    response = admin_client.get("/admin/accounts/user/", {"role__exact": "customer"})
    assert list(response.context["cl"].result_list) == [customer]


def test_admin_adds_a_staff_member_with_a_password(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "phone": "+86 136 0000 0009",
            "name": "新店长",
            "role": Role.STORE_MANAGER,
            "is_staff": "on",
            "usable_password": "true",
            "password1": "Ste4k-and-Chips!",
            "password2": "Ste4k-and-Chips!",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(phone="13600000009")
    assert user.is_staff
    assert user.role == Role.STORE_MANAGER
    assert user.check_password("Ste4k-and-Chips!")


def test_admin_add_refuses_a_malformed_phone(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {"phone": "12345", "role": Role.CUSTOMER, "usable_password": "false"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"]
    assert not User.objects.filter(phone="12345").exists()


def test_change_page_shows_frozen_fields_read_only(admin_client, customer):
    response = admin_client.get(f"/admin/accounts/user/{customer.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "frozen_at" not in form.fields
    assert "is_frozen" not in form.fields
    assert "role" in form.fields


def test_freeze_and_unfreeze_actions_call_the_services(admin_client, superuser, customer):
    other = UserFactory(phone="13800000002")
    url = "/admin/accounts/user/"

    response = admin_client.post(
        url, {"action": "freeze_users", "_selected_action": [customer.pk, other.pk], "reason": "refund abuse"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.is_frozen
    assert customer.frozen_reason == "refund abuse"
    events = AuditEvent.objects.filter(action="account.frozen")
    assert events.count() == 2
    assert set(events.values_list("actor_id", flat=True)) == {superuser.pk}

    admin_client.post(url, {"action": "unfreeze_users", "_selected_action": [customer.pk], "reason": "appeal"})
    customer.refresh_from_db()
    assert not customer.is_frozen
    assert AuditEvent.objects.get(action="account.unfrozen").reason == "appeal"


def test_freeze_action_without_a_reason_changes_nothing(admin_client, customer):
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "freeze_users", "_selected_action": [customer.pk], "reason": ""},
        follow=True,
        headers={"accept-language": "en"},
    )
    assert any("reason" in str(m) for m in response.context["messages"])
    customer.refresh_from_db()
    assert not customer.is_frozen
    assert not AuditEvent.objects.exists()


def test_sms_code_admin_is_read_only_and_hides_the_hash(admin_client, send_code):
    send_code("13800000001")
    row = SmsCode.objects.get()
    response = admin_client.get(f"/admin/accounts/smscode/{row.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert row.code_hash not in html
    assert "138****0001" in html
    assert "13800000001" not in html  # the detail page masks the phone like the list does
    assert "138****0001" in admin_client.get("/admin/accounts/smscode/").content.decode()
    assert admin_client.get("/admin/accounts/smscode/add/").status_code == 403
    assert admin_client.post(f"/admin/accounts/smscode/{row.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SmsCode.objects.count() == 1
    assert len(sms.outbox) == 1


def test_hq_manager_cannot_manage_users(client, hq_manager):
    client.force_login(hq_manager)
    assert client.get("/admin/accounts/user/").status_code == 403
