"""LEIE files in the real layout (the columns of the OIG's UPDATED.csv and its monthly
supplements; every field quoted; dates YYYYMMDD, 00000000 when empty; NPI 0000000000
when unknown), for the tests and the import benchmark. Never the real list: the people
are made up.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from pathlib import Path

from app.domain.exclusion_lists import LEIE_COLUMNS

NO_DATE = "00000000"
NO_NPI = "0000000000"
# The exclusion types the LEIE uses most (Social Security Act sections).
EXCLUSION_TYPES = ("1128a1", "1128a2", "1128a3", "1128b4", "1128b5", "1128b7", "1128b8")
_FIRST = ("MARY", "JOHN", "ROBERT", "PATRICIA", "JAMES", "LINDA", "MICHAEL", "BARBARA",
          "DAVID", "ELIZABETH", "WILLIAM", "JENNIFER", "RICHARD", "MARIA", "JOSEPH",
          "SUSAN")  # fmt: skip
_LAST = ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
         "RODRIGUEZ", "MARTINEZ", "HERNANDEZ", "LOPEZ", "GONZALEZ", "WILSON", "ANDERSON",
         "THOMAS", "TAYLOR", "MOORE", "JACKSON", "MARTIN", "LEE", "PEREZ", "THOMPSON")  # fmt: skip
_STATES = ("TX", "CA", "FL", "NY", "PA", "OH", "GA", "NC", "MI", "NJ", "VA", "WA", "AZ")
_SPECIALTIES = ("NURSING PROFESSION", "PHARMACY", "FAMILY PRACTICE", "DME COMPANY",
                "CHIROPRACTIC", "HOME HEALTH AGENCY", "")  # fmt: skip


def individual(
    last: str,
    first: str,
    *,
    middle: str = "",
    npi: str = NO_NPI,
    dob: str = NO_DATE,
    state: str = "TX",
    exclusion_type: str = "1128b4",
    excluded: str = "20200115",
    reinstated: str = NO_DATE,
    general: str = "IND- LIC HC SERV PRO",
    specialty: str = "NURSING PROFESSION",
) -> list[str]:
    """A person's row."""
    return [
        last, first, middle, "", general, specialty, "", npi, dob,
        "1 MAIN ST", "AUSTIN", state, "78701", exclusion_type, excluded, reinstated,
        NO_DATE, "",
    ]  # fmt: skip


def entity(
    name: str,
    *,
    npi: str = NO_NPI,
    state: str = "FL",
    exclusion_type: str = "1128a1",
    excluded: str = "20190301",
    reinstated: str = NO_DATE,
) -> list[str]:
    """A business's row (no person's names)."""
    return [
        "", "", "", name, "BUSINESS", "DME COMPANY", "", npi, NO_DATE,
        "9 HARBOR RD", "MIAMI", state, "33101", exclusion_type, excluded, reinstated,
        NO_DATE, "",
    ]  # fmt: skip


def write(path: Path, rows: Iterable[list[str]], *, header: Iterable[str] = LEIE_COLUMNS) -> Path:
    """The rows as the OIG writes them: every field quoted, CRLF line ends."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writerow(list(header))
        writer.writerows(rows)
    return path


def _day(chance: random.Random, first_year: int, last_year: int) -> str:
    year, month, day = (
        chance.randint(first_year, last_year),
        chance.randint(1, 12),
        chance.randint(1, 28),
    )
    return f"{year}{month:02d}{day:02d}"


def realistic_rows(count: int, seed: int = 18) -> Iterable[list[str]]:
    """`count` rows in the proportions of the real list: about 1 in 12 an entity, about
    1 in 8 with an NPI, most people with a date of birth."""
    chance = random.Random(seed)
    for n in range(count):
        day = _day(chance, 1990, 2026)
        npi = f"1{n:09d}" if chance.random() < 0.125 else NO_NPI
        kind = chance.choice(EXCLUSION_TYPES)
        if chance.random() < 0.08:
            yield entity(f"HEALTH SUPPLY {n} LLC", npi=npi, exclusion_type=kind, excluded=day,
                         state=chance.choice(_STATES))  # fmt: skip
            continue
        born = NO_DATE
        if chance.random() < 0.9:
            born = _day(chance, 1940, 1995)
        yield individual(
            chance.choice(_LAST),
            chance.choice(_FIRST),
            middle=chance.choice(("", "A", "LEE", "MARIE")),
            npi=npi,
            dob=born,
            state=chance.choice(_STATES),
            exclusion_type=kind,
            excluded=day,
            specialty=chance.choice(_SPECIALTIES),
        )
