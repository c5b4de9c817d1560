"""Error codes: one enum per domain, every one published in the API schema as ErrorCodeEnum."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from django.test import Client
from rest_framework import exceptions as drf_exceptions

import imaging
import knowledge
import portal
import writer
from imaging.errors import ImagingErrorCode
from knowledge.errors import KnowledgeErrorCode
from portal.ai.errors import AIErrorCode
from portal.errors import PortalError, PortalErrorCode
from writer.errors import WriterErrorCode

DOMAINS = (PortalErrorCode, KnowledgeErrorCode, AIErrorCode, WriterErrorCode, ImagingErrorCode)


def _schema(client: Client) -> dict[str, Any]:
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    return dict(response.json())


def _published(client: Client) -> set[str]:
    return set(_schema(client)["components"]["schemas"]["ErrorCodeEnum"]["enum"])


def _subclasses(cls: type[PortalError]) -> set[type[PortalError]]:
    found: set[type[PortalError]] = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


@pytest.mark.django_db
def test_the_schema_gives_an_errors_code_as_the_named_enum(client: Client) -> None:
    error = _schema(client)["components"]["schemas"]["Error"]
    assert error["properties"]["code"]["allOf"] == [{"$ref": "#/components/schemas/ErrorCodeEnum"}]


@pytest.mark.django_db
def test_the_schema_lists_every_code_of_every_domain(client: Client) -> None:
    codes = {str(c) for enum in DOMAINS for c in enum}
    assert _published(client) == codes


def test_no_code_belongs_to_two_domains() -> None:
    values = [str(c) for enum in DOMAINS for c in enum]
    assert len(values) == len(set(values))


@pytest.mark.django_db
def test_every_domain_error_has_a_published_code(client: Client) -> None:
    for package in (portal, knowledge, writer, imaging):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".migrations." not in module.name and not module.name.endswith(("wsgi", "asgi")):
                importlib.import_module(module.name)
    published = _published(client)
    errors: set[type[PortalError]] = {PortalError, *_subclasses(PortalError)}
    assert len(errors) > 10
    assert {cls.__name__: cls.code for cls in errors if cls.code not in published} == {}


@pytest.mark.django_db
def test_every_code_of_the_frameworks_own_errors_is_published(client: Client) -> None:
    drf_codes = {
        cls.default_code
        for _name, cls in inspect.getmembers(drf_exceptions, inspect.isclass)
        if issubclass(cls, drf_exceptions.APIException)
    }
    assert drf_codes - _published(client) == set()
