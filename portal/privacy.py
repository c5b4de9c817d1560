"""Personal numbers in free text: identity-card and mobile numbers are masked before the text
goes anywhere (the index, a model, the log, a stored conversation)."""

from __future__ import annotations

import re

# People write the numbers with spaces or hyphens between the digits, with full-width digits,
# and mobiles with +86 in front.
_FULL_WIDTH = {0xFF10 + d: ord("0") + d for d in range(10)} | {
    0xFF38: ord("X"),
    0xFF58: ord("x"),
    0xFF0B: ord("+"),
    0xFF0D: ord("-"),
    0x3000: ord(" "),
}
_GAP = r"[ \t.\-]*"
_ID_NUMBER = re.compile(rf"(?<![0-9])[1-9](?:{_GAP}[0-9]){{16}}{_GAP}[0-9Xx](?![0-9])")
# The first-generation card: 15 digits.
_OLD_ID_NUMBER = re.compile(rf"(?<![0-9])[1-9](?:{_GAP}[0-9]){{14}}(?![0-9])")
_MOBILE = re.compile(rf"(?<![0-9])(?:\+?86{_GAP})?1[3-9](?:{_GAP}[0-9]){{9}}(?![0-9])")


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text)


def mask_personal_numbers(text: str) -> str:
    """The text with ID-card and mobile numbers masked (and full-width digits made plain):
    110105199001011234 → 1101**********1234, 13812345678 → 138****5678."""
    text = text.translate(_FULL_WIDTH)

    def id_card(match: re.Match[str]) -> str:
        number = _digits(match.group())
        return f"{number[:4]}{'*' * 10}{number[-4:]}"

    def mobile(match: re.Match[str]) -> str:
        number = _digits(match.group())[-11:]
        return f"{number[:3]}****{number[-4:]}"

    return _OLD_ID_NUMBER.sub(id_card, _MOBILE.sub(mobile, _ID_NUMBER.sub(id_card, text)))
