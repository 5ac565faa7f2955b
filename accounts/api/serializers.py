from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.models import User


class AuthCodeInputSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=20, help_text=_("Mainland China mobile number, e.g. 13800000001."))


class AuthTokenInputSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=20)
    code = serializers.CharField(max_length=6, help_text=_("The 6-digit code from the SMS."))


class AuthCodeOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AuthTokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "phone", "name", "role", "is_frozen", "frozen_reason"]
        read_only_fields = fields


