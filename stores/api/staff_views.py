"""Staff API: the overrides of one store (store managers, kitchen staff, HQ)."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.net import client_ip
from stores.models import Dish, Store, StoreDishOverride
from stores.selectors import store_ids_visible_to
from stores.services import StoreAccessDenied, override_set

from .staff_serializers import StoreOverridePatchSerializer, StoreOverrideSerializer

ERROR = inline_serializer("StaffError", fields={"code": serializers.CharField(), "detail": serializers.JSONField()})


def _require(user, perm: str) -> None:
    """403 unless the user holds ``perm`` (frozen staff hold none: see accounts.backends)."""
    if getattr(user, "is_frozen", False) or not user.has_perm(perm):
        raise StoreAccessDenied(_("You do not have permission to do this."))


def _store_for_staff(user, store_code: str) -> Store:
    """The store by code: 404 when unknown, 403 when it is not one of the user's stores."""
    store = Store.objects.filter(code=store_code).select_related("brand").first()
    if store is None:
        raise Http404
    allowed = store_ids_visible_to(user)
    if allowed is not None and store.pk not in allowed:
        raise StoreAccessDenied()
    return store


class StoreOverrideListApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="store_overrides_list",
        summary="Per-store overrides of one store (staff)",
        responses={200: StoreOverrideSerializer(many=True), 401: ERROR, 403: ERROR, 404: ERROR},
    )
    def get(self, request, store_code: str):
        _require(request.user, "stores.view_storedishoverride")
        store = _store_for_staff(request.user, store_code)
        overrides = (
            StoreDishOverride.objects.filter(store=store, brand_id=store.brand_id)
            .select_related("dish")
            .order_by("dish__category__sort_order", "dish__sort_order", "dish__code")
        )
        return Response(StoreOverrideSerializer(overrides, many=True).data)


class StoreOverrideDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="store_override_update",
        summary="Change one dish in one store (creates the override if missing)",
        request=StoreOverridePatchSerializer,
        responses={
            200: StoreOverrideSerializer,
            400: OpenApiResponse(ERROR, description="Bad values"),
            401: ERROR,
            403: OpenApiResponse(ERROR, description='Not one of your stores ({"code": "not_yours"})'),
            404: ERROR,
        },
    )
    def patch(self, request, store_code: str, dish_code: str):
        _require(request.user, "stores.change_storedishoverride")
        store = _store_for_staff(request.user, store_code)
        dish = Dish.objects.filter(brand_id=store.brand_id, code=dish_code).first()
        if dish is None:
            raise Http404
        serializer = StoreOverridePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        override = override_set(
            actor=request.user, store=store, dish=dish, ip=client_ip(request),
            **serializer.service_fields(),
        )
        override.dish = dish
        return Response(StoreOverrideSerializer(override).data)
