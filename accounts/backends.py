from django.contrib.auth.backends import ModelBackend

from .roles import permissions_for_role


class RoleModelBackend(ModelBackend):
    """Password login for staff; permissions come from the user's role on top of any
    explicit user/group permissions. Frozen or inactive users have none."""

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if getattr(user_obj, "is_frozen", False):
            return set()
        if not hasattr(user_obj, "_role_perm_cache"):
            perms = set(super().get_all_permissions(user_obj, obj))
            if user_obj.is_staff:
                perms |= permissions_for_role(user_obj.role)
            user_obj._role_perm_cache = perms
        return user_obj._role_perm_cache
