from django.urls import path

from . import views

urlpatterns = [
    path("code/", views.AuthCodeApi.as_view(), name="auth-code"),
    path("token/", views.AuthTokenApi.as_view(), name="auth-token"),
    path("me/", views.AuthMeApi.as_view(), name="auth-me"),
]
