"""Public read API: stores nearest first, and one store's menu."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorSerializer
from stores import selectors

from .serializers import (
    StoreListQuerySerializer,
    StoreMenuSerializer,
    StoreSerializer,
    store_menu_representation,
)

LANGUAGE_HEADER = OpenApiParameter(
    name="Accept-Language",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description="zh-hans (default) or en: the language of names and descriptions.",
)


class StoreListApi(generics.ListAPIView):
    """Stores of active brands; nearest first when lat and lng are given."""

    permission_classes = [AllowAny]
    serializer_class = StoreSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.store_list_public()
        query = StoreListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return selectors.store_list_public(city=data.get("city") or None, lat=data.get("lat"), lng=data.get("lng"))

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": selectors.local_now()}

    @extend_schema(
        operation_id="stores_list",
        summary="List stores, nearest first",
        parameters=[StoreListQuerySerializer, LANGUAGE_HEADER],
        responses={200: StoreSerializer(many=True), 400: OpenApiResponse(ErrorSerializer, "Invalid query")},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class StoreMenuApi(APIView):
    """One store's menu: categories, dishes, the store's price, availability and stock.

    Option groups come once at the top level; each dish lists the codes of its groups.
    The response is built from the selector's plain data (StoreMenuSerializer documents it).
    """

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="stores_menu_retrieve",
        summary="A store's menu",
        parameters=[
            OpenApiParameter("store_code", OpenApiTypes.STR, OpenApiParameter.PATH, description="Store code."),
            LANGUAGE_HEADER,
        ],
        responses={200: StoreMenuSerializer, 404: OpenApiResponse(ErrorSerializer, "Unknown store")},
    )
    def get(self, request, store_code: str):
        store = selectors.store_get_public(code=store_code)
        menu = selectors.store_menu(store=store)
        return Response(store_menu_representation(menu, now=selectors.local_now()))
