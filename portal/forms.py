"""Forms of the portal pages: parse and validate input, nothing more."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from portal import idcard
from portal.models import UnionUnit, User


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _("用户名或密码不正确。连续输错多次后账户将被暂时锁定。"),
        "inactive": _("该账户已停用，请联系所在工会。"),
    }


def _id_number_field() -> forms.CharField:
    return forms.CharField(
        label=_("身份证号"),
        max_length=30,
        help_text=_("只保存加密摘要和打码形式，用于实名核验。"),
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


class _NewPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("密码"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("至少10位，不能全是数字，不能与用户名相近。"),
    )
    password_again = forms.CharField(
        label=_("再次输入密码"), widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean_id_number(self) -> str:
        return idcard.normalise(self.cleaned_data["id_number"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        again = data.get("password_again")
        if data.get("password") and again and data["password"] != again:
            self.add_error("password_again", _("两次输入的密码不一致。"))
        return data


class ActivationForm(_NewPasswordForm):
    member_no = forms.CharField(label=_("会员证号"), max_length=40)
    id_number = _id_number_field()
    field_order = ["member_no", "id_number", "password", "password_again"]


class RegistrationForm(_NewPasswordForm):
    username = forms.CharField(
        label=_("用户名"), max_length=150, help_text=_("用于登录，可用字母、数字和 @/./+/-/_")
    )
    real_name = forms.CharField(label=_("真实姓名"), max_length=50)
    id_number = _id_number_field()
    member_no = forms.CharField(label=_("会员证号"), max_length=40)
    union_unit = forms.ModelChoiceField(
        label=_("所属工会"), queryset=UnionUnit.objects.all(), empty_label=_("请选择")
    )
    phone = forms.RegexField(
        label=_("手机号"),
        regex=r"^1[3-9]\d{9}$",
        required=False,
        error_messages={"invalid": _("请输入11位手机号。")},
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("该用户名已被使用。"))
        return username

    field_order = [
        "username",
        "password",
        "password_again",
        "real_name",
        "id_number",
        "member_no",
        "union_unit",
        "phone",
    ]


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label=_("会员名册（CSV）"),
        help_text=_("表头：username,real_name,id_number,member_no,union_unit,phone"),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".csv"):
            raise ValidationError(_("请上传 .csv 文件（可在Excel中“另存为CSV”）。"))
        if upload.size > settings.ROSTER_MAX_BYTES:
            raise ValidationError(
                _("文件过大：最多 %(mb)d MB。") % {"mb": settings.ROSTER_MAX_BYTES // 1024 // 1024}
            )
        return upload
