"""ASGI entry point: the web server of `make run` and of production."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# Django behind the entrance: the bound on requests in flight, the short path of enrolment.
django_application = get_asgi_application()

from portal.entrance import Entrance  # noqa: E402  (after Django's setup)

application = Entrance(django_application)
