"""Production: PostgreSQL, Redis broker, HTTPS. Refuses to start without its required settings.

Required environment (no defaults, the process stops with ImproperlyConfigured naming the
missing one):

- ``DJANGO_SECRET_KEY``: 50+ random characters, e.g.
  ``python -c 'import secrets; print(secrets.token_urlsafe(60))'``
- ``DJANGO_ALLOWED_HOSTS``: comma-separated host names, e.g. ``order.example.com,www.example.com``
- ``DATABASE_URL``: e.g. ``postgres://restaurant:secret@db.internal:5432/restaurant``

Optional: ``DJANGO_CSRF_TRUSTED_ORIGINS``, ``DATABASE_CONN_MAX_AGE`` (60),
``CELERY_BROKER_URL`` (redis://...), ``DJANGO_SECURE_SSL_REDIRECT`` (true),
``DJANGO_SECURE_HSTS_SECONDS`` (one year), ``TRUSTED_PROXY_COUNT`` (1: exactly one reverse
proxy in front, which appends the client address to ``X-Forwarded-For``; 0 when Django is
reached directly), ``CACHE_URL`` (strongly recommended: ``redis://127.0.0.1:6379/1``, else each
process has its own throttle counters and menu cache), and the rest of ``.env.example``.
``manage.py check --deploy --settings=config.settings.production`` reports no issues with the
required variables set. A ``.env`` file in the project root is read unless
``DJANGO_READ_DOT_ENV_FILE=false``; the real environment always wins.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK, env

DEBUG = False


def _required(name: str) -> str:
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in production (see config/settings/production.py).")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in _required("DJANGO_ALLOWED_HOSTS").split(",") if host.strip()]
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name at least one host in production.")
DATABASES = {"default": env.db_url_config(_required("DATABASE_URL"))}
if not DATABASES["default"].get("ENGINE"):
    raise ImproperlyConfigured("DATABASE_URL is not a database URL (postgres://user:password@host:5432/name).")
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS behind a proxy (nginx / a load balancer) that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Load balancers probe /healthz/ over plain HTTP inside the network: answer, do not redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Behind one reverse proxy (nginx / a load balancer) that appends the address it saw to
# X-Forwarded-For: the client is the last address. Throttles, django-axes and audit records all
# read it through config.net.client_ip. Wrong values are dangerous both ways: too high lets
# clients forge their address, too low puts every client behind the proxy's address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")
REST_FRAMEWORK = {**REST_FRAMEWORK, "NUM_PROXIES": TRUSTED_PROXY_COUNT}
