"""DEA registration numbers: format, check digit, the last-name letter."""

from __future__ import annotations

import pytest

from app.domain.dea import dea_check_digit, dea_matches_last_name, is_valid_dea, normalize_dea


@pytest.mark.parametrize("number", ["AP5836727", "F91234563", "BJ0000000", "MS1111119"])
def test_valid_numbers(number: str) -> None:
    assert is_valid_dea(number)


def test_check_digit_worked_examples() -> None:
    # AP5836727: (5 + 3 + 7) + 2 * (8 + 6 + 2) = 47 -> 7
    assert dea_check_digit("583672") == 7
    # F91234563: (1 + 3 + 5) + 2 * (2 + 4 + 6) = 33 -> 3
    assert dea_check_digit("123456") == 3


@pytest.mark.parametrize(
    "number",
    [
        "AP5836728",  # wrong check digit
        "F91234560",  # wrong check digit
        "AP583672",  # too short
        "AP58367270",  # too long
        "",
        "A5836727",  # one letter only
        "1P5836727",  # first character a digit
        "A85836727",  # second character a digit other than 9
        "AP58367X7",  # a letter among the digits
        "A-5836727",  # punctuation
        "AP 5836727",  # inner space
        " AP5836727",  # surrounding spaces: normalise first
        "ÅP5836727",  # non-ASCII letter
        "AP\uff15836727",  # full-width 5 (str.isdigit and \\d would accept it)
    ],
)
def test_invalid_numbers(number: str) -> None:
    assert not is_valid_dea(number)


def test_lower_case_is_the_same_number() -> None:
    assert is_valid_dea("ap5836727") and is_valid_dea("f91234563")
    assert normalize_dea("  ap5836727 ") == "AP5836727"
    assert is_valid_dea(normalize_dea(" ap5836727 "))


def test_second_letter_and_last_name() -> None:
    assert dea_matches_last_name("AP5836727", "Patel")
    assert dea_matches_last_name("ap5836727", "patel")
    assert dea_matches_last_name("AP5836727", "Órtiz") is False  # O, not P
    assert dea_matches_last_name("BO1234563", "Órtiz")  # accents folded
    assert not dea_matches_last_name("AP5836727", "Lee")
    assert dea_matches_last_name("F91234563", "Anyone")  # 9 encodes no name
    assert not dea_matches_last_name("AP5836728", "Patel")  # invalid number
    assert not dea_matches_last_name("AP5836727", "")
