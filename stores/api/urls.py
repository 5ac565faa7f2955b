from django.urls import include, path

from .views import StoreListApi, StoreMenuApi

urlpatterns = [
    path("stores/", StoreListApi.as_view(), name="store-list"),
    path("stores/<code:store_code>/menu/", StoreMenuApi.as_view(), name="store-menu"),
    path("", include("stores.api.staff_urls")),
]
