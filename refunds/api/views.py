"""Refunds API: ask for the code, ask for a refund, read it, withdraw it, send it elsewhere.

Each view validates the shape of its input, makes one service call and renders the request as
``refund_view`` describes it. Refusals are ``DomainError``s rendered as ``{"code", "detail"}``
by ``config.api.exception_handler``; nothing is written when a call is refused.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ErrorSerializer
from config.net import client_ip
from ordering.api.views import ORDER_ID

from .. import selectors, services
from ..errors import RefundNotFound
from .serializers import (
    RefundCodeOutputSerializer,
    RefundCreateInputSerializer,
    RefundDestinationInputSerializer,
    RefundSerializer,
)

REFUND_ID = OpenApiParameter("refund_id", str, OpenApiParameter.PATH, description="Refund request id (UUID).")
_UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="Not logged in (session or token).")
_NOT_FOUND = OpenApiResponse(ErrorSerializer, description="No such order or refund (or not yours).")


def refund_for(user, refund_id):
    """The caller's own request, or for staff a request of a store they work at."""
    try:
        return selectors.refund_get_for_customer(user=user, refund_id=refund_id)
    except RefundNotFound:
        if not getattr(user, "is_staff", False):
            raise
    return selectors.refund_get_for_staff(user=user, refund_id=refund_id)


def refund_representation(refund) -> dict:
    return RefundSerializer(selectors.refund_view(refund)).data


def _fresh(refund) -> dict:
    """The representation of a request a service call has just committed (and the caller was
    allowed to act on): its lines and shares are read, the request itself is the service's."""
    return refund_representation(selectors.refund_with_details(refund))


class OrderRefundCodeApi(APIView):
    """Send the SMS code a refund request needs (the second factor) to the order's customer."""

    @extend_schema(
        operation_id="orders_refunds_code",
        summary="Send the refund confirmation code",
        parameters=[ORDER_ID],
        request=None,
        responses={
            200: RefundCodeOutputSerializer,
            401: _UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="`account_frozen`."),
            404: _NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="`not_paid`, `already_refunded`, `too_late`."),
            429: OpenApiResponse(ErrorSerializer, description="A code was sent a moment ago, or too many today."),
        },
    )
    def post(self, request, order_id):
        sent_to = services.refund_code_send(actor=request.user, order_id=order_id, ip=client_ip(request))
        return Response({"sent_to": sent_to})


class OrderRefundCreateApi(APIView):
    """Ask for a refund of a whole order (no ``lines``) or of some portions of its lines."""

    @extend_schema(
        operation_id="orders_refunds_create",
        summary="Ask for a refund",
        description=(
            "Needs a fresh SMS code (`POST .../refunds/code/`). Small refunds of orders not yet being "
            "prepared are approved at once (`approved`, then `processing` / `succeeded`); the rest wait "
            "for review (`pending_review`, with `review_deadline`)."
        ),
        parameters=[ORDER_ID],
        request=RefundCreateInputSerializer,
        responses={
            201: RefundSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid_lines`, `invalid_quantity`, "
                                 "`invalid_reason`, a missing or wrong `code`."),
            401: _UNAUTHENTICATED,
            403: OpenApiResponse(ErrorSerializer, description="`account_frozen` (also when this request froze it)."),
            404: _NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="`not_paid`, `already_refunded`, `too_late`, "
                                 "`exceeds_refundable`."),
        },
    )
    def post(self, request, order_id):
        body = RefundCreateInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        refund = services.refund_request_create(
            actor=request.user, order_id=order_id, lines=[dict(line) for line in data.get("lines") or []],
            reason_code=data["reason_code"], reason_text=data.get("reason_text", ""), code=data["code"],
            ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
        )
        return Response(_fresh(refund), status=status.HTTP_201_CREATED)


class RefundDetailApi(APIView):
    @extend_schema(
        operation_id="refunds_retrieve",
        summary="A refund request: status, amount, expected arrival, timeline",
        parameters=[REFUND_ID],
        responses={200: RefundSerializer, 401: _UNAUTHENTICATED, 404: _NOT_FOUND},
    )
    def get(self, request, refund_id):
        return Response(refund_representation(refund_for(request.user, refund_id)))


class RefundWithdrawApi(APIView):
    @extend_schema(
        operation_id="refunds_withdraw",
        summary="Withdraw a refund request while it waits for review",
        parameters=[REFUND_ID],
        request=None,
        responses={200: RefundSerializer, 401: _UNAUTHENTICATED, 404: _NOT_FOUND,
                   409: OpenApiResponse(ErrorSerializer, description="`not_withdrawable`: no longer in review.")},
    )
    def post(self, request, refund_id):
        refund = services.refund_withdraw(actor=request.user, refund_id=refund_id, ip=client_ip(request))
        return Response(_fresh(refund))


class RefundDestinationApi(APIView):
    @extend_schema(
        operation_id="refunds_destination",
        summary="Send a failed refund elsewhere: gift card credit or a bank transfer",
        parameters=[REFUND_ID],
        request=RefundDestinationInputSerializer,
        responses={200: RefundSerializer, 400: OpenApiResponse(ErrorSerializer, description=(
            "`invalid_destination`, `invalid_bank_account`.")), 401: _UNAUTHENTICATED, 404: _NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="`not_failed`: only a failed refund can move.")},
    )
    def post(self, request, refund_id):
        body = RefundDestinationInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        refund = services.refund_change_destination(
            actor=request.user, refund_id=refund_id, destination=data["destination"],
            bank_name=data.get("bank_name", ""), account_name=data.get("account_name", ""),
            account_number=data.get("account_number", ""), ip=client_ip(request),
        )
        return Response(_fresh(refund))
