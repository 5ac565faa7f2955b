"""Fault injection (PROTOCOL.md, "Fault injection"): validated settings and seeded decisions.

Each kind of decision draws from its own random stream (API calls, notifications, refunds), all
derived from ``seed``, so a run with a seed makes the same choices in the same order of events,
and e.g. the fate of the third refund does not depend on how many queries came before it.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass

DEFAULTS: dict = {
    "latency_ms": [0, 0],
    "error_rate": 0.0,
    "timeout_rate": 0.0,
    "timeout_seconds": 10.0,
    "drop_rate": 0.0,
    "duplicate_rate": 0.0,
    "reorder_rate": 0.0,
    "reorder_max_seconds": 5.0,
    "refund_fail_rate": 0.0,
    "refund_processing_seconds": 0.0,
    "merchant_balance": None,
    "notify_backoff_scale": 1.0,
    "seed": None,
}
RATES = ("error_rate", "timeout_rate", "drop_rate", "duplicate_rate", "reorder_rate", "refund_fail_rate")
SECONDS = {"timeout_seconds": 600.0, "reorder_max_seconds": 3600.0, "refund_processing_seconds": 7 * 86400.0,
           "notify_backoff_scale": 1000.0}
MAX_LATENCY_MS = 60_000
MAX_BALANCE = 10**15


class FaultConfigError(ValueError):
    pass


def _number(key: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultConfigError(f"{key} must be a number")
    return float(value)


def validate(changes) -> dict:
    """Checked, normalised copies of the given keys; ``null`` means the default. Raises on any error."""
    if not isinstance(changes, dict):
        raise FaultConfigError("the fault settings must be a JSON object")
    unknown = sorted(set(changes) - set(DEFAULTS))
    if unknown:
        raise FaultConfigError(f"unknown setting(s): {', '.join(unknown)}")
    clean: dict = {}
    for key, value in changes.items():
        if value is None:
            clean[key] = DEFAULTS[key]
        elif key in RATES:
            number = _number(key, value)
            if not 0.0 <= number <= 1.0:
                raise FaultConfigError(f"{key} must be between 0 and 1")
            clean[key] = number
        elif key in SECONDS:
            number = _number(key, value)
            if not 0.0 <= number <= SECONDS[key]:
                raise FaultConfigError(f"{key} must be between 0 and {SECONDS[key]:g}")
            clean[key] = number
        elif key == "latency_ms":
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = [value, value]
            if not (isinstance(value, list | tuple) and len(value) == 2):
                raise FaultConfigError("latency_ms must be [min, max] in milliseconds")
            low, high = (_number(key, v) for v in value)
            if not 0 <= low <= high <= MAX_LATENCY_MS:
                raise FaultConfigError(f"latency_ms must satisfy 0 <= min <= max <= {MAX_LATENCY_MS}")
            clean[key] = [low, high]
        elif key == "merchant_balance":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_BALANCE:
                raise FaultConfigError("merchant_balance must be null or a whole number of fen >= 0")
            clean[key] = value
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int | str):
                raise FaultConfigError("seed must be an integer or a string")
            clean[key] = value
    return clean


@dataclass(frozen=True)
class ApiFault:
    kind: str  # "error" or "timeout"
    after: bool  # True: the call takes effect first, then fails


@dataclass(frozen=True)
class NotificationFate:
    dropped: bool
    duplicated: bool
    delay: float  # seconds the notification is held back (reordering); 0 = sent when due


class Faults:
    """The current fault settings and the seeded random streams that apply them. Thread-safe."""

    def __init__(self, settings: dict | None = None):
        self._lock = threading.Lock()
        self.settings = dict(DEFAULTS)
        self._reseed(None)
        if settings:
            self.update(settings)

    def _reseed(self, seed) -> None:
        # A string seed is hashed with SHA-512 by random.Random: the same on every run and platform.
        def stream(name: str):
            return random.Random(f"{seed}:{name}") if seed is not None else random.Random()  # noqa: S311

        self._api, self._notify, self._refund = stream("api"), stream("notify"), stream("refund")

    def update(self, changes) -> dict:
        """Validate and apply some settings (all or nothing); returns the keys that changed."""
        clean = validate(changes)
        with self._lock:
            self.settings.update(clean)
            if "seed" in clean:
                self._reseed(clean["seed"])
        return clean

    def snapshot(self) -> dict:
        with self._lock:
            return {key: (list(value) if isinstance(value, list) else value) for key, value in self.settings.items()}

    def __getitem__(self, key: str):
        return self.settings[key]

    def api_call(self) -> tuple[float, ApiFault | None]:
        """Latency in seconds and the fault (if any) for one merchant API call: four draws always."""
        with self._lock:
            low, high = self.settings["latency_ms"]
            latency = self._api.uniform(low, high) / 1000.0
            error, timeout, after = self._api.random(), self._api.random(), self._api.random() < 0.5
            error_rate, timeout_rate = self.settings["error_rate"], self.settings["timeout_rate"]
        if error < error_rate:
            return latency, ApiFault("error", after)
        if timeout < timeout_rate:
            return latency, ApiFault("timeout", after)
        return latency, None

    def notification(self) -> NotificationFate:
        """The fate of one notification event (four draws always)."""
        with self._lock:
            drop, duplicate, reorder, share = (self._notify.random() for _ in range(4))
            s = self.settings
            dropped = drop < s["drop_rate"]
            delay = share * s["reorder_max_seconds"] if reorder < s["reorder_rate"] else 0.0
            if delay and delay < 0.1 * s["reorder_max_seconds"]:
                delay = 0.1 * s["reorder_max_seconds"]  # held back for real, so later events overtake it
        return NotificationFate(dropped=dropped, duplicated=duplicate < s["duplicate_rate"], delay=delay)

    def refund_fails(self) -> bool:
        with self._lock:
            return self._refund.random() < self.settings["refund_fail_rate"]
