from unittest import mock

import pytest
from django.db import OperationalError


@pytest.mark.django_db
def test_healthz_reports_database_ok(client):
    response = client.get("/healthz/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True, "vendor": "postgresql"}
    assert "broker" not in body["checks"]  # memory broker in tests: nothing to check


@pytest.mark.django_db
def test_healthz_is_503_when_database_is_down(client):
    with mock.patch("config.views.connection.cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.django_db
def test_healthz_checks_a_configured_broker(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


@pytest.mark.django_db
def test_healthz_is_ok_when_a_configured_broker_answers(client, settings):
    settings.CELERY_BROKER_URL = "redis://broker.internal:6379/0"
    with mock.patch("config.views.Connection") as connection_class:
        response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"ok": True, "vendor": "postgresql"}, "broker": {"ok": True}},
    }
    assert connection_class.call_args.args == ("redis://broker.internal:6379/0",)
    conn = connection_class.return_value.__enter__.return_value
    conn.ensure_connection.assert_called_once_with(max_retries=0, timeout=2)


@pytest.mark.django_db
def test_healthz_hides_the_broker_error_message(client, settings):
    settings.CELERY_BROKER_URL = "redis://:secret-password@broker.internal:6379/0"
    with mock.patch("config.views.Connection") as connection_class:
        connection_class.return_value.__enter__.return_value.ensure_connection.side_effect = ConnectionRefusedError(
            "redis://:secret-password@broker.internal refused"
        )
        response = client.get("/healthz/")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False, "error": "ConnectionRefusedError"}
    assert b"secret-password" not in response.content


@pytest.mark.django_db
def test_healthz_skips_the_embedded_filesystem_broker(client, settings):
    settings.CELERY_BROKER_URL = "filesystem://"
    with mock.patch("config.views.Connection") as connection_class:
        response = client.get("/healthz/")
    assert response.status_code == 200
    assert "broker" not in response.json()["checks"]
    connection_class.assert_not_called()


@pytest.mark.django_db
def test_healthz_answers_head_probes_and_is_never_cached(client):
    response = client.head("/healthz/")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert client.post("/healthz/").status_code == 405


@pytest.mark.django_db
def test_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_unknown_page_url_is_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
