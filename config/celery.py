"""The Celery app: broker, schedule and the rest come from Django settings (CELERY_*).

Like ``config.wsgi``, it defaults to the production settings: a worker started without
``DJANGO_SETTINGS_MODULE`` must never run with DEBUG and the development secret key.
``scripts/run-dev.sh`` (the demo) exports ``config.settings.local`` itself.
"""

import os

from celery import Celery

os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE") or "config.settings.production"

app = Celery("restaurant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
