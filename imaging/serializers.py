"""API representations of Draw."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from imaging.catalogue import MAX_PROMPT_CHARS, MAX_TEXT_CHARS, PURPOSES, STYLES
from imaging.models import ImageRequest, ImageResult
from imaging.services import requests
from portal.jobs import JobStatus


class TextsSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS * 2)
    subtitle = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT_CHARS * 2
    )
    date = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS * 2)
    place = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_CHARS * 2)
    organiser = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_TEXT_CHARS * 2
    )


class ImageRequestCreateSerializer(serializers.Serializer[Any]):
    # Lengths are checked by the service (its Chinese message and code), not here.
    prompt = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        trim_whitespace=False,
        help_text=f"At most {MAX_PROMPT_CHARS} characters. Required while an imaging model is "
        "configured (GET /api/v1/ai/features/); without one the request is a template layout "
        "of its texts (texts.title required), nothing draws the description, and it counts "
        "against the day's layouts, not the AI images.",
    )
    purpose = serializers.ChoiceField(choices=[(p, str(v.label)) for p, v in PURPOSES.items()])
    size = serializers.CharField(
        required=False, help_text='e.g. "1024x1024"; the purpose\'s first by default'
    )
    style = serializers.ChoiceField(  # type: ignore[assignment]  # a declared field, not Field.style
        choices=[(s, str(v.label)) for s, v in STYLES.items()], required=False, allow_blank=True
    )
    texts = TextsSerializer(required=False)
    seed = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=2**32 - 1
    )
    variations = serializers.IntegerField(required=False, default=1)
    preset = serializers.IntegerField(
        required=False, allow_null=True, help_text="one of my style presets"
    )


class RefineSerializer(serializers.Serializer[Any]):
    prompt = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    keep_seed = serializers.BooleanField(required=False, default=True)
    variations = serializers.IntegerField(required=False, default=1)


class TakeDownSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(allow_blank=True, max_length=200)


class ImageResultSerializer(serializers.ModelSerializer[ImageResult]):
    url = serializers.SerializerMethodField(help_text="the labelled file (owner only)")
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ImageResult
        fields = ["id", "url", "thumbnail_url", "width", "height", "seed"]

    def get_url(self, result: ImageResult) -> str:
        return reverse("api_image_file", args=[result.pk])

    def get_thumbnail_url(self, result: ImageResult) -> str:
        return reverse("api_image_thumbnail", args=[result.pk])


class ImageRequestSerializer(serializers.ModelSerializer[ImageRequest]):
    status = serializers.ChoiceField(choices=JobStatus.choices)
    queue_position = serializers.SerializerMethodField()
    size = serializers.CharField()
    step_label = serializers.CharField()
    taken_down = serializers.SerializerMethodField()
    results = serializers.SerializerMethodField()

    class Meta:
        model = ImageRequest
        fields = [
            "id",
            "status",
            "queue_position",
            "error",
            "prompt",
            "revised_prompt",
            "purpose",
            "size",
            "style",
            "texts",
            "variations",
            "mode",
            "parent",
            "root",
            "step",
            "step_label",
            "change_note",
            "created_at",
            "finished_at",
            "taken_down",
            "results",
        ]

    def get_queue_position(self, request: ImageRequest) -> int | None:
        return requests.queue_position(request)

    def get_taken_down(self, request: ImageRequest) -> str | None:
        return request.takedown_reason if request.is_taken_down else None

    def get_results(self, request: ImageRequest) -> list[dict[str, Any]]:
        if request.is_taken_down:
            return []
        return list(ImageResultSerializer(request.results.all(), many=True).data)
