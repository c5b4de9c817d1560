"""Where a change came from: AuditOrigin, built once by a view and never by a service."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from django.http import HttpRequest
from django.test import RequestFactory

import knowledge.services
import portal.ai.services
import portal.services
from portal.audit import AuditOrigin
from portal.models import AuditAction, AuditEvent, BetaProgramme, User
from portal.services import beta
from tests import people


def test_an_origin_takes_the_address_the_last_trusted_proxy_saw(settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8", HTTP_USER_AGENT="ua"
    )
    assert AuditOrigin.of(request) == AuditOrigin(address="5.6.7.8", user_agent="ua")


def test_an_origin_ignores_forwarded_addresses_without_a_trusted_proxy(settings) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert AuditOrigin.of(request).address == "10.0.0.1"


@pytest.mark.django_db
def test_a_change_a_command_makes_is_recorded_without_an_address(
    open_programme: BetaProgramme, alice: User, bob: User, ada: User, units
) -> None:
    beta.enrol(alice, open_programme)
    beta.enrol(bob, open_programme)
    beta.enrol(people.make_user("carol", unit=units["factory"], serial=50), open_programme)
    open_programme.capacity = 3
    open_programme.save(update_fields=["capacity"])
    beta.promote_waitlist(open_programme, actor=ada)
    event = AuditEvent.objects.get(action=AuditAction.BETA_PROMOTED)
    assert (event.actor, event.ip_address, event.user_agent) == (ada, None, "")


def test_no_service_takes_a_request() -> None:
    modules = [portal.ai.services]
    for package in (portal.services, knowledge.services):
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            modules.append(importlib.import_module(info.name))
    taking_requests = [
        f"{module.__name__}.{name}({parameter})"
        for module in modules
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        for parameter, hint in inspect.get_annotations(function, eval_str=True).items()
        if parameter == "request" or hint is HttpRequest or "HttpRequest" in str(hint)
    ]
    assert len(modules) > 5
    assert taking_requests == []
