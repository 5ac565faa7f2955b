"""Operational endpoints that belong to no app."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.defaults import page_not_found
from kombu import Connection

logger = logging.getLogger(__name__)

# Brokers that live inside our own process or disk: nothing that can be "down".
EMBEDDED_BROKERS = ("filesystem://", "memory://")
BROKER_TIMEOUT_SECONDS = 2


def _check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        logger.warning("healthz: database check failed: %s", exc)
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True, "vendor": connection.vendor}


def _check_broker() -> dict | None:
    """Connect to the configured broker once, no retries; None for the embedded ones."""
    url = settings.CELERY_BROKER_URL
    if not url or url.startswith(EMBEDDED_BROKERS):
        return None
    try:
        with Connection(
            url,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {},
            ssl=getattr(settings, "CELERY_BROKER_USE_SSL", None) or False,
        ) as conn:
            # max_retries=0: a probe answers now; kombu would otherwise sleep between attempts.
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("healthz: broker check failed: %s", exc)
        return {"ok": False, "error": exc.__class__.__name__}
    return {"ok": True}


@never_cache
@require_safe
def healthz(request):
    """200 ``{"status": "ok"}`` when the database (and a real broker, if configured) answer; else 503.

    Only the failing component's exception class is shown, never its message (hosts, credentials).
    """
    checks = {"database": _check_database()}
    broker = _check_broker()
    if broker is not None:
        checks["broker"] = broker
    healthy = all(check["ok"] for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)


def not_found(request, exception=None):
    """404 for unknown URLs: the API's JSON error under /api/, the friendly page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "not_found", "detail": str(_("Not found."))}, status=404)
    return page_not_found(request, exception)
