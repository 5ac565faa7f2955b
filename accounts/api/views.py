"""Authentication API: SMS login codes and API tokens for customers."""

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.throttles import AuthCodeThrottle, AuthTokenThrottle
from config.api import ErrorSerializer
from config.net import client_ip

from .serializers import (
    AuthCodeInputSerializer,
    AuthCodeOutputSerializer,
    AuthTokenInputSerializer,
    AuthTokenOutputSerializer,
    MeOutputSerializer,
)

_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Bad input: malformed phone, wrong/expired/used-up code."),
    429: OpenApiResponse(ErrorSerializer, description="Too many codes for this phone, or too many requests."),
}


class AuthCodeApi(APIView):
    """Send a login code by SMS. The answer is the same whether or not the phone has an account."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthCodeThrottle]

    @extend_schema(
        operation_id="auth_code_send",
        request=AuthCodeInputSerializer,
        responses={202: AuthCodeOutputSerializer, **_ERRORS},
        auth=[],
    )
    def post(self, request):
        serializer = AuthCodeInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.sms_code_request(phone=serializer.validated_data["phone"], ip=client_ip(request))
        minutes = int(settings.SMS_CODE_TTL.total_seconds() // 60)
        detail = _("A login code has been sent by SMS. It is valid for %(minutes)d minutes.") % {"minutes": minutes}
        return Response({"detail": detail}, status=status.HTTP_202_ACCEPTED)


class AuthTokenApi(APIView):
    """Exchange a phone and its SMS code for an API token (the account is created at first login)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthTokenThrottle]

    @extend_schema(
        operation_id="auth_token_obtain",
        request=AuthTokenInputSerializer,
        responses={200: AuthTokenOutputSerializer, 403: ErrorSerializer, **_ERRORS},
        auth=[],
    )
    def post(self, request):
        serializer = AuthTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token = services.customer_token_obtain(
            phone=serializer.validated_data["phone"],
            code=serializer.validated_data["code"],
            ip=client_ip(request),
        )
        return Response({"token": token.key}, status=status.HTTP_200_OK)


class AuthMeApi(APIView):
    """The account of the caller (session or ``Authorization: Token <key>``)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="auth_me", responses={200: MeOutputSerializer})
    def get(self, request):
        return Response(MeOutputSerializer(request.user).data)
