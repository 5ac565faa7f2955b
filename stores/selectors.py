"""Reads of stores and menus. Every selector is scoped to what the caller may see."""

from django.db.models import QuerySet

from accounts.models import Role

from .models import Brand, Store


def _assignment(user):
    try:
        return user.staff_assignment
    except Exception:  # RelatedObjectDoesNotExist: not assigned anywhere
        return None


def brand_ids_visible_to(user) -> set[int] | None:
    """Brands a staff member works for; ``None`` means every brand (superuser)."""
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    assignment = _assignment(user)
    return {assignment.brand_id} if assignment is not None and user.is_staff else set()


def store_ids_visible_to(user) -> set[int] | None:
    """Stores a staff member may see and manage; ``None`` means every store (superuser).

    HQ managers reach every store of their brand; store managers and kitchen staff only
    the stores they are assigned to; anybody else none.
    """
    if not user.is_authenticated or not user.is_active:
        return set()
    if user.is_superuser:
        return None
    assignment = _assignment(user)
    if assignment is None or not user.is_staff:
        return set()
    if user.role == Role.HQ_MANAGER:
        return set(Store.objects.filter(brand_id=assignment.brand_id).values_list("id", flat=True))
    if user.role in (Role.STORE_MANAGER, Role.KITCHEN_STAFF):
        return set(assignment.stores.filter(brand_id=assignment.brand_id).values_list("id", flat=True))
    return set()


def brands_for_user(user) -> QuerySet[Brand]:
    ids = brand_ids_visible_to(user)
    return Brand.objects.all() if ids is None else Brand.objects.filter(id__in=ids)


def stores_for_user(user) -> QuerySet[Store]:
    ids = store_ids_visible_to(user)
    qs = Store.objects.select_related("brand")
    return qs if ids is None else qs.filter(id__in=ids)


def user_manages_whole_brand(user, brand_id: int) -> bool:
    """HQ managers (and superusers) act on brand-wide rows such as dishes and categories."""
    if user.is_superuser:
        return True
    ids = brand_ids_visible_to(user)
    return user.role == Role.HQ_MANAGER and ids is not None and brand_id in ids
