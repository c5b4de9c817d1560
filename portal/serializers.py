"""API representations of the portal app."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from imaging.errors import ImagingErrorCode
from knowledge.errors import KnowledgeErrorCode
from portal.ai.errors import AIErrorCode
from portal.errors import ErrorCode, PortalErrorCode
from portal.models import EnrolmentStatus
from writer.errors import WriterErrorCode

# Every code an error of the API may carry, one enum per domain; published in the schema as
# ErrorCodeEnum (SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
ERROR_CODES: tuple[ErrorCode, ...] = (
    *PortalErrorCode,
    *KnowledgeErrorCode,
    *AIErrorCode,
    *WriterErrorCode,
    *ImagingErrorCode,
)
ERROR_CODE_CHOICES = [(str(code), str(code)) for code in ERROR_CODES]
ERROR_CODE_VALUES = frozenset(str(code) for code in ERROR_CODES)


class TokenRequestSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class BetaProgrammeSerializer(serializers.Serializer[Any]):
    slug = serializers.SlugField()
    name = serializers.CharField()
    capacity = serializers.IntegerField()
    accepted = serializers.IntegerField()
    waitlisted = serializers.IntegerField()
    places_left = serializers.IntegerField()
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    is_open = serializers.BooleanField()
    my_status = serializers.ChoiceField(choices=EnrolmentStatus.choices, allow_null=True)
    my_waitlist_position = serializers.IntegerField(allow_null=True)


class EnrolmentSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=EnrolmentStatus.choices)
    waitlist_position = serializers.IntegerField(allow_null=True)


class MeSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    role = serializers.CharField()
    union_unit = serializers.CharField(allow_null=True)
    real_name = serializers.CharField(allow_null=True)
    id_number = serializers.CharField(allow_null=True, help_text="Masked form only.")
    verified = serializers.BooleanField()
    may_use_ai = serializers.BooleanField()


class ErrorSerializer(serializers.Serializer[Any]):
    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=ERROR_CODE_CHOICES, help_text="Stable, for programs; `detail` is for people."
    )
