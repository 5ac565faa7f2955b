import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.admin.models import LogEntry
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


STRONG = "Ste4k-and-Chips!"


def add_user(client, **fields):
    return client.post("/admin/accounts/user/add/", fields)


def change_user(client, user, **fields):
    """Post the change form with the user's current values, overridden by ``fields``."""
    data = {"phone": user.phone, "name": user.name, "role": user.role}
    data.update({flag: "on" for flag in ("is_active", "is_superuser") if getattr(user, flag)})
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(f"/admin/accounts/user/{user.pk}/change/", data)


def test_admin_adds_a_staff_member_through_the_service(admin_client, superuser):
    response = add_user(
        admin_client,
        phone="+86 136 0000 0009",
        name="新店长",
        role=Role.STORE_MANAGER,
        usable_password="true",
        password1=STRONG,
        password2=STRONG,
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(phone="13600000009")
    assert user.is_staff
    assert user.role == Role.STORE_MANAGER
    assert user.has_usable_password()
    assert user.check_password(STRONG)
    event = AuditEvent.objects.get()
    assert event.action == "account.staff_created"
    assert event.actor_id == superuser.pk
    assert event.object_id == str(user.pk)
    assert event.data == {"role": "store_manager"}
    assert response["Location"] == f"/admin/accounts/user/{user.pk}/change/"


def test_is_staff_is_not_an_input_of_the_add_form(admin_client):
    """A customer posted with is_staff=on still gets no back-office login."""
    response = add_user(admin_client, phone="13600000009", role=Role.CUSTOMER, is_staff="on", usable_password="false")
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(phone="13600000009")
    assert not user.is_staff
    assert not user.has_usable_password()
    assert AuditEvent.objects.get().action == "account.customer_created"


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"phone": "12345", "role": Role.STORE_MANAGER}, "phone"),
        ({"password1": "123", "password2": "123"}, "password2"),
        ({"password1": "password", "password2": "password"}, "password2"),
        ({"password2": "Other-Ste4k-and-Chips!"}, "password2"),
        ({"usable_password": "false", "password1": "", "password2": ""}, "usable_password"),
        ({"role": Role.CUSTOMER}, "usable_password"),  # customers get no password
    ],
)
def test_admin_add_refuses_bad_input_and_writes_nothing(admin_client, fields, error_field):
    data = {
        "phone": "13600000009",
        "name": "新店长",
        "role": Role.STORE_MANAGER,
        "usable_password": "true",
        "password1": STRONG,
        "password2": STRONG,
    }
    data.update(fields)
    response = add_user(admin_client, **data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[error_field]
    assert User.objects.count() == 1  # the superuser
    assert not AuditEvent.objects.exists()


def test_admin_add_refuses_a_malformed_phone(admin_client):
    response = add_user(admin_client, phone="12345", role=Role.CUSTOMER, usable_password="false")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"]
    assert not User.objects.filter(phone="12345").exists()
    assert not AuditEvent.objects.exists()


def test_is_staff_is_read_only_on_the_change_page(admin_client, customer):
    response = admin_client.get(f"/admin/accounts/user/{customer.pk}/change/")
    assert response.status_code == 200
    assert "is_staff" not in response.context["adminform"].form.fields
    assert "is_staff" in response.context["adminform"].readonly_fields

    response = change_user(admin_client, customer, is_staff="on")
    assert response.status_code == 302
    customer.refresh_from_db()
    assert not customer.is_staff
    assert not AuditEvent.objects.exists()  # nothing changed, nothing audited


def test_changing_the_role_to_customer_removes_the_back_office_login(admin_client, superuser):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)

    response = change_user(admin_client, staff, role=Role.CUSTOMER)

    assert response.status_code == 302, response.context["adminform"].form.errors
    staff.refresh_from_db()
    assert staff.role == Role.CUSTOMER
    assert not staff.is_staff
    event = AuditEvent.objects.get()
    assert event.action == "account.role_changed"
    assert event.actor_id == superuser.pk
    assert event.object_id == str(staff.pk)
    assert event.data == {"old": "store_manager", "new": "customer", "is_staff": False}


