"""``check --deploy`` on the production settings, in a child process with an explicit environment.

The child never sees this process's environment nor a ``.env`` file in the project root
(``DJANGO_READ_DOT_ENV_FILE=false``), so "missing" really means missing.
"""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

REQUIRED = {
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/restaurant",
}


def _environment(**overrides):
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "DJANGO_READ_DOT_ENV_FILE": "false", **REQUIRED}
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _check_deploy(**overrides):
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--settings=config.settings.production"],
        cwd=settings.BASE_DIR, env=_environment(**overrides), capture_output=True, text=True, timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_the_required_environment():
    assert len(REQUIRED["DJANGO_SECRET_KEY"]) >= 50
    result = _check_deploy()
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_production_refuses_to_start_without_a_required_variable(missing):
    result = _check_deploy(**{missing: None})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{missing} must be set in production" in result.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_blank_value_counts_as_missing(missing):
    result = _check_deploy(**{missing: "  "})
    assert result.returncode != 0
    assert missing in result.stderr


def test_a_database_url_that_is_not_one_is_refused():
    result = _check_deploy(DATABASE_URL="not-a-url")
    assert result.returncode != 0
    assert "DATABASE_URL is not a database URL" in result.stderr


def test_a_weak_secret_key_is_reported_by_check_deploy():
    result = _check_deploy(DJANGO_SECRET_KEY="short")
    assert result.returncode == 0  # warnings do not fail the check ...
    assert "security.W009" in result.stdout + result.stderr  # ... but it is named


PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.test import Client
client = Client(HTTP_HOST="example.com")
print(json.dumps({"debug": s.DEBUG, "hosts": s.ALLOWED_HOSTS, "engine": s.DATABASES["default"]["ENGINE"],
                  "healthz_status": client.get("/healthz/").status_code, "home_status": client.get("/").status_code}))
"""


def test_production_values_and_plain_http_health_probe():
    env = _environment(DJANGO_SETTINGS_MODULE="config.settings.production",
                       DJANGO_ALLOWED_HOSTS="example.com, www.example.com")
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, env=env,  # noqa: S603
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    assert values["hosts"] == ["example.com", "www.example.com"]
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["home_status"] == 301  # everything else goes to HTTPS
    assert values["healthz_status"] in (200, 503)  # answered, not redirected


SETTINGS_PROBE = """
import json, django
django.setup()
from django.conf import settings as s
import config.settings.production as production
print(json.dumps({"proxies": s.TRUSTED_PROXY_COUNT, "num_proxies": s.REST_FRAMEWORK["NUM_PROXIES"],
                  "axes_ip": s.AXES_CLIENT_IP_CALLABLE, "cache": s.CACHES["default"]["BACKEND"],
                  "cache_location": s.CACHES["default"].get("LOCATION", ""),
                  "ipware": sorted(n for n in vars(production) if n.startswith("AXES_IPWARE"))}))
"""


def _probe_settings(**overrides):
    env = _environment(DJANGO_SETTINGS_MODULE="config.settings.production", **overrides)
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROBE], cwd=settings.BASE_DIR, env=env,  # noqa: S603
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_trusts_one_proxy_everywhere_by_default():
    values = _probe_settings()
    assert values["proxies"] == values["num_proxies"] == 1
    assert values["axes_ip"] == "config.net.client_ip"
    assert values["ipware"] == []  # django-ipware is not installed: such settings would do nothing
    assert values["cache"] == "django.core.cache.backends.locmem.LocMemCache"  # nothing new required


def test_production_proxy_count_and_cache_come_from_the_environment():
    values = _probe_settings(TRUSTED_PROXY_COUNT="2", CACHE_URL="redis://127.0.0.1:6379/1")
    assert values["proxies"] == values["num_proxies"] == 2
    assert values["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert values["cache_location"] == "redis://127.0.0.1:6379/1"


def test_a_negative_proxy_count_is_refused():
    result = _check_deploy(TRUSTED_PROXY_COUNT="-1")
    assert result.returncode != 0
    assert "TRUSTED_PROXY_COUNT must be 0 or more" in result.stderr


CELERY_PROBE = "import os, config.celery; print(os.environ['DJANGO_SETTINGS_MODULE'])"


def test_celery_worker_defaults_to_the_production_settings_like_wsgi():
    env = _environment()
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run([sys.executable, "-c", CELERY_PROBE], cwd=settings.BASE_DIR, env=env,  # noqa: S603
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "config.settings.production"


def test_the_demo_script_runs_the_development_settings():
    script = (settings.BASE_DIR / "scripts" / "run-dev.sh").read_text()
    export = script.index('export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.local}"')
    assert export < script.index("celery -A config worker") < script.index("manage.py runserver")


def test_env_example_does_not_pretend_to_choose_the_settings_module():
    example = (settings.BASE_DIR / ".env.example").read_text()
    assert "# DJANGO_SETTINGS_MODULE=" not in example
    assert "CACHE_URL=redis://" in example
    assert "TRUSTED_PROXY_COUNT=" in example
