"""The client's IP address, the one way every part of the project reads it.

``X-Forwarded-For`` is written by whoever sends the request, so it is trusted only as far as
our own proxies go: with ``TRUSTED_PROXY_COUNT = N`` (N reverse proxies in front of Django,
each appending the address it saw), the client is the N-th address from the right. With
``TRUSTED_PROXY_COUNT = 0`` (nothing in front, the default outside production) the header is
ignored and ``REMOTE_ADDR`` is the client. A missing, short or malformed header falls back to
``REMOTE_ADDR``. Used by the login throttles, django-axes (``AXES_CLIENT_IP_CALLABLE``) and
every audit record.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid_ip(value: str | None) -> str | None:
    """``value`` as a normalized IP address string, or ``None`` when it is not one."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def trusted_proxy_count() -> int:
    return max(0, int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0))


def client_ip(request) -> str | None:
    """The client's IP address for ``request`` (a Django or DRF request), or ``None``."""
    meta = request.META
    remote_addr = _valid_ip(meta.get("REMOTE_ADDR"))
    proxies = trusted_proxy_count()
    if proxies == 0:
        return remote_addr
    forwarded = [part.strip() for part in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        # Fewer hops than proxies: the request did not come through them all.
        return remote_addr
    return _valid_ip(forwarded[-proxies]) or remote_addr
