"""Per-IP request limits on the login endpoints (API and pages).

A second line of defence: the per-phone code limits live in ``accounts.services``. Rates come
from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`` when set, else ``default_rate``; they
count in the default cache (``CACHE_URL``: Redis in production, so that every web process shares
them). The client is identified by ``config.net.client_ip`` (``TRUSTED_PROXY_COUNT``), never by
the raw ``X-Forwarded-For`` header, which the client writes itself.
"""

from rest_framework.throttling import SimpleRateThrottle

from config.net import client_ip


class _PerIpThrottle(SimpleRateThrottle):
    default_rate = ""

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.default_rate

    def get_ident(self, request):
        return client_ip(request) or "unknown"

    def get_cache_key(self, request, view):
        # Per client IP whether authenticated or not. Works with a DRF or a plain Django request.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AuthCodeThrottle(_PerIpThrottle):
    """Code requests per IP, across phones (SMS bombing of many numbers)."""

    scope = "auth_code"
    default_rate = "30/hour"


class AuthTokenThrottle(_PerIpThrottle):
    """Code checks per IP, across phones (guessing codes for many numbers)."""

    scope = "auth_token"
    default_rate = "60/hour"


def throttle_wait(throttle: SimpleRateThrottle, request) -> int | None:
    """``None`` when the request may go ahead, else the seconds to wait (at least 1)."""
    if throttle.allow_request(request, None):
        return None
    return max(1, int(throttle.wait() or 1))
