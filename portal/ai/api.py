"""REST API of the model-service layer: which features have models, and (admins) providers."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal import permissions
from portal.ai import routing
from portal.ai.models import Feature, Provider
from portal.permissions import Perm
from portal.serializers import ErrorSerializer


class FeatureStatusSerializer(serializers.Serializer[Any]):
    feature = serializers.ChoiceField(choices=Feature.choices)
    available = serializers.BooleanField(help_text="whether a model serves the feature")


class ModelSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    capability = serializers.CharField()
    enabled = serializers.BooleanField()


class ProviderSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    kind = serializers.CharField()
    base_url = serializers.URLField()
    is_local = serializers.BooleanField()
    enabled = serializers.BooleanField()
    api_key = serializers.CharField(source="api_key_hint", help_text="masked, e.g. sk-…abcd")
    models = ModelSerializer(many=True, source="models.all")


class FeatureStatusView(APIView):
    @extend_schema(
        responses={200: FeatureStatusSerializer(many=True)},
        summary="Which AI features have a model (the others answer without one)",
    )
    def get(self, request: Request) -> Response:
        data = [
            {"feature": feature.value, "available": routing.has_models(feature.value)}
            for feature in Feature
        ]
        return Response(FeatureStatusSerializer(data, many=True).data)


class ProviderListView(APIView):
    permission_classes = [permissions.RequirePerm(Perm.MANAGE_PROVIDERS)]

    @extend_schema(
        responses={200: ProviderSerializer(many=True), 403: ErrorSerializer},
        summary="Model providers and their models (admins; keys masked)",
    )
    def get(self, request: Request) -> Response:
        providers = Provider.objects.prefetch_related("models")
        return Response(ProviderSerializer(providers, many=True).data)
