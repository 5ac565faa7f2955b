"""Settings shared by every environment.

Everything that differs between machines comes from the environment (django-environ);
``local``, ``test`` and ``production`` only change defaults and switch integrations on.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file in the project root fills in what the real environment does not set.
# DJANGO_READ_DOT_ENV_FILE=false ignores it (tests that prove a variable is required).
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "axes",
    "django_htmx",
    # our apps: dependencies point one way (see DESIGN.md)
    "audit",
    "accounts",
    "stores",
    "ordering",
    "payments",
    "refunds",
    "canteen",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # axes must be last: it turns a locked-out login into its lockout response
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"].get("ENGINE") == "django.db.backends.sqlite3":
    # The zero-setup demo shares one SQLite file between the web server and the Celery
    # worker: wait for the write lock instead of failing, and take it at BEGIN.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Reports (HQ analytics) may read their rollups from a read replica of the default database:
# set REPORTS_DATABASE_URL to it (config/db_routers.py). Tests mirror it onto the default database.
if env("REPORTS_DATABASE_URL", default=""):
    DATABASES["reports"] = env.db("REPORTS_DATABASE_URL")
    DATABASES["reports"].setdefault("CONN_MAX_AGE", DATABASES["default"]["CONN_MAX_AGE"])
    DATABASES["reports"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_routers.ReportsReplicaRouter"]

# One cache shared by every web process and worker: login throttles and the menu cache version
# tokens live here. locmemcache:// is per process, fine for the demo and tests; production should
# set CACHE_URL=redis://127.0.0.1:6379/1 (see README, "Running it for real").
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# How many reverse proxies in front of Django append to X-Forwarded-For. 0 (the default
# outside production): the header is ignored, REMOTE_ADDR is the client. N: the client is
# the N-th address from the right. Read by config.net.client_ip, DRF and django-axes.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # axes first so that a locked-out staff login never reaches the password check
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.RoleModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "stores:store-list"
LOGOUT_REDIRECT_URL = "stores:store-list"

# Staff password lockout (django-axes): 5 failures per phone+IP locks for 30 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# The IP half of the lockout key: the same trusted client address as everywhere else
# (django-ipware is not installed, so without this axes would use REMOTE_ADDR, the proxy's).
AXES_CLIENT_IP_CALLABLE = "config.net.client_ip"

# Internationalisation: Simplified Chinese by default, English complete.
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    # Closed by default: a public endpoint says permission_classes = [AllowAny] itself.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # For DRF's own get_ident; our throttles use config.net.client_ip, which reads the same count.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Restaurant API",
    "DESCRIPTION": "Stores, menus, orders, payments and refunds. Errors are JSON {code, detail}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema and the docs page are public even though API views are closed by default.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
}

# Celery. Without CELERY_BROKER_URL the embedded filesystem transport is used, so the demo
# (`make run`) needs no external service; production sets CELERY_BROKER_URL=redis://...
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
if not CELERY_BROKER_URL:
    _broker_dir = Path(env("CELERY_BROKER_FS_DIR", default=str(BASE_DIR / "var" / "celery")))
    for _sub in ("queue", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "config.celery_fs:Transport"  # kombu's, writing each message atomically
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # else kombu writes ./control/ (worker pidbox)
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "stores-restore-daily-stock": {
        "task": "stores.tasks.stock_restore_daily_task",
        "schedule": crontab(minute=0, hour=4),  # 04:00 store local time, before opening
    },
    "ordering-expire-unpaid": {
        "task": "ordering.tasks.orders_expire_due_task",
        "schedule": 30.0,  # seconds: an unpaid order is released at most 30 s after its time
    },
    "payments-check-due": {
        "task": "payments.tasks.payments_check_due_task",
        "schedule": 5.0,  # seconds: payments without a final answer are asked about on their back-off
    },
    "payments-refunds-check-due": {
        "task": "payments.tasks.refund_attempts_check_due_task",
        "schedule": 10.0,
    },
    "payments-reconcile-yesterday": {
        "task": "payments.tasks.reconcile_yesterday_task",
        "schedule": crontab(minute=30, hour=9),  # after the providers publish yesterday's statement
    },
    "refunds-sweep": {
        "task": "refunds.tasks.refunds_sweep_task",
        "schedule": 60.0,  # approved refunds whose task was lost; refunds in progress brought up to date
    },
    "refunds-escalate-overdue": {
        "task": "refunds.tasks.refunds_escalate_overdue_task",
        "schedule": 60.0,  # reviews past their 30-minute deadline are escalated to HQ within a minute
    },
    "audit-security-report": {
        "task": "audit.tasks.security_reports_due_task",
        "schedule": crontab(minute=15),  # hourly check; a report is written every 72 hours
    },
    "reports-rollups-recent": {
        "task": "reports.tasks.rollups_refresh_recent_task",
        "schedule": 300.0,  # seconds: today's and yesterday's figures are at most 5 minutes old
        "kwargs": {"days": 2},
    },
    "canteen-monthly-grants": {
        "task": "canteen.tasks.monthly_grants_task",
        # Hourly, not once on the 1st: a run grants each member once per month whatever happens (the
        # ledger's unique grant per member and month), so the extra runs make nothing, a run missed
        # while the worker was down is made up within the hour, and members added during the month
        # get theirs. Minute 5: after the month has turned at 00:00 (TIME_ZONE).
        "schedule": crontab(minute=5),
    },
    "reports-rollups-nightly": {
        "task": "reports.tasks.rollups_refresh_recent_task",
        "schedule": crontab(minute=30, hour=3),  # the last 8 days again: late refunds and fixes
        "kwargs": {"days": 8},
    },
}

# Payments. SITE_URL is our public address: providers call back to it and send the payer back to it.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The external channels (adapters in payments/gateways/paysim.py). In development and tests they
# talk to the payment sandbox (payments/sandbox/PROTOCOL.md); pointing one at a real provider is
# a change of these settings plus the provider's wire format in an adapter.
PAYMENT_GATEWAYS = {
    "wechat": {
        "base_url": env("WECHAT_PAY_BASE_URL", default=f"{SITE_URL}/paysim"),
        "mch_id": env("WECHAT_PAY_MCH_ID", default="wx-sandbox-mch"),
        "key": env("PAYSIM_WECHAT_KEY", default="sandbox-wechat-key-change-me"),
        "notify_url": env("WECHAT_PAY_NOTIFY_URL", default=f"{SITE_URL}/api/v1/payments/notify/wechat/"),
        "timeout": env.float("PAYMENT_GATEWAY_TIMEOUT", default=5.0),
    },
    "alipay": {
        "base_url": env("ALIPAY_BASE_URL", default=f"{SITE_URL}/paysim"),
        "mch_id": env("ALIPAY_MCH_ID", default="ali-sandbox-mch"),
        "key": env("PAYSIM_ALIPAY_KEY", default="sandbox-alipay-key-change-me"),
        "notify_url": env("ALIPAY_NOTIFY_URL", default=f"{SITE_URL}/api/v1/payments/notify/alipay/"),
        "timeout": env.float("PAYMENT_GATEWAY_TIMEOUT", default=5.0),
    },
}
# When a payment or refund without a final answer is asked about again: seconds after the 1st,
# 2nd ... check; the last figure repeats until the answer is final.
PAYMENT_CHECK_BACKOFF_SECONDS = [
    int(s) for s in env.list("PAYMENT_CHECK_BACKOFF_SECONDS", default=["5", "10", "20", "40", "60", "120", "300"])
]
PAYMENT_NOTIFICATION_MAX_BYTES = 64 * 1024
PAYMENT_NOTIFICATION_MAX_AGE_SECONDS = 300  # older signed timestamps are refused as replays
# The brand's bank account that corporate customers transfer to (shown with the payment's reference).
PAYMENT_CORPORATE_PAYEE = {
    "bank": env("CORPORATE_PAYEE_BANK", default="China Merchants Bank, Shanghai Branch"),
    "account_name": env("CORPORATE_PAYEE_NAME", default="Demo Restaurant Group Co., Ltd."),
    "account_number": env("CORPORATE_PAYEE_ACCOUNT", default="6225 8801 2345 6789"),
}

# The payment sandbox (payments/sandbox/, wire protocol in PROTOCOL.md): an external provider
# simulator with its own SQLite file. Its merchants are the sandbox side of PAYMENT_GATEWAYS
# (same ids and keys). ``faults`` as in PROTOCOL.md, e.g. PAYSIM_FAULTS='{"error_rate": 0.2}'.
# ``mount``: serve it at /paysim/ in this process (the demo; see config/urls.py); standalone:
# ``manage.py run_paysim --port 8901`` (then point WECHAT_PAY_BASE_URL / ALIPAY_BASE_URL at it).
PAYSIM = {
    "merchants": {
        "wx-sandbox-mch": {
            "key": env("PAYSIM_WECHAT_KEY", default="sandbox-wechat-key-change-me"),
            "name": _("WeChat Pay (sandbox)"),
            "channel": "wechat",
        },
        "ali-sandbox-mch": {
            "key": env("PAYSIM_ALIPAY_KEY", default="sandbox-alipay-key-change-me"),
            "name": _("Alipay (sandbox)"),
            "channel": "alipay",
        },
    },
    "db_path": env("PAYSIM_DB_PATH", default=str(BASE_DIR / "var" / "paysim.sqlite3")),
    "faults": env.json("PAYSIM_FAULTS", default={}),
    "public_base_url": env("PAYSIM_PUBLIC_URL", default=f"{SITE_URL}/paysim").rstrip("/"),
    "mount": env.bool("PAYSIM_MOUNT", default=False),
}

# SMS: console in local, in-memory outbox in tests; a real provider implements
# accounts.sms.SmsBackend and is named here.
SMS_BACKEND = env("SMS_BACKEND", default="accounts.sms.ConsoleSmsBackend")

# Key of the few values kept encrypted (config/crypto.py: a customer's bank account for a refund
# by transfer). A Fernet key (``Fernet.generate_key()``); unset, one is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default="")

SMS_CODE_TTL = timedelta(minutes=5)
SMS_CODE_MAX_ATTEMPTS = 5
SMS_CODE_MIN_INTERVAL = timedelta(minutes=1)
SMS_CODE_DAILY_LIMIT = 10

# History is for reading: a revert would bypass the services (and their audit events);
# the stores admins also refuse a POSTed revert.
SIMPLE_HISTORY_REVERT_DISABLED = True

IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_LOG = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Audit admin: which brands' events a staff member sees. Named by dotted path because audit
# imports no other app; the function returns None for "every brand" or a set of brand ids.
AUDIT_BRAND_SCOPE = "stores.selectors.brand_ids_visible_to"

ADMIN_SITE_HEADER = _("Restaurant HQ")
ADMIN_INDEX_TITLE = _("Stores, menus and audit")
