"""Canteen API (canteen staff, HQ managers of the brand, superusers): top up one member
(idempotent per ``Idempotency-Key``), and check then apply a CSV batch of top-ups.

Each view validates its input, makes one service call and renders the result. Refusals are
``DomainError``s that ``config.api.exception_handler`` turns into ``{"code", "detail"}``: 400 bad
input, 403 not canteen staff, 404 a member, organisation or batch one does not manage (or none),
409 a state conflict (key reused for another top-up, a batch with errors, a file applied already).
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from canteen import services
from canteen.errors import CanteenConflict, CanteenForbidden
from canteen.models import SubsidyEntry
from canteen.selectors import batch_get_for_staff, may_manage_canteens, member_by_reference
from config.api import ErrorSerializer
from config.net import client_ip
from ordering.api.views import idempotency_key_from, idempotency_key_parameter

from .serializers import (
    BatchApplySerializer,
    BatchSerializer,
    BatchUploadInputSerializer,
    TopupCreateInputSerializer,
    TopupSerializer,
)

KEY_PREFIX = "api:"  # API keys never meet the pages' one-time form tokens

_UNAUTHENTICATED = OpenApiResponse(ErrorSerializer, description="Not logged in (session or token).")
_FORBIDDEN = OpenApiResponse(ErrorSerializer, description="`not_yours`: not canteen staff, HQ or a superuser.")
BATCH_ID = OpenApiParameter("batch_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Batch id.")


def _check_canteen_staff(user) -> None:
    if not may_manage_canteens(user):
        raise CanteenForbidden(_("Only canteen staff and HQ managers top up meal subsidies."))


class TopupCreateApi(APIView):
    """Top up one member's meal subsidy."""

    @extend_schema(
        operation_id="canteen_topups_create",
        summary="Top up a member's meal subsidy (canteen staff)",
        description=(
            "Credits `amount` CNY to the member's subsidy wallet. `member` is the member id (a JSON integer) "
            "or the member number (a JSON string). The same `Idempotency-Key` with the same body returns the "
            "same entry (200) and credits nothing; with another member, amount or note, 409 "
            "`idempotency_conflict`. Nothing is written when the top-up is refused."
        ),
        parameters=[idempotency_key_parameter(
            required=True, description="Unique per top-up (at most 100 visible ASCII characters), e.g. a UUID.")],
        request=TopupCreateInputSerializer,
        responses={
            201: TopupSerializer,
            200: OpenApiResponse(TopupSerializer, description="Replay of a key already used: the same entry."),
            400: OpenApiResponse(ErrorSerializer, description="Bad input: `idempotency_key_required`, "
                                 "`idempotency_key_invalid`, `invalid_amount`, `invalid_note`, `ambiguous_member`, "
                                 "`invalid` (shape)."),
            401: _UNAUTHENTICATED,
            403: _FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: no such member among the "
                                 "organisations you manage."),
            409: OpenApiResponse(ErrorSerializer, description="`idempotency_conflict`, `member_inactive`."),
        },
    )
    def post(self, request):
        _check_canteen_staff(request.user)
        key = idempotency_key_from(request, required=True)
        serializer = TopupCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        member = member_by_reference(user=request.user, reference=data["member"],
                                     organisation_id=data["organisation"])
        entry, created = services.subsidy_topup(
            actor=request.user, member_id=member.pk, amount=data["amount"], note=data["note"],
            idempotency_key=KEY_PREFIX + key, ip=client_ip(request),
        )
        if not created and entry.note != data["note"].strip():
            # The service compares member and amount; the API's contract is the whole body.
            raise CanteenConflict(_("This request key was already used for another top-up."),
                                  code="idempotency_conflict")
        entry = SubsidyEntry.objects.select_related("wallet__member").get(pk=entry.pk)
        return Response(TopupSerializer(entry).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class BatchCreateApi(APIView):
    """Upload a CSV of top-ups: every line is checked and the result kept to apply; nothing is credited."""

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="canteen_batches_create",
        summary="Check a CSV batch of top-ups (canteen staff)",
        description=(
            "Multipart: `organisation` (id) and `file` (CSV with a header naming `number`, `amount` and "
            "optionally `note`; UTF-8 or GBK; at most 2 MB and 5000 lines). Answers the preview: every row with "
            "its error (unknown or inactive member, bad amount, duplicate line), the error count and the total "
            "of the correct lines. Apply it with `POST /api/v1/canteen/batches/{batch_id}/apply/`."
        ),
        request={"multipart/form-data": BatchUploadInputSerializer},
        responses={
            201: BatchSerializer,
            400: OpenApiResponse(ErrorSerializer, description="The file cannot be read: `file_too_large`, "
                                 "`empty_file`, `invalid_file` (not UTF-8/GBK text, not CSV), `invalid_columns`, "
                                 "`too_many_lines`, `invalid` (no file or organisation)."),
            401: _UNAUTHENTICATED,
            403: _FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: not an organisation you manage."),
        },
    )
    def post(self, request):
        _check_canteen_staff(request.user)
        serializer = BatchUploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name, content = services.batch_read(serializer.validated_data["file"])
        batch = services.batch_preview(actor=request.user, organisation_id=serializer.validated_data["organisation"],
                                       file_name=name, content=content)
        return Response(BatchSerializer(batch).data, status=status.HTTP_201_CREATED)


class BatchApplyApi(APIView):
    """Apply a checked batch: every line or none, once."""

    @extend_schema(
        operation_id="canteen_batches_apply",
        summary="Apply a checked CSV batch (canteen staff)",
        description=(
            "Credits every line of the batch, or nothing. Applying it again answers 200 with "
            "`applied_now: false` and credits nothing; another upload of a file applied already is 409 "
            "`batch_applied_already`."
        ),
        parameters=[BATCH_ID],
        request=None,
        responses={
            200: BatchApplySerializer,
            401: _UNAUTHENTICATED,
            403: _FORBIDDEN,
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: not a batch of yours."),
            409: OpenApiResponse(ErrorSerializer, description="`batch_has_errors`, `batch_applied_already`, "
                                 "`member_inactive`."),
        },
    )
    def post(self, request, batch_id: int):
        _check_canteen_staff(request.user)
        batch = batch_get_for_staff(user=request.user, batch_id=batch_id)
        batch, applied_now = services.batch_apply(actor=request.user, batch_id=batch.pk, ip=client_ip(request))
        return Response(BatchApplySerializer(batch, context={"applied_now": applied_now}).data)
