"""stores' part of the 72-hour security report (``audit.security``): what people changed through
the Django admin, from its log. A brand's report counts the changes of the brand's own staff
(their current ``StaffAssignment``, superusers excepted); the platform's report counts everybody's."""

from __future__ import annotations

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db.models import Count, Q
from django.utils.translation import gettext_noop

from audit.security import register_section


def _back_office(brand_id, start, end):
    entries = LogEntry.objects.filter(action_time__gte=start, action_time__lt=end)
    if brand_id is not None:
        # Superusers act for the platform, even when they also have an assignment somewhere.
        entries = entries.filter(user__staff_assignment__brand_id=brand_id, user__is_superuser=False)
    figures = entries.aggregate(
        n=Count("pk"),
        added=Count("pk", filter=Q(action_flag=ADDITION)),
        changed=Count("pk", filter=Q(action_flag=CHANGE)),
        deleted=Count("pk", filter=Q(action_flag=DELETION)),
        people=Count("user", distinct=True),
    )
    rows: list[tuple[str, object]] = [
        (gettext_noop("Admin changes (Django admin log)"), figures["n"]),
        (gettext_noop("· additions"), figures["added"]),
        (gettext_noop("· changes"), figures["changed"]),
        (gettext_noop("· deletions"), figures["deleted"]),
        (gettext_noop("People who made them"), figures["people"]),
    ]
    most = (entries.values("content_type__app_label", "content_type__model").annotate(n=Count("pk"))
            .order_by("-n", "content_type__app_label", "content_type__model")[:5])
    rows += [(f"· {row['content_type__app_label']}.{row['content_type__model']}", row["n"]) for row in most]
    return rows


register_section(gettext_noop("Back office"), _back_office)
