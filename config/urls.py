from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.forms import StaffAuthenticationForm

from . import views

api_v1 = [
    path("auth/", include("accounts.api.urls")),
    path("", include("stores.api.urls")),
    path("", include("ordering.api.urls")),
    path("", include("payments.api.urls")),
    path("", include("refunds.api.urls")),
    path("", include("canteen.api.urls")),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="stores:store-list", permanent=False)),
    path("healthz/", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("stores/", include("stores.urls")),
    path("reports/", include("reports.urls")),
    path("", include("ordering.urls")),
    path("", include("payments.urls")),
    path("", include("refunds.urls")),
    path("canteen/", include("canteen.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *([path("paysim/", include("payments.sandbox.urls"))] if settings.PAYSIM.get("mount") else []),  # the sandbox
]

admin.site.site_header = settings.ADMIN_SITE_HEADER
admin.site.site_title = settings.ADMIN_SITE_HEADER
admin.site.index_title = settings.ADMIN_INDEX_TITLE
admin.site.login_form = StaffAuthenticationForm  # refuses frozen staff with a clear message

handler404 = "config.views.not_found"
