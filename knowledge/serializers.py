"""API shapes of the knowledge base. Validation of input only; the services do the work."""

from __future__ import annotations

from typing import Any

from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from knowledge.ingest import MAX_SEGMENT_CHARS
from knowledge.models import (
    AuthorityLevel,
    Category,
    Conversation,
    Document,
    DocumentKind,
    DocumentStatus,
    FaqEntry,
    LexiconEntry,
    LexiconKind,
    Message,
    Rating,
    Segment,
)
from knowledge.retrieval import MAX_QUESTION_CHARS
from knowledge.text import normalise
from portal.privacy import mask_personal_numbers


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    class Meta:
        model = Segment
        fields = ("id", "position", "heading", "context", "text", "enabled", "edited_at")
        read_only_fields = ("id", "position", "heading", "context", "edited_at")


class SegmentUpdateSerializer(serializers.Serializer[None]):
    text = serializers.CharField(required=False, max_length=MAX_SEGMENT_CHARS)
    enabled = serializers.BooleanField(required=False)


class DocumentSerializer(serializers.ModelSerializer[Document]):
    category: serializers.SlugRelatedField[Category] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    segment_count = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = (
            "id",
            "title",
            "category",
            "kind",
            "source",
            "tags",
            "effective_from",
            "expires_on",
            "authority",
            "promulgated_on",
            "status",
            "version",
            "content_hash",
            "segment_count",
            "created_at",
            "updated_at",
            "published_at",
        )
        read_only_fields = fields

    def get_segment_count(self, document: Document) -> int:
        # Lists annotate the count (n_segments); a single document counts its own.
        counted = getattr(document, "n_segments", None)
        return int(counted) if counted is not None else document.segments.count()


class DocumentDetailSerializer(DocumentSerializer):
    segments = SegmentSerializer(many=True, read_only=True)

    class Meta(DocumentSerializer.Meta):
        fields = (*DocumentSerializer.Meta.fields, "body", "segments")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


class DocumentInputSerializer(serializers.Serializer[None]):
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    kind = serializers.ChoiceField(choices=DocumentKind.choices, default=DocumentKind.OTHER)
    source = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    tags = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, default=list
    )
    effective_from = serializers.DateField(required=False, allow_null=True, default=None)
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    authority = serializers.ChoiceField(
        choices=AuthorityLevel.choices,
        required=False,
        allow_blank=True,
        default="",
        help_text="效力层级; blank: guessed from the title and the text",
    )
    promulgated_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        help_text="the latest adoption or amendment date; null: read from the text's header",
    )
    body = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    file = serializers.FileField(required=False)
    status = serializers.ChoiceField(
        choices=[DocumentStatus.DRAFT, DocumentStatus.REVIEW, DocumentStatus.PUBLISHED],
        default=DocumentStatus.DRAFT,
    )


class StatusSerializer(serializers.Serializer[None]):
    status = serializers.ChoiceField(choices=DocumentStatus.choices)


class FaqSerializer(serializers.ModelSerializer[FaqEntry]):
    category = serializers.SlugRelatedField(slug_field="slug", queryset=Category.objects.all())
    segments = serializers.PrimaryKeyRelatedField(
        many=True, queryset=Segment.objects.all(), required=False
    )
    variants = serializers.ListField(
        child=serializers.CharField(max_length=300), required=False, default=list
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=30), required=False, default=list
    )

    class Meta:
        model = FaqEntry
        fields = (
            "id",
            "question",
            "variants",
            "answer",
            "category",
            "segments",
            "tags",
            "status",
            "updated_at",
        )
        read_only_fields = ("id", "updated_at")


class LexiconSerializer(serializers.ModelSerializer[LexiconEntry]):
    kind = serializers.ChoiceField(choices=LexiconKind.choices)
    targets = serializers.ListField(
        child=serializers.CharField(max_length=60), required=False, default=list
    )

    class Meta:
        model = LexiconEntry
        fields = ("id", "kind", "phrase", "targets", "updated_at")
        read_only_fields = ("id", "updated_at")


class SearchRequestSerializer(serializers.Serializer[None]):
    question = serializers.CharField(max_length=MAX_QUESTION_CHARS * 40)
    k = serializers.IntegerField(min_value=1, max_value=20, default=3)


class PassageSerializer(serializers.Serializer[None]):
    segment_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    title = serializers.CharField()
    heading = serializers.CharField()
    context = serializers.CharField()  # type: ignore[assignment]
    text = serializers.CharField()
    category = serializers.CharField()
    score = serializers.FloatField()
    coverage = serializers.FloatField()
    matched = serializers.ListField(
        child=serializers.CharField(),
        source="words",
        help_text="The words of the question the passage holds (not single characters).",
    )


class ExpansionSerializer(serializers.Serializer[None]):
    phrase = serializers.CharField()
    target = serializers.CharField()
    kind = serializers.CharField()


class SearchResultSerializer(serializers.Serializer[Any]):
    question = serializers.CharField()
    abstained = serializers.BooleanField()
    passages = PassageSerializer(many=True)
    tokens = serializers.ListField(child=serializers.CharField(), source="analysis.tokens")
    expansions = ExpansionSerializer(many=True, source="analysis.expansions")
    elapsed_ms = serializers.FloatField()


class QuestionField(serializers.CharField):
    """A question as Ask keeps it: runs of white space made one. Its length is counted as Ask's
    own check counts it (numbers masked, the text normalised), so pasted padding or a spaced-out
    mobile number does not count against MAX_QUESTION_CHARS; beyond it the ask API answers
    question_too_long. The schema publishes the same maximum."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", MAX_QUESTION_CHARS)
        kwargs.setdefault(
            "error_messages", {"max_length": _("问题太长了，请精简到 {max_length} 字以内。")}
        )
        super().__init__(**kwargs)
        # Counted in to_internal_value instead of on the raw text.
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]

    def to_internal_value(self, data: Any) -> str:
        text = " ".join(str(super().to_internal_value(data)).split())
        if self.max_length is not None and len(normalise(mask_personal_numbers(text))) > (
            self.max_length
        ):
            self.fail("max_length", max_length=self.max_length)
        return text


class AskRequestSerializer(serializers.Serializer[None]):
    # Labels in Chinese: a refusal names the field the way the member reads it.
    question = QuestionField(label=_("问题"))
    conversation = serializers.IntegerField(
        label=_("对话"), required=False, allow_null=True, min_value=1
    )
    stream = serializers.BooleanField(label=_("流式输出"), required=False, default=False)


class MessageSerializer(serializers.ModelSerializer[Message]):
    class Meta:
        model = Message
        fields = [
            "id",
            "role",
            "text",
            "mode",
            "abstained",
            "fallback",
            "status",
            "citations",
            "timings",
            "rating",
            "reason",
            "created_at",
        ]


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    class Meta:
        model = Conversation
        fields = ["id", "title", "created_at", "updated_at"]


class ConversationDetailSerializer(ConversationSerializer):
    messages = MessageSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "messages"]


class FeedbackSerializer(serializers.Serializer[None]):
    rating = serializers.ChoiceField(choices=Rating.choices)
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
