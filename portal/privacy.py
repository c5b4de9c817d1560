"""Personal numbers in free text: identity-card and mobile numbers are masked before the text
goes anywhere (the index, a model, the log, a stored conversation)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# People write the numbers with spaces, dots or hyphens between the digits, with full-width,
# circled or other look-alike digits, and mobiles with +86 in front. The patterns run over a
# folded copy of the text of the same length, so a match masks the same span of the original.
_GAP = r"[ .\-]*"
_ID_NUMBER = re.compile(rf"(?<![0-9])[1-9](?:{_GAP}[0-9]){{16}}{_GAP}[0-9Xx](?![0-9])")
# The first-generation card: 15 digits.
_OLD_ID_NUMBER = re.compile(rf"(?<![0-9])[1-9](?:{_GAP}[0-9]){{14}}(?![0-9])")
_MOBILE = re.compile(rf"(?<![0-9])(?:\+?86{_GAP})?1[3-9](?:{_GAP}[0-9]){{9}}(?![0-9])")
_KEPT = frozenset("0123456789Xx+-.")
# Characters that show nothing: between digits they are gaps, like a space.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")


@lru_cache(maxsize=4096)
def _fold(char: str) -> str:
    """One character as the patterns read it: a look-alike digit or sign as its ASCII form, any
    white space or invisible character as a space, anything else as it is."""
    if char.isspace() or char in _INVISIBLE:
        return " "
    plain = unicodedata.normalize("NFKC", char)
    return plain if len(plain) == 1 and plain in _KEPT else char


def _digits(text: str) -> str:
    return re.sub(r"[^0-9Xx]", "", text)


def _id_card(number: str) -> str:
    return f"{number[:4]}{'*' * 10}{number[-4:]}"


def _mobile(number: str) -> str:
    number = number[-11:]
    return f"{number[:3]}****{number[-4:]}"


def mask_personal_numbers(text: str) -> str:
    """The text with ID-card and mobile numbers masked, however their digits are written:
    110105199001011234 → 1101**********1234, 138 0013 8000 → 138****8000. Everything else is
    left as it was."""
    folded = "".join(map(_fold, text))
    spans: list[tuple[int, int, str]] = []
    taken = [False] * len(folded)
    for pattern, mask in ((_ID_NUMBER, _id_card), (_MOBILE, _mobile), (_OLD_ID_NUMBER, _id_card)):
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            spans.append((start, end, mask(_digits(match.group()).upper())))
    for start, end, masked in sorted(spans, reverse=True):
        text = text[:start] + masked + text[end:]
    return text


@lru_cache(maxsize=4096)
def mask_recurring(text: str) -> str:
    """`mask_personal_numbers` for texts that come again and again (a document's passages, given
    to the model for question after question): each one folded and searched once."""
    return mask_personal_numbers(text)
