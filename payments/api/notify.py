"""``POST /api/v1/payments/notify/{channel}/``: provider callbacks.

A plain Django view rather than DRF: the signature covers the exact body bytes, so nothing may
parse or re-encode them first, and the caller is a provider, not a user (no session, no CSRF).
Answers, as DESIGN.md says: 400 with a reason for a forged, stale or malformed notification
(logged, nothing changes); 413 for an oversized one; 404 for an unknown channel; 200 for one we
handled, a replay, or an event about a payment we do not know; 503 when the order stayed locked
past the lock timeout, so the provider tries again.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from config.net import client_ip

from ..gateways import NotificationInvalid, UnknownChannel
from ..services.provider import PaymentBusy, notification_receive

logger = logging.getLogger("payments.notify")


def _error(code: str, detail: str, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


@csrf_exempt
@require_POST
def payment_notify(request, channel: str):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.PAYMENT_NOTIFICATION_MAX_BYTES:
        logger.warning("notification refused (%s, %s bytes) from %s", channel, length, client_ip(request))
        return _error("too_large", "notification too large", 413)
    try:
        outcome = notification_receive(channel=channel, request=request)
    except UnknownChannel as exc:
        return _error(exc.code, str(exc.message), 404)
    except RequestDataTooBig:
        return _error("too_large", "notification too large", 413)
    except NotificationInvalid as exc:
        logger.warning("notification refused (%s: %s) from %s", channel, exc.message, client_ip(request))
        return _error(exc.code, str(exc.message), exc.status_code)
    except PaymentBusy:
        logger.info("notification for %s deferred: order locked", channel)
        return _error("busy", "try again later", 503)
    logger.info("notification %s: %s", channel, outcome)
    return JsonResponse({"code": "SUCCESS", "outcome": outcome})
