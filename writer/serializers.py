"""What the Write API answers (its input is checked by the services, field by field)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from writer import markdown
from writer.models import Draft, DraftSection, DraftStatus, WritingTemplate


class TemplateFieldSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    type = serializers.ChoiceField(
        choices=["text", "long_text", "date", "number", "choice", "unit"]
    )
    required = serializers.BooleanField()  # type: ignore[assignment]
    choices = serializers.ListField(child=serializers.CharField())
    max_length = serializers.IntegerField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    decimals = serializers.IntegerField(
        allow_null=True,
        help_text="A number field's decimal places: 0 takes whole numbers only; null for "
        "other types.",
    )
    help = serializers.CharField()


class TemplateSerializer(serializers.ModelSerializer[WritingTemplate]):
    fields = serializers.SerializerMethodField(method_name="fields_of")  # type: ignore[assignment]

    class Meta:
        model = WritingTemplate
        fields = ["slug", "title", "kind", "description", "version", "fields"]

    @extend_schema_field(TemplateFieldSerializer(many=True))
    def fields_of(self, template: WritingTemplate) -> list[dict[str, Any]]:
        return [
            {
                "name": f["name"],
                "label": f["label"],
                "type": f["type"],
                "required": f["required"],
                "choices": list(f.get("choices") or []),
                "max_length": f.get("max_length"),
                "min": f.get("min"),
                "max": f.get("max"),
                "decimals": f.get("decimals", 0) if f["type"] == "number" else None,
                "help": f.get("help", ""),
            }
            for f in template.definition.get("fields", [])
        ]


class DraftRequestSerializer(serializers.Serializer[Any]):
    template = serializers.CharField(help_text="The template's slug.")
    fields = serializers.DictField(  # type: ignore[assignment]
        help_text="The form: field name → value. A required field sent empty is refused "
        "(400 bad_fields, per field); a `unit` field left out takes the drafter's union unit."
    )


class CitationSerializer(serializers.Serializer[Any]):
    n = serializers.IntegerField()
    label = serializers.CharField()  # type: ignore[assignment]
    text = serializers.CharField()
    url = serializers.CharField()


class SectionSerializer(serializers.ModelSerializer[DraftSection]):
    status = serializers.CharField(source="display_status")
    citations = serializers.SerializerMethodField()
    html = serializers.SerializerMethodField()

    class Meta:
        model = DraftSection
        fields = [
            "position",
            "heading",
            "status",
            "content",
            "html",
            "citations",
            "version",
            "error",
            "by_model",
            "extra_instruction",
        ]

    @extend_schema_field(CitationSerializer(many=True))
    def get_citations(self, section: DraftSection) -> list[dict[str, Any]]:
        return [
            {
                "n": c["n"],
                "label": c["label"],
                "text": c["text"],
                "url": reverse("ask_document", args=[c["document_id"]]) + f"#seg-{c['segment_id']}",
            }
            for c in section.citations
        ]

    def get_html(self, section: DraftSection) -> str:
        return markdown.render(section.content, anchor=f"s{section.position}")


class ProgressSerializer(serializers.Serializer[Any]):
    done = serializers.IntegerField()
    total = serializers.IntegerField()


class DraftSerializer(serializers.ModelSerializer[Draft]):
    status = serializers.ChoiceField(
        choices=DraftStatus.choices,
        read_only=True,
        help_text="queued, generating, ready; once every section has ended with failures: "
        "partial (some sections written) or failed (none written).",
    )
    progress = serializers.SerializerMethodField()
    sections = SectionSerializer(many=True)
    template = serializers.CharField(source="template_title")

    class Meta:
        model = Draft
        fields = [
            "id",
            "status",
            "progress",
            "title",
            "template",
            "version_number",
            "issuer",
            "recipient",
            "doc_date",
            "created_at",
            "sections",
        ]

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, draft: Draft) -> dict[str, int]:
        return {"done": draft.sections_done, "total": draft.sections_total}


class DraftCreatedSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    status = serializers.CharField()


class RegenerateSerializer(serializers.Serializer[Any]):
    instruction = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="补充要求 for the model. Without a writer model the section is the template's "
        "text again and an instruction is refused (503 instruction_needs_model); send none.",
    )


class SectionSaveSerializer(serializers.Serializer[Any]):
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    version = serializers.IntegerField()


class ExportStatusSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    detail = serializers.CharField(required=False)


class ToolRequestSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(trim_whitespace=False)
    draft = serializers.IntegerField(required=False, help_text="规范检查 uses its style guide")


class FindingSerializer(serializers.Serializer[Any]):
    line = serializers.IntegerField()
    column = serializers.IntegerField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    rule = serializers.CharField()
    message = serializers.CharField()
    fix = serializers.CharField()
