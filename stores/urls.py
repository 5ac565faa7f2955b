from django.urls import path

from . import views

# <code:...> is stores.converters.CodeConverter (registered in StoresConfig.ready).
app_name = "stores"
urlpatterns = [
    path("", views.store_list, name="store-list"),
    path("<code:code>/", views.store_detail, name="store-detail"),
]
