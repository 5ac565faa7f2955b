"""The sandbox as configured by the ``PAYSIM`` Django setting, and the demo's mounted instance.

``PAYSIM`` (config/settings/base.py)::

    {"merchants": {mch_id: {"key", "name", "channel"}}, "db_path": str, "faults": {...},
     "public_base_url": "http://127.0.0.1:8000/paysim", "mount": bool}
"""

from __future__ import annotations

import threading

from django.conf import settings

from .sim import Paysim

_mounted: Paysim | None = None
_mounted_lock = threading.Lock()


def paysim_settings() -> dict:
    conf = dict(getattr(settings, "PAYSIM", {}) or {})
    conf.setdefault("merchants", {})
    conf.setdefault("db_path", str(settings.BASE_DIR / "var" / "paysim.sqlite3"))
    conf.setdefault("faults", {})
    conf.setdefault("public_base_url", "http://127.0.0.1:8000/paysim")
    conf.setdefault("mount", False)
    return conf


def build_paysim(*, db_path=None, faults: dict | None = None, public_base_url: str | None = None,
                 **kwargs) -> Paysim:
    """A sandbox from the settings; keyword arguments override them (``faults`` is merged)."""
    conf = paysim_settings()
    return Paysim(
        db_path or conf["db_path"],
        merchants=conf["merchants"],
        faults={**conf["faults"], **(faults or {})},
        public_base_url=public_base_url or conf["public_base_url"],
        **kwargs,
    )


def get_mounted() -> Paysim:
    """The process-wide sandbox behind ``/paysim/``: created on first use, notifier started."""
    global _mounted
    with _mounted_lock:
        if _mounted is None:
            _mounted = build_paysim()
        _mounted.start_notifier()
        return _mounted


def reset_mounted() -> None:
    """Stop and forget the mounted sandbox (tests; the next request builds a new one)."""
    global _mounted
    with _mounted_lock:
        if _mounted is not None:
            _mounted.close()
            _mounted = None
