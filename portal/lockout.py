"""django-axes (it locks out repeated failed logins) under a Chinese name in the admin; its
models' and columns' names are translated in portal/locale. In a module of its own: Django
picks an app's configuration from its apps.py only when that module holds exactly one."""

from axes.apps import AppConfig as AxesAppConfig
from django.utils.translation import gettext_lazy as _


class AxesConfig(AxesAppConfig):
    verbose_name = _("登录防护")
