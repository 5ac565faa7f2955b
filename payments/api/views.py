"""Payments API: pay an order with a channel.

Validate, one ``payment_create`` call, render. An optional ``Idempotency-Key`` header maps a
replayed request to the payment it made, kept in the cache (no extra rows): the first request
claims the key with an atomic ``cache.add``, a concurrent twin gets 409 ``idempotency_in_progress``,
and a replay after success gets the same payment with 200. A refused request releases its key.
Without the header (or after the cache forgot it), paying more than is left is refused under
the order's row lock, so a retried request never charges twice either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from django.core.cache import cache
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DomainError, ErrorSerializer
from config.net import client_ip
from ordering.api.serializers import PICKUP_CODE_VISIBLE
from ordering.api.views import ORDER_ID, idempotency_key_from, idempotency_key_parameter
from ordering.errors import IdempotencyConflict
from payments.gateways import PaymentAction
from payments.models import Payment
from payments.services import payment_create
from payments.throttles import CardNumberThrottle

from .serializers import PaymentCreateInputSerializer, PaymentCreateOutputSerializer

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
IDEMPOTENCY_CLAIM_SECONDS = 60  # a request that dies mid-way frees its key after this


def _idempotency_slot(user, key: str) -> str:
    return f"api:payment-idempotency:{user.pk}:{hashlib.sha256(key.encode()).hexdigest()}"


def _fingerprint(order_id, data: dict) -> str:
    payload = {"order": str(order_id), **{name: str(value) for name, value in data.items()}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def payment_representation(payment: Payment, action: PaymentAction) -> dict:
    order = payment.order
    return PaymentCreateOutputSerializer({
        "payment": payment,
        "status": payment.status,
        "action": asdict(action),
        "order": {
            "id": order.pk,
            "status": order.status,
            "pickup_code": order.pickup_code if order.status in PICKUP_CODE_VISIBLE and order.pickup_code else None,
        },
    }).data


def _replayed(slot: str, fingerprint: str, user) -> dict | None:
    """The answer already given for this key, ``None`` when the key is free (then claimed by us)."""
    for _attempt in range(2):
        stored = cache.get(slot)
        if stored is None:
            if cache.add(slot, {"fingerprint": fingerprint, "payment": None}, IDEMPOTENCY_CLAIM_SECONDS):
                return None
            continue  # claimed by a twin between our get and add: look again
        if stored["fingerprint"] != fingerprint:
            raise IdempotencyConflict(_("This Idempotency-Key was already used for a different payment."))
        if stored["payment"] is None:
            raise IdempotencyConflict(
                _("A payment with this Idempotency-Key is in progress; ask again in a moment."),
                code="idempotency_in_progress",
            )
        payment = Payment.objects.select_related("order").filter(pk=stored["payment"], created_by=user).first()
        if payment is not None:
            return payment_representation(payment, PaymentAction(**stored["action"]))
        cache.delete(slot)
    raise IdempotencyConflict(  # pragma: no cover - the cache lost the key twice in a row
        _("A payment with this Idempotency-Key is in progress; ask again in a moment."),
        code="idempotency_in_progress",
    )


class OrderPaymentCreateApi(APIView):
    """Pay (part of) an order. Wallet channels (gift card) settle at once; the order is paid when covered."""

    @extend_schema(
        operation_id="orders_payments_create",
        summary="Pay an order",
        parameters=[
            ORDER_ID,
            idempotency_key_parameter(
                required=False,
                description="Optional: a replay with the same key and body returns the same payment (200).",
            ),
        ],
        request=PaymentCreateInputSerializer,
        responses={
            201: PaymentCreateOutputSerializer,
            200: OpenApiResponse(PaymentCreateOutputSerializer, description="Replay of an Idempotency-Key."),
            400: OpenApiResponse(
                ErrorSerializer,
                description="`unknown_channel`, `invalid_gift_card`, `invalid_amount`, `idempotency_key_invalid`.",
            ),
            401: OpenApiResponse(ErrorSerializer, description="Not logged in (session or token)."),
            403: OpenApiResponse(
                ErrorSerializer, description="`not_yours` (staff-only channel), `account_frozen`."
            ),
            404: OpenApiResponse(ErrorSerializer, description="No such order (or not yours)."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Nothing was charged: `insufficient_balance`, `order_expired`, `order_cancelled`, "
                "`already_paid`, `over_total`, `payment_not_allowed`, `idempotency_conflict`, "
                "`idempotency_in_progress`.",
            ),
        },
    )
    def post(self, request, order_id):
        key = idempotency_key_from(request, required=False)
        serializer = PaymentCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        slot = _idempotency_slot(request.user, key) if key else None
        if slot is not None:
            replay = _replayed(slot, _fingerprint(order_id, data), request.user)
            if replay is not None:
                return Response(replay, status=status.HTTP_200_OK)
        if data.get("gift_card_code"):
            numbers = CardNumberThrottle(request.user)
            if numbers.blocked():
                if slot is not None:
                    cache.delete(slot)
                raise DomainError(_("Too many card numbers tried; try again later."), code="throttled",
                                  status_code=429)
            numbers.hit()
        try:
            result = payment_create(
                actor=request.user, order_id=order_id, channel=data["channel"], params=serializer.service_params(),
                amount=data.get("amount"), ip=client_ip(request),
            )
        except BaseException:
            if slot is not None:
                cache.delete(slot)
            raise
        if slot is not None:
            cache.set(
                slot,
                {"fingerprint": _fingerprint(order_id, data), "payment": str(result.payment.pk),
                 "action": asdict(result.action)},
                IDEMPOTENCY_TTL_SECONDS,
            )
        return Response(payment_representation(result.payment, result.action), status=status.HTTP_201_CREATED)
