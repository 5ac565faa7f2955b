"""Staff endpoints, included from stores.api.urls under /api/v1/."""

from django.urls import path

from . import staff_views

urlpatterns = [
    path(
        "stores/<code:store_code>/overrides/",
        staff_views.StoreOverrideListApi.as_view(),
        name="store-override-list",
    ),
    path(
        "stores/<code:store_code>/overrides/<code:dish_code>/",
        staff_views.StoreOverrideDetailApi.as_view(),
        name="store-override-detail",
    ),
]
