"""Canteen pages (app namespace "canteen"): the member's own page and the canteen staff's pages."""

from .urls_member import urlpatterns as member_urls
from .urls_staff import urlpatterns as staff_urls

app_name = "canteen"
urlpatterns = [*member_urls, *staff_urls]
