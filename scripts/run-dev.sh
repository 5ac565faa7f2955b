#!/usr/bin/env bash
# The demo: Django's development server plus one Celery worker with embedded beat.
# With no CELERY_BROKER_URL the broker is kombu's filesystem transport under var/celery,
# so nothing else needs to run. Ctrl-C stops all of it.
set -euo pipefail
PY="${PYTHON:-.venv/bin/python}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
mkdir -p var
# The demo runs the development settings; config.celery (like config.wsgi) defaults to production.
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"

pids=()
cleanup() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$PY" -m celery -A config worker --beat --pool=solo --loglevel=INFO \
  --schedule=var/celerybeat-schedule --hostname="demo@%h" &
pids+=($!)

echo "Serving http://$HOST:$PORT/  (admin: http://$HOST:$PORT/admin/, API docs: http://$HOST:$PORT/api/docs/)"
"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

wait -n "${pids[@]}"
