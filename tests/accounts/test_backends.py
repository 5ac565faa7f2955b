import pytest
from django.contrib.auth.models import Permission

from accounts.models import Role
from accounts.roles import ROLE_PERMISSIONS, permissions_for_role
from tests.accounts.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    """Permissions are cached per instance: re-read the user after a change."""
    return type(user).objects.get(pk=user.pk)


@pytest.mark.parametrize("role", [Role.HQ_MANAGER, Role.STORE_MANAGER, Role.KITCHEN_STAFF, Role.CANTEEN_STAFF])
def test_each_staff_role_gets_exactly_its_permissions(role):
    user = StaffFactory(role=role)
    assert user.get_all_permissions() == set(ROLE_PERMISSIONS[role])
    for perm in ROLE_PERMISSIONS[role]:
        assert user.has_perm(perm)


def test_hq_manager_manages_the_menu_and_reads_the_audit():
    user = StaffFactory(role=Role.HQ_MANAGER)
    assert user.has_perms(["stores.add_dish", "stores.delete_dish", "stores.change_brand", "audit.view_auditevent"])
    assert not user.has_perm("stores.delete_store")
    assert not user.has_perm("audit.change_auditevent")
    assert user.has_module_perms("stores")


def test_store_manager_edits_overrides_but_not_the_menu():
    user = StaffFactory(role=Role.STORE_MANAGER)
    assert user.has_perms(["stores.change_store", "stores.add_storedishoverride", "stores.view_dish"])
    assert not user.has_perm("stores.change_dish")
    assert not user.has_perm("stores.delete_storedishoverride")
    assert not user.has_perm("audit.view_auditevent")


def test_kitchen_staff_changes_overrides_but_cannot_delete_them():
    user = StaffFactory(role=Role.KITCHEN_STAFF)
    assert user.has_perm("stores.change_storedishoverride")
    assert not user.has_perm("stores.delete_storedishoverride")
    assert not user.has_perm("stores.add_storedishoverride")
    assert not user.has_perm("stores.change_store")


def test_customers_and_non_staff_have_no_role_permissions():
    customer = UserFactory(role=Role.CUSTOMER)
    assert customer.get_all_permissions() == set()
    # A role without is_staff grants nothing either.
    not_staff = UserFactory(role=Role.HQ_MANAGER, is_staff=False)
    assert not not_staff.has_perm("stores.view_store")
    assert permissions_for_role("nonsense") == frozenset()


def test_inactive_and_frozen_users_have_no_permissions():
    inactive = StaffFactory(role=Role.HQ_MANAGER, is_active=False)
    assert inactive.get_all_permissions() == set()
    assert not inactive.has_perm("stores.view_store")

    frozen = StaffFactory(role=Role.HQ_MANAGER)
    from accounts.services import user_freeze

    user_freeze(user=frozen, reason="left the company")
    assert fresh(frozen).get_all_permissions() == set()
    assert not fresh(frozen).has_perm("stores.view_store")


def test_explicit_user_permissions_add_to_the_role():
    user = StaffFactory(role=Role.KITCHEN_STAFF)
    user.user_permissions.add(Permission.objects.get(codename="delete_storedishoverride"))
    user = fresh(user)
    assert user.has_perm("stores.delete_storedishoverride")
    assert user.has_perm("stores.change_storedishoverride")


def test_role_permission_names_exist():
    """Every name in the role map is a real permission (a typo would silently grant nothing)."""
    existing = {
        f"{app}.{codename}" for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for role, perms in ROLE_PERMISSIONS.items():
        assert set(perms) <= existing, (role, set(perms) - existing)
