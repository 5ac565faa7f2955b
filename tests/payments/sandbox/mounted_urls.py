"""A URLconf with the sandbox mounted, as config/urls.py does when PAYSIM["mount"] is true."""

from django.urls import include, path

urlpatterns = [path("paysim/", include("payments.sandbox.urls"))]
