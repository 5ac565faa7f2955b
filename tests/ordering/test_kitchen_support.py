"""Shared builders for the staff screen tests (kitchen display, pickup screen, counter); no tests here."""

from __future__ import annotations

import re

from django.test import Client

from accounts.models import Role
from ordering.services import LineRequest
from tests.stores.factories import make_staff

HTMX = {"HTTP_HX_REQUEST": "true"}


def staff(brand, stores, *, phone: str, role=Role.KITCHEN_STAFF):
    return make_staff(role=role, brand=brand, stores=stores, phone=phone)


def client_for(user=None) -> Client:
    """A browser in English, logged in as ``user`` (anonymous when ``None``)."""
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user)
    return client


def unlimited_lines(menu):
    """Noodles (mild) and tea: dishes without a stock limit, for building many orders."""
    return [
        LineRequest(dish_id=menu.noodles.pk, quantity=1, option_ids=(menu.mild.pk,)),
        LineRequest(dish_id=menu.tea.pk, quantity=1),
    ]


def lane(html: str, key: str) -> str:
    """The HTML of one lane of the kitchen board (new, preparing, ready)."""
    match = re.search(rf'data-lane="{key}".*?(?=data-lane="|\Z)', html, re.S)
    assert match, f"lane {key} not rendered"
    return match.group(0)
