"""The test suite: PostgreSQL (the real database), eager Celery, in-memory SMS outbox."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, PAYSIM, REST_FRAMEWORK, env

SECRET_KEY = "test-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

DATABASES["default"] = env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/restaurant")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Django's flush (run after every transactional test) truncates all tables; the audit tables
# refuse TRUNCATE unless the session allows it (audit/migrations/0002_append_only.py).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c audit.allow_truncate=on"

# Whatever a developer's .env says: one in-process cache, no proxy in front (tests that need one
# use override_settings(TRUSTED_PROXY_COUNT=...)).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TRUSTED_PROXY_COUNT = 0
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": 0}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SMS_BACKEND = "accounts.sms.LocmemSmsBackend"

# Tasks run in-process; tests that need them capture on_commit callbacks explicitly.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT = None  # base names the demo's filesystem transport when no broker is set
CELERY_BROKER_TRANSPORT_OPTIONS = {}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LANGUAGE_CODE = "zh-hans"

# Serve static files from the apps and static/ directly; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The payment sandbox: never mounted (tests build their own Paysim, or mount it with a test URLconf);
# a throw-away file per test process, no faults unless a test sets them.
PAYSIM = {
    **PAYSIM,
    "db_path": str(Path(tempfile.gettempdir()) / f"paysim-test-{os.getpid()}.sqlite3"),
    "faults": {},
    "public_base_url": "http://testserver/paysim",
    "mount": False,
}

# seed_demo writes no order history unless a test asks for it (--history-days, or this setting).
DEMO_HISTORY_DAYS = 0
