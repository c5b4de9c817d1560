"""Personal numbers are masked however they are written, and nothing else in the text changes."""

from __future__ import annotations

import pytest

from portal.privacy import mask_personal_numbers
from tests.people import id_number

NUMBER = id_number(77)
MASKED_ID = f"{NUMBER[:4]}**********{NUMBER[-4:]}"


def _circled(digits: str) -> str:
    return "".join("⓪" if d == "0" else chr(0x2460 + int(d) - 1) for d in digits)


def _bold(digits: str) -> str:
    return "".join(chr(0x1D7CE + int(d)) for d in digits)


@pytest.mark.parametrize(
    "written",
    [
        NUMBER,
        NUMBER.lower(),
        NUMBER.translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}),
        f"{NUMBER[:6]} {NUMBER[6:14]} {NUMBER[14:]}",
        f"{NUMBER[:6]}\u00a0{NUMBER[6:14]}\u00a0{NUMBER[14:]}",
        f"{NUMBER[:6]}\n{NUMBER[6:14]}\n{NUMBER[14:]}",
        f"{NUMBER[:9]}\u200b{NUMBER[9:]}",
        _circled(NUMBER[:17]) + NUMBER[17],
    ],
    ids=["plain", "lower-x", "full-width", "spaced", "nbsp", "newlines", "zero-width", "circled"],
)
def test_id_numbers_are_masked_however_their_digits_are_written(written: str) -> None:
    masked = mask_personal_numbers(f"身份证{written}怎么办")
    assert masked == f"身份证{MASKED_ID}怎么办"


@pytest.mark.parametrize(
    "written",
    [
        "13800138000",
        "+86 138 0013 8000",
        "138-0013-8000",
        "138.0013.8000",
        "138\u00a00013\u00a08000",
        "138\n0013\n8000",
        _bold("13800138000"),
        "１３８００１３８０００",
    ],
)
def test_mobile_numbers_are_masked_however_their_digits_are_written(written: str) -> None:
    assert mask_personal_numbers(f"我的手机{written}怎么办") == "我的手机138****8000怎么办"


def test_first_generation_id_numbers_are_masked() -> None:
    masked = mask_personal_numbers("老身份证110105491231002，电话138.1234.5678")
    assert masked == "老身份证1101**********1002，电话138****5678"


def test_the_rest_of_the_text_is_left_as_it_was() -> None:
    text = "２０２６年\n加班3小时，工资１２０００元，第四十四条\u00a0规定"
    assert mask_personal_numbers(text) == text
