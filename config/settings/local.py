"""Development and the zero-setup demo: SQLite, console SMS, embedded Celery broker."""

from .base import *  # noqa: F403
from .base import PAYSIM, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-only-not-a-secret-0123456789abcdefghijkl")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])

# Serve static files from the apps and static/ directly; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# The payment sandbox answers at /paysim/ in the demo web process, so `make run` needs nothing else.
PAYSIM = {**PAYSIM, "mount": env.bool("PAYSIM_MOUNT", default=True)}
