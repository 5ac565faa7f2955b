from django.urls import include, path

urlpatterns = [
    path("", include("stores.api.staff_urls")),
]
