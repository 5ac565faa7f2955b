import json
import re

import pytest
import yaml

ASSET_RE = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.django_db
def test_schema_is_served_as_openapi_yaml_and_json(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Restaurant API"
    assert any(route.startswith("/api/v1/") for route in schema["paths"])

    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content)["openapi"] == schema["openapi"]


@pytest.mark.django_db
def test_docs_page_uses_only_local_static_assets_and_they_are_served(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'url: "/api/schema/"' in html
    assert not re.search(r"https?://", html), "the docs page must not load anything from a CDN"

    assets = ASSET_RE.findall(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        body = b"".join(served.streaming_content) if served.streaming else served.content
        assert len(body) > 100, asset
    bundle = client.get(next(a for a in assets if a.endswith("swagger-ui-bundle.js")))
    assert "javascript" in bundle["Content-Type"]
