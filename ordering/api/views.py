"""Orders API: submit (idempotent), read, list and cancel one's orders; staff redeem pickup codes.

Each view validates its input, makes one service call and renders the result. Refusals are
``DomainError``s that ``config.api.exception_handler`` turns into ``{"code", "detail"}``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.db.models import Prefetch, prefetch_related_objects
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from config.api import ErrorSerializer
from config.net import client_ip
from ordering import selectors, services
from ordering.models import Order, OrderLine, OrderSource
from stores.errors import StoreNotFound
from stores.models import Store
from stores.selectors import store_get_public

from .serializers import (
    OrderCreateInputSerializer,
    OrderRedeemInputSerializer,
    OrderSerializer,
    OrderSummarySerializer,
)

IDEMPOTENCY_KEY_MAX = 100
_IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")  # visible ASCII, inner spaces


def idempotency_key_from(request, *, required: bool) -> str:
    """The ``Idempotency-Key`` header: "" when absent and optional; 400 when missing or malformed."""
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        if required:
            raise exceptions.ValidationError(
                _("Send an Idempotency-Key header (for example a UUID) so a retry never orders twice."),
                code="idempotency_key_required",
            )
        return ""
    if len(key) > IDEMPOTENCY_KEY_MAX or not _IDEMPOTENCY_KEY_RE.fullmatch(key):
        raise exceptions.ValidationError(
            _("The Idempotency-Key must be 1 to %(n)d visible ASCII characters.") % {"n": IDEMPOTENCY_KEY_MAX},
            code="idempotency_key_invalid",
        )
    return key


def idempotency_key_parameter(*, required: bool, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name="Idempotency-Key", type=OpenApiTypes.STR, location=OpenApiParameter.HEADER, required=required,
        description=description,
    )


class OrderCreateThrottle(SimpleRateThrottle):
    """Orders submitted per user (a script cannot reserve a store's whole stock).

    The rate comes from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["order_create"]`` when set.
    """

    scope = "order_create"
    default_rate = "30/min"

    def get_rate(self):
        return self.THROTTLE_RATES.get(self.scope) or self.default_rate

    def get_cache_key(self, request, view):
        ident = request.user.pk if request.user and request.user.is_authenticated else self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class OrderPagination(LimitOffsetPagination):
    default_limit = 20
    max_limit = 100


def order_representation(order: Order, *, money: selectors.OrderMoney | None = None) -> dict:
    """The order as ``OrderSerializer`` renders it: lines (one query unless prefetched) and money facts.

    ``money`` when the caller knows them already (an order just submitted has no payment yet);
    otherwise they are read (``order_money``).
    """
    prefetch_related_objects([order], Prefetch("lines", queryset=OrderLine.objects.order_by("position")))
    if money is None:
        money = selectors.order_money(order)
    return OrderSerializer(order, context={"money": money}).data


def _unpaid(order: Order) -> selectors.OrderMoney:
    """The money facts of an order created by this very request: nothing paid or refunded yet."""
    return selectors.OrderMoney(total=order.total, paid=Decimal("0.00"), refunded=Decimal("0.00"))


ORDER_ID = OpenApiParameter("order_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="Order id.")
STORE_CODE = OpenApiParameter("store_code", OpenApiTypes.STR, OpenApiParameter.PATH, description="Store code.")
_UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="Not logged in (session or token).")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such order (or not yours).")


class OrderListCreateApi(generics.ListAPIView):
    """``GET``: the caller's orders, newest first. ``POST``: submit an order (idempotent per key)."""

    serializer_class = OrderSummarySerializer
    pagination_class = OrderPagination

    def get_throttles(self):
        return [OrderCreateThrottle()] if self.request.method == "POST" else []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Order.objects.none()
        return selectors.order_list_for_customer(user=self.request.user)

    @extend_schema(
        operation_id="orders_list",
        summary="My orders, newest first",
        responses={200: OrderSummarySerializer(many=True), 401: _UNAUTHENTICATED},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="orders_create",
        summary="Submit an order",
        description=(
            "Reserves the stock and leaves the order awaiting payment until `expires_at`. The same "
            "`Idempotency-Key` with the same body returns the same order (200); with another body, 409 "
            "`idempotency_conflict`. Nothing is written when the order is refused."
        ),
        parameters=[
            idempotency_key_parameter(
                required=True, description="Unique per order attempt (at most 100 visible ASCII characters)."
            )
        ],
        request=OrderCreateInputSerializer,
        responses={
            201: OrderSerializer,
            200: OpenApiResponse(OrderSerializer, description="Replay of a key already used: the same order."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="Bad input: `idempotency_key_required`, `idempotency_key_invalid`, `invalid` "
                "(unknown dish, option, table...), `outside_delivery_area`.",
            ),
            401: _UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="`account_frozen`."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown store."),
            409: OpenApiResponse(
                ErrorSerializer, description="`sold_out`, `store_closed`, `idempotency_conflict`."
            ),
            429: OpenApiResponse(ErrorSerializer, description="Too many orders in a short time."),
        },
    )
    def post(self, request, *args, **kwargs):
        key = idempotency_key_from(request, required=True)
        serializer = OrderCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_get_public(code=serializer.validated_data["store"])
        result = services.order_submit(
            actor=request.user, store=store, source=OrderSource.API, idempotency_key=key, ip=client_ip(request),
            **serializer.service_fields(),
        )
        order = result.order
        # A new order's lines are on it already (the service keeps them) and nothing is paid yet;
        # a replay reads both.
        return Response(
            order_representation(order, money=_unpaid(order) if result.created else None),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class OrderDetailApi(APIView):
    """One of the caller's orders: status, lines, money facts and (once paid) the pickup code."""

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One of my orders",
        parameters=[ORDER_ID],
        responses={200: OrderSerializer, 401: _UNAUTHENTICATED, 404: _NOT_FOUND},
    )
    def get(self, request, order_id):
        order = selectors.order_get_for_customer(user=request.user, order_id=order_id)
        return Response(OrderSerializer(order, context={"money": selectors.order_money(order)}).data)


class OrderCancelApi(APIView):
    """Cancel an order awaiting payment; its stock comes back. A paid order is refunded instead."""

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an unpaid order",
        parameters=[ORDER_ID],
        request=None,
        responses={
            200: OrderSerializer,
            401: _UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="`not_yours`: staff of another store."),
            404: _NOT_FOUND,
            409: OpenApiResponse(
                ErrorSerializer, description="`conflict`: already paid, cancelled, or a payment is in progress."
            ),
        },
    )
    def post(self, request, order_id):
        order = services.order_cancel(actor=request.user, order_id=order_id, ip=client_ip(request))
        return Response(order_representation(order))


class StoreRedeemApi(APIView):
    """核销 (staff): the pickup code of a ready order at this store completes it."""

    @extend_schema(
        operation_id="stores_redeem",
        summary="Redeem a pickup code (staff)",
        parameters=[STORE_CODE],
        request=OrderRedeemInputSerializer,
        responses={
            200: OrderSerializer,
            400: OpenApiResponse(
                ErrorSerializer,
                description="The code cannot be redeemed: `malformed`, `wrong_code`, `used_code`, `expired_code`, "
                "`other_store`, `refunded`.",
            ),
            401: _UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="`not_yours`: not staff of this store."),
            404: OpenApiResponse(ErrorSerializer, description="Unknown store."),
            409: OpenApiResponse(ErrorSerializer, description="`not_ready`: the kitchen has not marked it ready."),
        },
    )
    def post(self, request, store_code: str):
        store = Store.objects.select_related("brand").filter(code=store_code).first()
        if store is None:
            raise StoreNotFound()
        serializer = OrderRedeemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.order_redeem(
            actor=request.user, store=store, pickup_code=serializer.validated_data["pickup_code"],
            ip=client_ip(request),
        )
        return Response(order_representation(order))