def test_changing_a_customer_to_staff_gives_the_login_and_warns_about_the_password(admin_client, customer):
    customer.set_unusable_password()
    customer.save()

    response = change_user(admin_client, customer, role=Role.KITCHEN_STAFF, name="新厨师")

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.role == Role.KITCHEN_STAFF
    assert customer.is_staff
    assert customer.name == "新厨师"
    events = {e.action: e.data for e in AuditEvent.objects.order_by("seq")}
    assert events == {
        "account.role_changed": {"old": "customer", "new": "kitchen_staff", "is_staff": True},
        "account.updated": {"changes": {"name": {"old": "顾客", "new": "新厨师"}}},
    }
    page = admin_client.get(response["Location"])
    assert any(m.level_tag == "warning" for m in page.context["messages"])


def test_other_changes_are_audited_as_updated(admin_client, customer):
    response = change_user(admin_client, customer, phone="138 0000 0009", is_active=None)

    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.phone == "13800000009"
    assert not customer.is_active
    event = AuditEvent.objects.get()
    assert event.action == "account.updated"
    assert event.data == {
        "changes": {
            "phone": {"old": "138****0001", "new": "138****0009"},
            "is_active": {"old": True, "new": False},
        }
    }


def test_superuser_status_implies_the_back_office_login(admin_client, customer):
    change_user(admin_client, customer, is_superuser="on")
    customer.refresh_from_db()
    assert customer.is_superuser
    assert customer.is_staff
    assert AuditEvent.objects.get().data == {
        "changes": {"is_superuser": {"old": False, "new": True}, "is_staff": {"old": False, "new": True}}
    }


def test_admin_history_entry_is_written_after_the_audited_transaction(
    admin_client, superuser, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = add_user(admin_client, phone="13600000009", role=Role.CUSTOMER, usable_password="false")
        assert not LogEntry.objects.exists()  # not inside the transaction that ends with the audit event
    assert response.status_code == 302
    assert len(callbacks) == 1
    entry = LogEntry.objects.get()
    assert entry.user_id == superuser.pk
    assert entry.object_id == str(User.objects.get(phone="13600000009").pk)
    assert entry.is_addition()


def test_admin_password_change_is_audited_without_the_password(admin_client, superuser, client):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    new = "An0ther-Ste4k-and-Chips!"

    response = admin_client.post(
        f"/admin/accounts/user/{staff.pk}/password/",
        {"usable_password": "true", "password1": new, "password2": new},
    )

    assert response.status_code == 302
    staff.refresh_from_db()
    assert staff.check_password(new)
    event = AuditEvent.objects.get()
    assert event.action == "account.password_set"
    assert event.actor_id == superuser.pk
    assert event.object_id == str(staff.pk)
    stored = str(AuditEvent.objects.filter(pk=event.pk).values().get())
    assert new not in stored
    assert staff.password not in stored
    assert admin_login(client, staff.phone, new).status_code == 302


def test_admin_password_change_refuses_a_weak_password(admin_client):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    response = admin_client.post(
        f"/admin/accounts/user/{staff.pk}/password/",
        {"usable_password": "true", "password1": "123", "password2": "123"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password2"]
    staff.refresh_from_db()
    assert staff.check_password(PASSWORD)
    assert not AuditEvent.objects.exists()


def test_admin_changing_its_own_password_stays_logged_in(admin_client, superuser):
    new = "An0ther-Ste4k-and-Chips!"
    response = admin_client.post(
        f"/admin/accounts/user/{superuser.pk}/password/",
        {"usable_password": "true", "password1": new, "password2": new},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get().action == "account.password_set"
    assert admin_client.get("/admin/accounts/user/").status_code == 200


def test_admin_can_disable_password_login(admin_client):
    staff = StaffFactory(phone="13700000009", role=Role.STORE_MANAGER)
    response = admin_client.post(
        f"/admin/accounts/user/{staff.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )
    assert response.status_code == 302
    staff.refresh_from_db()
    assert not staff.has_usable_password()
    assert AuditEvent.objects.get().action == "account.password_disabled"


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


def test_hq_manager_cannot_manage_users(client, hq_manager, customer):
    client.force_login(hq_manager)
    assert client.get("/admin/accounts/user/").status_code == 403
    assert client.post("/admin/accounts/user/add/", {"phone": "13600000009"}).status_code == 403
    response = client.post(
        f"/admin/accounts/user/{customer.pk}/change/", {"phone": customer.phone, "role": "hq_manager"}
    )
    assert response.status_code == 403
    assert client.get(f"/admin/accounts/user/{customer.pk}/password/").status_code == 403
    customer.refresh_from_db()
    assert customer.role == Role.CUSTOMER
