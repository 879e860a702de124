"""DEA registration numbers: format and check digit (offline; the DEA offers no public
lookup).

A number is 2 characters and 7 digits. The first is a letter naming the registrant type
(A, B, F, G practitioners and institutions, M mid-level practitioners, P and R
manufacturers, distributors and the like, X the former DATA-waiver prefix, ...). Any
letter is accepted there: the DEA opens new letters as series run out (F came after A
and B), and refusing a real registration is worse than letting a typo through, which the
check digit catches anyway. The second is the first letter of the registrant's last name,
or 9 (registrants with no such name, e.g. businesses). With the digits d1..d7:
(d1 + d3 + d5) + 2 * (d2 + d4 + d6) ends in d7. Valid: AP5836727, F91234563.

Letter case: the DEA prints numbers in capitals; a number typed in lower case is the same
number, so the check ignores case, and `normalize_dea` gives the form to store.
"""

from __future__ import annotations

import re
import unicodedata

_DEA = re.compile(r"^[A-Z][A-Z9][0-9]{7}$")


def normalize_dea(value: str) -> str:
    """The stored form: surrounding spaces removed, capitals. Validate it afterwards."""
    return value.strip().upper()


def dea_check_digit(first_six: str) -> int:
    digits = [int(c) for c in first_six]
    return (digits[0] + digits[2] + digits[4] + 2 * (digits[1] + digits[3] + digits[5])) % 10


def is_valid_dea(number: str) -> bool:
    """Two letters (the second may be 9) and seven digits whose last is the check digit.
    Case-insensitive; no other tolerance (spaces, dashes): normalise first."""
    # ASCII only: str.upper() and \d would otherwise accept other scripts' letters/digits.
    if not number.isascii():
        return False
    value = number.upper()
    return bool(_DEA.match(value)) and dea_check_digit(value[2:8]) == int(value[8])


def dea_matches_last_name(number: str, last_name: str) -> bool:
    """Whether the number's second character fits the registrant's last name: its first
    letter (accents folded), or 9, which encodes no name and so contradicts none.

    Advisory only: a registrant whose name changed keeps their number until renewal.
    False for a number that is not valid.
    """
    if not is_valid_dea(number):
        return False
    second = number[1].upper()
    if second == "9":
        return True
    folded = unicodedata.normalize("NFKD", last_name)
    letters = [c for c in folded.upper() if "A" <= c <= "Z"]
    return bool(letters) and letters[0] == second
