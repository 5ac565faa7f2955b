"""Database routing: reports may read from a replica.

When the settings define a ``reports`` database (``REPORTS_DATABASE_URL``, a read replica of the
default database), the rollup tables of the ``reports`` app are read from it, so that heavy
dashboards do not load the primary. Everything else, and every write, goes to ``default``;
migrations run only on ``default`` (a replica follows its primary).
"""

from django.conf import settings

REPORTS_ALIAS = "reports"


def reports_alias_configured() -> bool:
    return REPORTS_ALIAS in settings.DATABASES


class ReportsReplicaRouter:
    route_app_labels = frozenset({"reports"})

    def db_for_read(self, model, **hints):
        if model._meta.app_label in self.route_app_labels and reports_alias_configured():
            return REPORTS_ALIAS
        return None

    def db_for_write(self, model, **hints):
        return "default" if reports_alias_configured() else None

    def allow_relation(self, obj1, obj2, **hints):
        # The replica holds the same rows as the primary: relations across the two are fine.
        if {obj1._state.db, obj2._state.db} <= {"default", REPORTS_ALIAS}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == REPORTS_ALIAS:
            return False
        return None
