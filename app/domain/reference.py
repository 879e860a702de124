"""Reference facts: NPI check digits and CMS place-of-service codes.

US states and their Medicare MAC jurisdictions live in the database (us_states), where
the facilities trigger derives a facility's jurisdiction from its state.
"""

from __future__ import annotations

import re

_NPI = re.compile(r"^[12][0-9]{9}\Z")


def npi_check_digit(first_nine: str) -> int:
    """Luhn over the prefix 80840 and the first nine digits (CMS): the prefix adds 24."""
    total = 24
    for index, char in enumerate(reversed(first_nine)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def is_valid_npi(value: str) -> bool:
    return bool(_NPI.match(value)) and npi_check_digit(value[:9]) == int(value[9])


# CMS place-of-service codes in common use by MSC's customers.
PLACE_OF_SERVICE = {
    "02": "Telehealth provided other than in patient's home",
    "10": "Telehealth provided in patient's home",
    "11": "Office",
    "12": "Home",
    "13": "Assisted living facility",
    "19": "Off campus-outpatient hospital",
    "20": "Urgent care facility",
    "21": "Inpatient hospital",
    "22": "On campus-outpatient hospital",
    "23": "Emergency room - hospital",
    "24": "Ambulatory surgical center",
    "31": "Skilled nursing facility",
    "32": "Nursing facility",
    "34": "Hospice",
    "49": "Independent clinic",
    "50": "Federally qualified health center",
    "65": "End-stage renal disease treatment facility",
    "72": "Rural health clinic",
    "81": "Independent laboratory",
    "99": "Other place of service",
}
