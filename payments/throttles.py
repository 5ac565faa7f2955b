"""How many gift card numbers one user may try: binding a card and paying with a typed number
share one count, so that nobody can try numbers until one binds or pays (or to read balances)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.core.cache import cache

BIND_ATTEMPTS_PER_WINDOW = 10
BIND_WINDOW_SECONDS = 60 * 60


class CardNumberThrottle:
    """At most ``BIND_ATTEMPTS_PER_WINDOW`` card numbers tried per user per hour (binding or paying),
    counted in the default cache (Redis in production, shared by every web process)."""

    def __init__(self, user):
        self.count_key = f"payments:gift-card-bind:{user.pk}:count"
        self.start_key = f"payments:gift-card-bind:{user.pk}:start"

    def attempts(self) -> int:
        return int(cache.get(self.count_key) or 0)

    def blocked(self) -> bool:
        return self.attempts() >= BIND_ATTEMPTS_PER_WINDOW

    def retry_at(self) -> datetime | None:
        started = cache.get(self.start_key)
        if started is None:
            return None
        return datetime.fromtimestamp(float(started) + BIND_WINDOW_SECONDS, tz=UTC)

    def hit(self) -> None:
        cache.add(self.start_key, time.time(), BIND_WINDOW_SECONDS)
        if not cache.add(self.count_key, 1, BIND_WINDOW_SECONDS):
            try:
                cache.incr(self.count_key)
            except ValueError:  # expired between add and incr
                cache.add(self.count_key, 1, BIND_WINDOW_SECONDS)
