from django.urls import path

from . import views, views_forecast

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<slug:table>.csv", views.dashboard_csv, name="dashboard-csv"),
    # --- forecast pages (reports/views_forecast.py, owned by h7b): add its url lines below ---
    path("forecast/", views_forecast.forecast, name="forecast"),
    path("forecast/export.csv", views_forecast.forecast_csv, name="forecast-csv"),
    path("forecast/<str:store_code>/apply/", views_forecast.forecast_apply, name="forecast-apply"),
]
