"""Canteen API: the top-up body, the batch upload, and top-ups and batches as the API shows them.

Input serializers check shapes only; amounts, notes, CSV content and who may top up whom are
``canteen.services``'. Money goes out as strings ("50.00").
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from canteen.models import SubsidyEntry, TopupBatch
from canteen.services import NOTE_MAX

MAX_ID = 2**63 - 1


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}],
                      "description": "Member id (a JSON integer) or member number (a JSON string)."})
class MemberReferenceField(serializers.Field):
    """A member id (a JSON integer) or a member number (a JSON string, as in the campus-card system)."""

    default_error_messages = {
        "invalid": _("Give the member as an id (a number) or a member number (a string)."),
    }

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, int):
            if not 1 <= data <= MAX_ID:
                self.fail("invalid")
            return data
        if isinstance(data, str) and data.strip() and len(data.strip()) <= 32:
            return data.strip()
        self.fail("invalid")

    def to_representation(self, value):  # pragma: no cover - input only
        return value


class TopupCreateInputSerializer(serializers.Serializer):
    member = MemberReferenceField()
    organisation = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, default=None,
        help_text=_("Organisation id: needed only when a member number exists in several of your organisations."),
    )
    # Kept as text (a JSON number becomes its shortest text, 12.5 -> "12.5"); ``clean_amount``
    # decides what a valid top-up is, in Decimal.
    amount = serializers.CharField(max_length=20, help_text=_("CNY, more than 0, at most 2 decimals, e.g. \"50.00\"."))
    note = serializers.CharField(max_length=NOTE_MAX, required=False, allow_blank=True, default="")



class TopupSerializer(serializers.ModelSerializer):
    entry = serializers.IntegerField(source="pk", read_only=True)
    member = serializers.IntegerField(source="wallet_id", read_only=True)
    member_number = serializers.CharField(source="wallet.member.number", read_only=True)
    member_name = serializers.CharField(source="wallet.member.name", read_only=True)
    organisation = serializers.IntegerField(source="organisation_id", read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    balance_after = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = SubsidyEntry
        fields = ["entry", "member", "member_number", "member_name", "organisation", "amount", "balance_after",
                  "note", "created_at"]


class BatchUploadInputSerializer(serializers.Serializer):
    organisation = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("Organisation id."))
    file = serializers.FileField(allow_empty_file=True, max_length=200,
                                 help_text=_("CSV: number, amount[, note]; UTF-8 or GBK; at most 2 MB."))


class BatchRowSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    number = serializers.CharField()
    amount = serializers.CharField(help_text="The amount as checked, or as written when it is wrong.")
    note = serializers.CharField(allow_blank=True)
    member_id = serializers.IntegerField(allow_null=True)
    name = serializers.CharField(allow_blank=True)
    error = serializers.CharField(allow_blank=True, help_text="Empty when the line is correct.")


class BatchErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    error = serializers.CharField()


class BatchSerializer(serializers.ModelSerializer):
    batch = serializers.IntegerField(source="pk", read_only=True)
    organisation = serializers.IntegerField(source="organisation_id", read_only=True)
    status = serializers.CharField(read_only=True, help_text="previewed or applied.")
    total = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True,
                                     help_text="Sum of the correct lines.")
    rows = BatchRowSerializer(many=True, read_only=True)
    errors = serializers.SerializerMethodField()
    applied_by = serializers.SerializerMethodField()

    class Meta:
        model = TopupBatch
        fields = ["batch", "organisation", "file_name", "sha256", "status", "line_count", "error_count", "total",
                  "rows", "errors", "created_at", "applied_at", "applied_by"]

    @extend_schema_field(BatchErrorSerializer(many=True))
    def get_errors(self, batch: TopupBatch) -> list[dict]:
        return [{"line": row["line"], "error": row["error"]} for row in batch.rows if row["error"]]

    @extend_schema_field(OpenApiTypes.INT)
    def get_applied_by(self, batch: TopupBatch) -> int | None:
        return batch.applied_by_id


class BatchApplySerializer(BatchSerializer):
    applied_now = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "applied_now"]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_applied_now(self, batch: TopupBatch) -> bool:
        return bool(self.context.get("applied_now"))
