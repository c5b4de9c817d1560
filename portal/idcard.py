"""Mainland identity-card numbers: checksum validation, keyed hash for matching, masked display."""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"^[1-9][0-9]{16}[0-9X]$")


def check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


@sensitive_variables("raw", "number")
def normalise(raw: str) -> str:
    """The canonical form (ASCII, no spaces, upper-case X), or ValidationError with the reason."""
    # Phone keyboards may give full-width digits; NFKC turns them into ASCII ones.
    number = re.sub(r"\s+", "", unicodedata.normalize("NFKC", raw or "")).upper()
    if not number:
        raise ValidationError(_("请填写身份证号。"), code="id_required")
    if len(number) != 18 or not _SHAPE.match(number):
        raise ValidationError(
            _("身份证号应为18位：前17位是数字，最后一位是数字或X。"), code="id_shape"
        )
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(_("身份证号中的出生日期无效。"), code="id_birth_date") from None
    # Today in the portal's time zone (Asia/Shanghai): a child born this morning in Beijing
    # is not born in the future while UTC still says yesterday.
    if birth.year < 1900 or birth > timezone.localdate():
        raise ValidationError(_("身份证号中的出生日期无效。"), code="id_birth_date")
    if check_char(number[:17]) != number[17]:
        raise ValidationError(_("身份证号校验位不正确，请核对后重新填写。"), code="id_checksum")
    return number


@sensitive_variables("number")
def id_hash(number: str) -> str:
    """Keyed hash of a normalised number: the same person matches; the number can't be read back."""
    key = settings.ID_HASH_KEY.encode()
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


def mask(number: str) -> str:
    return f"{number[:4]}{'*' * 10}{number[-4:]}"
