"""config.net.client_ip: X-Forwarded-For is trusted only as far as TRUSTED_PROXY_COUNT says."""

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.utils.module_loading import import_string

from config.net import client_ip

rf = RequestFactory()


def _request(remote_addr="10.0.0.9", xff=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
@pytest.mark.parametrize("xff", [None, "1.1.1.1", "1.1.1.1, 2.2.2.2", "garbage"])
def test_without_proxies_the_header_is_ignored(xff):
    assert client_ip(_request(xff=xff)) == "10.0.0.9"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    ("xff", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("6.6.6.6, 203.0.113.7", "203.0.113.7"),  # what the client wrote is ignored
        ("6.6.6.6,203.0.113.7 ", "203.0.113.7"),
        ("2001:DB8::1", "2001:db8::1"),  # normalized
        (None, "10.0.0.9"),  # not through the proxy
        ("", "10.0.0.9"),
        ("6.6.6.6, not-an-ip", "10.0.0.9"),
        ("6.6.6.6, 203.0.113.7:443", "10.0.0.9"),
    ],
)
def test_one_proxy_takes_the_last_address(xff, expected):
    assert client_ip(_request(xff=xff)) == expected


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_two_proxies_take_the_second_address_from_the_right():
    assert client_ip(_request(xff="6.6.6.6, 203.0.113.7, 10.0.0.2")) == "203.0.113.7"
    assert client_ip(_request(xff="10.0.0.2")) == "10.0.0.9"  # fewer hops than proxies


def test_a_remote_addr_that_is_not_an_ip_is_none():
    assert client_ip(_request(remote_addr="")) is None
    assert client_ip(_request(remote_addr="unix:/tmp/socket")) is None


def test_drf_axes_and_the_helper_read_the_same_setting():
    assert settings.TRUSTED_PROXY_COUNT == 0  # tests run as if nothing were in front
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT
    assert import_string(settings.AXES_CLIENT_IP_CALLABLE) is client_ip
