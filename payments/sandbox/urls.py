"""Mounted in the demo by config/urls.py when ``settings.PAYSIM["mount"]`` is true."""

from django.urls import re_path

from .django_mount import paysim_view

app_name = "paysim"

urlpatterns = [
    re_path(r"^(?P<subpath>.*)$", paysim_view, name="paysim"),
]
