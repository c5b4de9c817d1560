import os
import time
from collections.abc import Iterator

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from portal import idcard
from tests.people import id_number


def test_a_valid_number_is_normalised_with_upper_case_x() -> None:
    number = next(n for n in (id_number(i) for i in range(200)) if n.endswith("X"))
    assert idcard.normalise(f" {number[:9]} {number[9:-1]}x ") == number


def test_the_published_example_number_passes_the_checksum() -> None:
    # GB 11643-1999's worked example.
    assert idcard.normalise("11010519491231002X") == "11010519491231002X"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "id_required"),
        ("44190019900101123", "id_shape"),
        ("4419001990010112345", "id_shape"),
        ("44190019900101123Y", "id_shape"),
        ("041900199001011234", "id_shape"),
        ("441900199013011230", "id_birth_date"),
        ("441900189901011230", "id_birth_date"),
    ],
)
def test_malformed_numbers_are_refused_with_the_reason(raw: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        idcard.normalise(raw)
    assert info.value.code == code
    assert info.value.messages[0]  # a Chinese sentence for the user


def test_a_wrong_check_digit_is_refused() -> None:
    good = id_number(7)
    wrong = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationError) as info:
        idcard.normalise(wrong)
    assert info.value.code == "id_checksum"
    assert "校验位" in info.value.messages[0]


def test_mask_shows_only_the_first_and_last_four() -> None:
    assert idcard.mask("44190019900101123X") == "4419**********123X"


def test_hash_is_keyed_and_does_not_contain_the_number() -> None:
    number = id_number(8)
    first = idcard.id_hash(number)
    assert number not in first and len(first) == 64
    with override_settings(ID_HASH_KEY="another-key"):
        assert idcard.id_hash(number) != first
    assert idcard.id_hash(number) == first


def test_full_width_digits_are_read_as_the_same_number() -> None:
    number = id_number(9)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in number)
    assert idcard.normalise(wide) == number
    assert idcard.id_hash(idcard.normalise(wide)) == idcard.id_hash(number)


@pytest.fixture
def server_clock_in_utc() -> Iterator[None]:
    """The server's own time zone is UTC, as on most servers (Django sets the process's TZ to
    TIME_ZONE when it starts, which would hide a check made with the server's date)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.time_machine("2026-03-01T17:00:00+00:00")  # 1 March in UTC, 2 March in Beijing
@pytest.mark.usefixtures("server_clock_in_utc")
def test_a_number_born_today_in_beijing_is_accepted_while_utc_is_still_yesterday() -> None:
    born_today = "44190020260302123"
    assert idcard.normalise(born_today + idcard.check_char(born_today))

    born_tomorrow = "44190020260303123"
    with pytest.raises(ValidationError) as refused:
        idcard.normalise(born_tomorrow + idcard.check_char(born_tomorrow))
    assert refused.value.code == "id_birth_date"
