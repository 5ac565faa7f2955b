"""Changing a brand's refund policy (HQ, in the admin): audited, and its version goes up."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from stores.selectors import user_manages_whole_brand

from ..errors import RefundForbidden
from ..models import RefundPolicy
from ._common import _user

EDITABLE = ("auto_approve_limit", "review_minutes", "window_days", "velocity_max_per_hour", "ratio_threshold",
            "ratio_min_orders", "network_rule_enabled", "network_window_minutes", "ip_max_accounts",
            "subnet_max_accounts")


def refund_policy_update(*, actor, brand_id: int, changes: dict, ip: str | None = None) -> RefundPolicy:
    """Apply validated ``changes`` (field -> value) to the brand's policy. Requests made from now
    on are decided by the new version; those made before keep the snapshot they were decided by."""
    if actor is not None and not user_manages_whole_brand(actor, brand_id):
        raise RefundForbidden(_("Only HQ managers of this brand may change its refund policy."))
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        RefundPolicy.objects.get_or_create(brand_id=brand_id)
        policy = RefundPolicy.objects.select_for_update().get(brand_id=brand_id)
        before = {name: getattr(policy, name) for name in EDITABLE}
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if not changed:
            return policy
        for name, value in changed.items():
            setattr(policy, name, value)
        policy.full_clean()
        policy.version += 1
        policy.updated_at = timezone.now()
        policy._history_user = _user(actor)
        policy.save()
        audit_record(action="refund.policy_changed", actor=_user(actor), obj=policy, brand_id=brand_id, ip=ip,
                     data={"version": policy.version,
                           "changes": {k: [str(before[k]), str(v)] for k, v in changed.items()}})
    return policy
