"""Synthetic data at scale for the benchmarks, written through PostgreSQL COPY.

    .venv/bin/python bench/generate.py --scale large --database msc_bench
    .venv/bin/python -m bench.generate --scale tiny --database msc_bench_tiny

(Re)creates the database (its name must start with `msc_bench`) on the server of
DATABASE_ADMIN_URL, an embedded one when unset, with `app.local.provision`: roles,
migrations, policies, region `bench`. Then fills it, printing rows, seconds and rows/s
per table; checks the rules below with SQL; runs `VACUUM (ANALYZE)`; and writes a
manifest of handy ids (the largest tenant and its admin, other tenants' admins, an MSC
admin, providers who may place orders) to `<LOCAL_DATA_DIR>/bench/<database>.json`.
Every user signs in with BENCH_PASSWORD.

Scales: `large` is 2,000 organizations of skewed sizes (the largest a health system of
1,000 facilities and 10,000 providers over three levels; a few smaller parent/child
systems), 20,000 facilities, 200,000 providers (5% also members of a second
organization), 600,000 credentials expiring over the two years around `--today`,
1,000,000 orders over the two years before it, and each organization's admins and office
managers. `third` and `tenth` scale every count down, the largest tenant's too (for the
growth measurements); `tiny` takes seconds (the smoke test).

How it writes, and what it owes the schema in return:
- As the server's superuser: the owner is bound by FORCE ROW LEVEL SECURITY, under which
  COPY refuses to write.
- In one transaction, as pg_restore loads a dump: the loaded tables' own triggers
  disabled (`ALTER TABLE ... DISABLE TRIGGER USER`), their keys and indexes dropped, the
  rows copied, then the keys and indexes built again, PostgreSQL checking every row
  against each primary, unique and foreign key as it adds it back, and the catalog
  compared with what it was. Check constraints hold row by row as the rows arrive. A
  failure anywhere leaves nothing behind. The triggers would have written an audit event
  per row, one row at a time; the load refuses to start if a table has an insert trigger
  not listed in ACCOUNTED_TRIGGERS.
- What those triggers maintain is computed here: organizations.ancestor_ids,
  facilities.mac_jurisdiction (read from us_states), updated_at, and the audit trail's
  insert events, for organizations and facilities only; so is what the application
  writes beside the rows: organizations.onboarding_status, users.organization_ids (from
  the memberships).
- Onboarding agrees with its data: a live organization has its tax form, banking letter,
  an accepted office-manager and provider invitation and its manual steps; one still
  `initiated` has nothing yet.
- The application's own rules hold too: valid NPI and DEA check digits, what each kind of
  credential requires, one primary (active) assignment per provider, pointed at by their
  primary_assignments row, a membership behind
  every assignment and order, orders placed inside an assignment's active days, order
  stamps that follow the lifecycle. `INVARIANTS` checks these after the load.
- Documents are metadata only: the document store holds no bytes for them.

Deterministic: the same scale, seed and `--today` (today in UTC by default) give the same
rows, byte for byte; each table draws from a generator seeded with its own name.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import click
import psycopg
from argon2 import PasswordHasher
from psycopg import sql

from app import clock
from app.auth.passwords import needs_rehash
from app.citus import PROPAGATE_TO_WORKERS, has_citus
from app.config import Settings
from app.domain import assignments
from app.domain.credentials import REQUIRED
from app.domain.dea import dea_check_digit, is_valid_dea
from app.domain.reference import PLACE_OF_SERVICE, is_valid_npi, npi_check_digit
from app.local import embedded_postgres, provision
from app.models.enums import (
    AssignmentStatus,
    CredentialType,
    DocumentType,
    FacilityType,
    NpiVerification,
    OnboardingStatus,
    OnboardingStep,
    OrganizationStatus,
    OrganizationType,
    Role,
    VerificationStatus,
)
from app.models.order import OrderStatus
from app.tenancy.roles import libpq_url

BENCH_PASSWORD = "bench-password"
REGION = "bench"
DATABASE_PREFIX = "msc_bench"
REQUEST_ID = "bench-generate"
DEFAULT_SEED = 21
MSC_ADMINS = 5
# Orders fill the two years before `today`; credentials expire in the year either side.
ORDER_DAYS = 730
EXPIRY_SPREAD_DAYS = 365
MANIFEST_SAMPLE = 100


@dataclass(frozen=True)
class Scale:
    name: str
    organizations: int
    facilities: int
    providers: int
    credentials: int
    orders: int
    # The health system at the top of the size distribution (its whole hierarchy).
    largest_facilities: int
    largest_providers: int

    def scaled(self, name: str, factor: float) -> Scale:
        counts = dataclasses.astuple(self)[1:]
        return Scale(name, *(max(1, round(n * factor)) for n in counts))


LARGE = Scale("large", 2_000, 20_000, 200_000, 600_000, 1_000_000, 1_000, 10_000)
SCALES = {
    "large": LARGE,
    "third": LARGE.scaled("third", 1 / 3),
    "tenth": LARGE.scaled("tenth", 1 / 10),
    "tiny": Scale("tiny", 20, 60, 300, 900, 1_500, 12, 60),
}


class Draws(random.Random):
    """A seeded generator whose integer draws (randrange, randint, choice, sample,
    shuffle) take one float each instead of rejection sampling over random bits: several
    times faster, as deterministic, and unbiased enough for synthetic data."""

    def _randbelow(self, n: int) -> int:
        return int(self.random() * n)


class Mix:
    """Values drawn at random with fixed weights."""

    def __init__(self, *choices: tuple[str, int]) -> None:
        self.values = [value for value, _ in choices]
        self.cumulative = list(itertools.accumulate(weight for _, weight in choices))

    def pick(self, rng: random.Random) -> str:
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


# --- vocabulary -------------------------------------------------------------------------

# fmt: off
FIRST_NAMES = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas",
    "Sarah", "Charles", "Karen", "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty",
    "Anthony", "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew",
    "Emily", "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Sharon",
    "Edward", "Laura", "Jeffrey", "Cynthia", "Ryan", "Amy", "Priya", "Wei", "Mohammed", "Aisha",
    "Carlos", "Sofia", "Hiroshi", "Yuki", "Olga", "Ivan", "Fatima", "Omar", "Lucia", "Diego",
)
LAST_NAMES = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris",
    "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King",
    "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker",
    "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans",
    "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins", "Reyes", "Patel", "Shah", "Chen",
    "Wang", "Singh", "Kowalski", "Novak", "Haddad", "Okafor", "Tanaka", "Ivanova", "Rossi",
    "Muller",
)
PLACE_WORDS = ("Riverside", "Lakeside", "Summit", "Valley", "Harbor", "Pinecrest", "Meadow",
    "Cedar", "Oakwood", "Granite", "Prairie", "Northstar", "Bayview", "Highland", "Redwood",
    "Silverlake", "Brookside", "Sunrise", "Evergreen", "Willow", "Maple", "Aspen", "Coastal",
    "Heritage", "Liberty", "Unity", "Mercy", "Providence", "Trinity", "Horizon", "Beacon",
)
CITIES = ("Springfield", "Franklin", "Greenville", "Bristol", "Clinton", "Fairview", "Salem",
    "Madison", "Georgetown", "Arlington", "Ashland", "Dover", "Oxford", "Jackson", "Burlington",
    "Manchester", "Milton", "Newport", "Auburn", "Dayton", "Lexington", "Milford", "Winchester",
    "Hudson", "Kingston", "Marion", "Clayton", "Lancaster", "Chester",
)
STREETS = ("Main", "Oak", "Maple", "Cedar", "Elm", "Pine", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Spring", "North", "Ridge", "Church", "Willow", "Mill", "Sunset", "Railroad",
    "Jefferson", "Lincoln", "Highland", "Center", "Forest",
)
# fmt: on
STREET_KINDS = ("St", "Ave", "Blvd", "Rd", "Dr", "Ln", "Way", "Pkwy")
REGIONS = ("North", "South", "East", "West")
FACILITY_LABELS: dict[str, str] = {
    FacilityType.HOSPITAL: "Hospital",
    FacilityType.CLINIC: "Clinic",
    FacilityType.WOUND_CENTER: "Wound Care Center",
    FacilityType.SNF: "Skilled Nursing",
}
# The place-of-service codes each kind of facility bills under.
FACILITY_POS: dict[str, tuple[str, ...]] = {
    FacilityType.HOSPITAL: ("22", "21", "19"),
    FacilityType.CLINIC: ("11", "11", "49"),
    FacilityType.WOUND_CENTER: ("11", "22", "19"),
    FacilityType.SNF: ("31", "32"),
}
FACILITY_MIX: dict[str, Mix] = {
    OrganizationType.HOSPITAL_SYSTEM: Mix(
        (FacilityType.HOSPITAL, 15),
        (FacilityType.CLINIC, 50),
        (FacilityType.WOUND_CENTER, 25),
        (FacilityType.SNF, 10),
    ),
    OrganizationType.GROUP_PRACTICE: Mix(
        (FacilityType.CLINIC, 70), (FacilityType.WOUND_CENTER, 25), (FacilityType.SNF, 5)
    ),
    OrganizationType.INDIVIDUAL: Mix((FacilityType.CLINIC, 1)),
}
# What became of the organizations that went live.
LIVE_STATUSES = Mix(
    (OrganizationStatus.ACTIVE, 96),
    (OrganizationStatus.SUSPENDED, 2),
    (OrganizationStatus.INACTIVE, 2),
)
BOARDS = (
    ("American Board of Internal Medicine", "Internal Medicine"),
    ("American Board of Family Medicine", "Family Medicine"),
    ("American Board of Surgery", "General Surgery"),
    ("American Board of Podiatric Medicine", "Podiatric Medicine"),
    ("American Board of Wound Management", "Wound Care"),
)
INSURERS = ("The Doctors Company", "MedPro Group", "ProAssurance", "Coverys", "MagMutual")
COVERAGES = (
    (Decimal("1000000.00"), Decimal("3000000.00")),
    (Decimal("500000.00"), Decimal("1500000.00")),
    (Decimal("2000000.00"), Decimal("4000000.00")),
)
DEA_SCHEDULE_SETS = (["2", "2N", "3", "3N", "4", "5"], ["2", "3", "4", "5"], ["3", "4", "5"])
REJECTION_REASONS = (
    "the document is illegible",
    "the number does not match the issuing board's record",
    "the copy is of an expired credential",
)
# One real area code per state: every phone number is a valid one (E.164, as stored).
AREA_CODES = {
    "AL": 205, "AK": 907, "AZ": 602, "AR": 501, "CA": 415, "CO": 303, "CT": 203, "DE": 302,
    "DC": 202, "FL": 305, "GA": 404, "HI": 808, "ID": 208, "IL": 312, "IN": 317, "IA": 515,
    "KS": 316, "KY": 502, "LA": 504, "ME": 207, "MD": 410, "MA": 617, "MI": 313, "MN": 612,
    "MS": 601, "MO": 314, "MT": 406, "NE": 402, "NV": 702, "NH": 603, "NJ": 201, "NM": 505,
    "NY": 212, "NC": 704, "ND": 701, "OH": 614, "OK": 405, "OR": 503, "PA": 215, "RI": 401,
    "SC": 803, "SD": 605, "TN": 615, "TX": 512, "UT": 801, "VT": 802, "VA": 804, "WA": 206,
    "WV": 304, "WI": 414, "WY": 307, "AS": 684, "GU": 671, "MP": 670, "PR": 787, "VI": 340,
}  # fmt: skip
# Where organizations are, roughly by population; the states not listed weigh 1.
STATE_WEIGHTS = {
    "CA": 39, "TX": 30, "FL": 22, "NY": 20, "PA": 13, "IL": 13, "OH": 12, "GA": 11,
    "NC": 11, "MI": 10, "NJ": 9, "VA": 9, "WA": 8, "AZ": 7, "TN": 7, "MA": 7, "IN": 7,
    "MO": 6, "MD": 6, "WI": 6, "CO": 6, "MN": 6, "SC": 5, "AL": 5, "LA": 5, "KY": 5,
    "OR": 4, "OK": 4, "CT": 4, "UT": 3, "IA": 3, "NV": 3, "AR": 3, "MS": 3, "KS": 3,
}  # fmt: skip

# The insert triggers of the loaded tables, which the load disables, and what stands in
# for each.
ACCOUNTED_TRIGGERS = {
    "organizations_ancestors": "ancestor_ids derived from the planned hierarchy",
    "organizations_representative": "the representatives named are MSC admins, each flagged"
    " an MSC representative",
    "facilities_mac_jurisdiction": "mac_jurisdiction read from us_states",
    "users_organization_ids_guard": "organization_ids written from the planned memberships",
    "credentials_history_start": "verification_history written with each decided credential",
    **{
        f"{table}_owner_organization_ids_guard": "owner_organization_ids written from the"
        " planned memberships"
        for table in ("credentials", "documents")
    },
    **{
        f"{table}_audit_insert": "insert events written for organizations and facilities only"
        for table in (
            "organizations",
            "users",
            "memberships",
            "facilities",
            "provider_facilities",
            "credentials",
            "credential_verifications",
            "invitations",
            "documents",
            "onboarding_step_completions",
            "orders",
        )
    },
}


# --- helpers ----------------------------------------------------------------------------


def apportion(
    total: int, weights: Sequence[float], *, minimum: int = 0, cap: int | None = None
) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders), each share at least
    `minimum` and at most `cap`; what a capped share cannot take goes to the others."""
    count = len(weights)
    if total < minimum * count or (cap is not None and total > cap * count):
        raise ValueError(f"cannot split {total} into {count} shares of {minimum} to {cap}")
    fixed: dict[int, int] = {}
    while len(fixed) < count:
        free = [i for i in range(count) if i not in fixed]
        left = total - sum(fixed.values()) - minimum * len(free)
        weight = sum(weights[i] for i in free) or 1.0
        exact = [left * weights[i] / weight for i in free]
        shares = [int(x) for x in exact]
        by_remainder = sorted(range(len(free)), key=lambda k: (shares[k] - exact[k], k))
        for k in by_remainder[: left - sum(shares)]:
            shares[k] += 1
        over = [free[k] for k, share in enumerate(shares) if cap and minimum + share > cap]
        if over and cap is not None:
            fixed.update(dict.fromkeys(over, cap))
        else:
            fixed.update({free[k]: minimum + share for k, share in enumerate(shares)})
    return [fixed[i] for i in range(count)]


def new_id(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def npi(kind: int, serial: int) -> str:
    """A distinct valid NPI per serial: the first nine digits walk the 10^8 numbers of the
    kind (1 or 2) in a scrambled order (48271 is coprime with 10^8), then the check digit."""
    first_nine = str(kind * 100_000_000 + (serial * 48_271 + 12_345_678) % 100_000_000)
    return first_nine + str(npi_check_digit(first_nine))


def dea_number(rng: random.Random, last_name: str) -> str:
    digits = f"{rng.randrange(1_000_000):06d}"
    return f"{rng.choice('ABFGM')}{last_name[0].upper()}{digits}{dea_check_digit(digits)}"


def phone(rng: random.Random, state: str) -> str:
    exchange = rng.randrange(200, 999)
    if exchange == 555 or exchange % 100 == 11:
        exchange += 1
    return f"+1{AREA_CODES.get(state, 212)}{exchange}{rng.randrange(10_000):04d}"


def moment(rng: random.Random, day: dt.date) -> dt.datetime:
    """A time during the working day on `day`, UTC."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(7 * 3600, 20 * 3600))


@functools.cache
def password_hash(seed: int) -> str:
    """One argon2 hash of BENCH_PASSWORD for everyone: hashing per user would take hours.
    Its salt comes from the seed, so the rows stay deterministic; its costs are the
    application's, so a login never rehashes it."""
    salt = hashlib.sha256(f"{REQUEST_ID}:{seed}".encode()).digest()[:16]
    hashed = PasswordHasher().hash(BENCH_PASSWORD, salt=salt)
    if needs_rehash(hashed):
        raise RuntimeError("the application hashes passwords with other costs than argon2's")
    return hashed


# --- the plan: who and what exists, before any row is written ---------------------------


@dataclass(eq=False)
class Staff:
    id: uuid.UUID
    name: str
    email: str
    created_at: dt.datetime


@dataclass(eq=False)
class Facility:
    id: uuid.UUID
    organization_id: uuid.UUID
    serial: int
    name: str
    facility_type: str
    state: str
    place_of_service: str
    manager_id: uuid.UUID | None
    active: bool
    created_at: dt.datetime


@dataclass(eq=False)
class Provider:
    id: uuid.UUID
    serial: int
    first: str
    last: str
    home: Organization
    joined: dt.date
    state: str
    active: bool
    has_dea: bool = False
    has_board: bool = False

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        return f"{self.first}.{self.last}.{self.serial}@providers.example".lower()

    @property
    def created_at(self) -> dt.datetime:
        return dt.datetime.combine(self.joined, dt.time(9), dt.UTC)


class Assignment(NamedTuple):
    id: uuid.UUID
    organization_id: uuid.UUID
    user_id: uuid.UUID
    facility_id: uuid.UUID
    start_date: dt.date
    end_date: dt.date | None
    status: str


@dataclass(eq=False)
class Organization:
    id: uuid.UUID
    serial: int
    name: str
    kind: str
    state: str
    facility_count: int
    provider_count: int
    created_at: dt.datetime
    representative_id: uuid.UUID
    status: str = OrganizationStatus.PENDING
    onboarding: str = OnboardingStatus.INITIATED
    activated_at: dt.datetime | None = None
    parent: Organization | None = None
    ancestor_ids: list[uuid.UUID] = field(default_factory=list)
    # The person whose practice an individual organization is.
    practitioner: tuple[str, str] | None = None
    admins: list[Staff] = field(default_factory=list)
    managers: list[Staff] = field(default_factory=list)
    facilities: list[Facility] = field(default_factory=list)
    # Provider members and when they joined: those at home here, then guests.
    members: list[tuple[Provider, dt.datetime]] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return f"org{self.serial}.example"

    @property
    def first_provider(self) -> Provider:
        """The earliest of those at home here (the one the provider invitation invited)."""
        return min((p for p, _ in self.members if p.home is self), key=lambda p: p.joined)


class Plan:
    """Every organization, facility, person, membership and assignment, with their ids;
    the tables' rows are drawn from it."""

    def __init__(
        self, scale: Scale, seed: int, today: dt.date, jurisdictions: dict[str, str | None]
    ) -> None:
        self.scale, self.seed, self.today = scale, seed, today
        self.anchor = dt.datetime.combine(today, dt.time(), dt.UTC)
        self.jurisdictions = jurisdictions
        self.states = sorted(jurisdictions)
        self.state_weights = [STATE_WEIGHTS.get(s, 1) for s in self.states]
        self.password_hash = password_hash(seed)
        self.rng = self.random("plan")
        self.msc_admins = [
            Staff(
                new_id(self.rng),
                f"MSC Admin {k}",
                f"msc-admin{k}@msc.example",
                self.anchor - dt.timedelta(days=1900),
            )
            for k in range(1, MSC_ADMINS + 1)
        ]
        self.organizations: list[Organization] = []
        self.largest = self._health_system()
        self._other_organizations()
        self._hierarchies()
        self.organizations.sort(key=lambda o: (len(o.ancestor_ids), o.serial))
        self.facility_count = 0
        self.providers: list[Provider] = []
        self.assignments: list[Assignment] = []
        self.primary: dict[uuid.UUID, Assignment] = {}
        for org in self.organizations:
            self._staff_and_facilities(org)
            for k in range(org.provider_count):
                self._home_provider(org, veteran=k == 0 and org is self.largest)
        self._guests()
        self._credential_kinds()
        for org in self.organizations:
            self._go_live(org)

    def random(self, purpose: str) -> Draws:
        return Draws(f"{self.seed}:{self.scale.name}:{self.today}:{purpose}")

    def days_ago(self, days: float) -> dt.datetime:
        return self.anchor - dt.timedelta(seconds=round(days * 86_400))

    def state(self) -> str:
        return self.rng.choices(self.states, weights=self.state_weights)[0]

    def tree(self, root: Organization) -> list[Organization]:
        return [o for o in self.organizations if root.id in o.ancestor_ids]

    @functools.cached_property
    def member_of(self) -> dict[uuid.UUID, list[uuid.UUID]]:
        """Each member's organizations (users.organization_ids, and its copies on what
        they own), in the order their memberships are written."""
        member_of: dict[uuid.UUID, list[uuid.UUID]] = {}
        for org in self.organizations:
            for user_id in itertools.chain(
                (s.id for s in (*org.admins, *org.managers)), (p.id for p, _ in org.members)
            ):
                member_of.setdefault(user_id, []).append(org.id)
        return member_of

    # organizations

    def _organization(self, kind: str, facilities: int, providers: int, age: float) -> Organization:
        rng = self.rng
        practitioner = None
        if kind == OrganizationType.INDIVIDUAL:
            practitioner = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            name = f"{practitioner[0]} {practitioner[1]}, MD"
        elif kind == OrganizationType.HOSPITAL_SYSTEM:
            name = f"{rng.choice(PLACE_WORDS)} {rng.choice(('Health', 'Medical'))} System"
        else:
            name = f"{rng.choice(PLACE_WORDS)} {rng.choice(('Family', 'Wound', 'Medical'))} Group"
        org = Organization(
            new_id(rng),
            len(self.organizations) + 1,
            name,
            kind,
            self.state(),
            facilities,
            providers,
            self.days_ago(age),
            rng.choice(self.msc_admins).id,
            practitioner=practitioner,
        )
        if facilities:
            org.onboarding = OnboardingStatus.IN_PROGRESS
            if rng.random() >= 0.12:
                org.onboarding = OnboardingStatus.COMPLETED
                org.status = LIVE_STATUSES.pick(rng)
        self.organizations.append(org)
        return org

    def _health_system(self) -> Organization:
        """The largest tenant: a system, its regions, and the medical groups under them."""
        scale = self.scale
        regions, groups = (4, 4) if scale.largest_facilities >= 84 else (2, 1)
        weights = (
            [0.2] + [0.4 / regions] * regions + [0.4 / (regions * groups)] * (regions * groups)
        )
        facilities = apportion(scale.largest_facilities, weights, minimum=1)
        providers = apportion(scale.largest_providers, facilities, minimum=1)
        kinds = [OrganizationType.HOSPITAL_SYSTEM] * (1 + regions)
        kinds += [OrganizationType.GROUP_PRACTICE] * (regions * groups)
        tree = [
            self._organization(kind, f, p, 1800 - k)
            for k, (kind, f, p) in enumerate(zip(kinds, facilities, providers, strict=True))
        ]
        root = tree[0]
        for k, org in enumerate(tree):
            org.onboarding, org.status = OnboardingStatus.COMPLETED, OrganizationStatus.ACTIVE
            if 1 <= k <= regions:
                org.parent = root
                org.name = f"{root.name} {REGIONS[k - 1]} Region"
            elif k > regions:
                region = tree[1 + (k - 1 - regions) // groups]
                org.parent = region
                org.name = f"{region.name} {self.rng.choice(CITIES)} Medical Group"
        return root

    def _other_organizations(self) -> None:
        scale, rng = self.scale, self.rng
        rest = scale.organizations - len(self.organizations)
        initiated = max(1, round(rest * 0.02))
        individuals = round((rest - initiated) * 0.15)
        groups = rest - initiated - individuals
        facilities_left = scale.facilities - scale.largest_facilities - individuals
        providers_left = scale.providers - scale.largest_providers - individuals
        if groups < 1 or facilities_left < groups or providers_left < groups:
            raise ValueError(f"scale {scale.name} leaves too little for the other tenants")
        # Long-tailed (Lomax) sizes: most organizations small, a few large, none half as
        # large as the health system.
        sizes = apportion(
            facilities_left,
            [rng.paretovariate(1.5) - 1 for _ in range(groups)],
            minimum=1,
            cap=max(1, scale.largest_facilities // 2),
        )
        staff = apportion(
            providers_left,
            [f * rng.uniform(0.5, 1.5) for f in sizes],
            minimum=1,
            cap=max(1, scale.largest_providers // 2),
        )
        specs = [("", 0, 0)] * initiated + [(OrganizationType.INDIVIDUAL, 1, 1)] * individuals
        specs += [
            (OrganizationType.HOSPITAL_SYSTEM if f >= 20 else OrganizationType.GROUP_PRACTICE, f, p)
            for f, p in zip(sizes, staff, strict=True)
        ]
        rng.shuffle(specs)
        for kind, f, p in specs:
            if kind:
                self._organization(kind, f, p, rng.uniform(90, 1750))
            else:  # signed up this month: nothing but its admin yet
                self._organization(OrganizationType.GROUP_PRACTICE, 0, 0, rng.uniform(1, 30))

    def _hierarchies(self) -> None:
        """A few smaller systems besides the health system: the largest other tenants
        take small ones as children, and one child has a child of its own. Then every
        organization's path is derived."""
        rng = self.rng
        roots = [o for o in self.organizations if o.parent is None and o is not self.largest]
        others = sorted(
            (o for o in roots if o.facility_count), key=lambda o: (-o.facility_count, o.serial)
        )
        parents = others[: max(1, len(others) // 50)]
        candidates = [o for o in others[len(parents) :] if o.facility_count <= 5]
        rng.shuffle(candidates)
        for parent in parents:
            for _ in range(rng.randint(1, 3)):
                if candidates:
                    self._adopt(parent, candidates.pop())
        child = next((o for o in self.organizations if parents and o.parent is parents[0]), None)
        if child and candidates:
            self._adopt(child, candidates.pop())
        for org in self.organizations:
            self._derive_path(org)

    @staticmethod
    def _adopt(parent: Organization, child: Organization) -> None:
        child.parent = parent
        child.created_at = max(child.created_at, parent.created_at + dt.timedelta(days=1))

    def _derive_path(self, org: Organization) -> list[uuid.UUID]:
        """What the organizations_ancestors trigger keeps: the root first, itself last."""
        if not org.ancestor_ids:
            above = self._derive_path(org.parent) if org.parent else []
            org.ancestor_ids = [*above, org.id]
        return org.ancestor_ids

    # people, facilities, assignments

    def _staff(self, org: Organization, role: str, k: int, after_days: float) -> Staff:
        rng = self.rng
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        created = org.created_at + dt.timedelta(days=after_days)
        return Staff(new_id(rng), name, f"{role}{k}@{org.domain}", created)

    def _staff_and_facilities(self, org: Organization) -> None:
        rng = self.rng
        admins = 2 if org.facility_count >= 20 else 1
        org.admins = [self._staff(org, "admin", k, k / 24) for k in range(1, admins + 1)]
        if not org.facility_count:
            return
        managers = 1 if org.kind == OrganizationType.INDIVIDUAL else -(-org.facility_count // 3)
        org.managers = [
            self._staff(org, "manager", k, rng.uniform(1, 5) if k == 1 else rng.uniform(1, 60))
            for k in range(1, managers + 1)
        ]
        for k in range(org.facility_count):
            kind = FACILITY_MIX[org.kind].pick(rng)
            state = org.state if rng.random() < 0.8 else self.state()
            self.facility_count += 1
            org.facilities.append(
                Facility(
                    new_id(rng),
                    org.id,
                    self.facility_count,
                    f"{rng.choice(PLACE_WORDS)} {rng.choice(CITIES)} {FACILITY_LABELS[kind]}",
                    kind,
                    state,
                    rng.choice(FACILITY_POS[kind]),
                    org.managers[k % managers].id if rng.random() < 0.9 else None,
                    rng.random() < 0.97,
                    org.created_at + dt.timedelta(days=rng.uniform(0, 30)),
                )
            )

    def _home_provider(self, org: Organization, *, veteran: bool) -> None:
        """A provider at home in `org`: a primary assignment, sometimes a second (current
        or starting soon) and sometimes one that ended."""
        rng, today = self.rng, self.today
        first, last = org.practitioner or (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
        primary = rng.choice([f for f in org.facilities if f.active] or org.facilities)
        earliest = primary.created_at.date() + dt.timedelta(days=1)
        # The health system's veteran has worked there from the start: someone may have
        # placed an order on each of the order days.
        joined = earliest if veteran else self._day_between(earliest, today - dt.timedelta(days=30))
        provider = Provider(
            new_id(rng), len(self.providers) + 1, first, last, org, joined, primary.state,
            active=veteran or rng.random() >= 0.01,
        )  # fmt: skip
        self.providers.append(provider)
        org.members.append((provider, provider.created_at))
        self._assign(org, provider, primary, joined, None, AssignmentStatus.ACTIVE, primary=True)
        others = [f for f in org.facilities if f is not primary]
        if not others:
            return
        r = rng.random()
        if r < 0.30:
            extra = rng.choice(others)
            start = self._day_between(max(joined, extra.created_at.date()), today)
            self._assign(org, provider, extra, start, None, AssignmentStatus.ACTIVE)
        elif r < 0.34:
            start = today + dt.timedelta(days=rng.randint(1, 60))
            self._assign(org, provider, rng.choice(others), start, None, AssignmentStatus.PENDING)
        if rng.random() < 0.10 and joined < today - dt.timedelta(days=90):
            past = rng.choice(others)
            first_day = max(joined, past.created_at.date())
            start = self._day_between(first_day, today - dt.timedelta(days=60))
            end = self._day_between(start + dt.timedelta(days=30), today)
            self._assign(org, provider, past, start, end, AssignmentStatus.INACTIVE)

    def _day_between(self, first: dt.date, last: dt.date) -> dt.date:
        """A day from `first` to the day before `last` (`first` when there is none)."""
        span = (last - first).days
        return first + dt.timedelta(days=self.rng.randrange(span)) if span > 0 else first

    def _assign(
        self,
        org: Organization,
        provider: Provider,
        facility: Facility,
        start: dt.date,
        end: dt.date | None,
        status: str,
        *,
        primary: bool = False,
    ) -> None:
        assignment = Assignment(
            new_id(self.rng), org.id, provider.id, facility.id, start, end, status
        )
        self.assignments.append(assignment)
        if primary:
            self.primary[provider.id] = assignment

    def _guests(self) -> None:
        """5% of providers also work for a second organization, never as their primary."""
        rng, today = self.rng, self.today
        hosts = [o for o in self.organizations if o.facilities]
        if len(hosts) < 2:
            return
        cumulative = list(itertools.accumulate(o.facility_count for o in hosts))
        for provider in self.providers:
            if rng.random() >= 0.05:
                continue
            host = provider.home
            while host is provider.home:
                host = hosts[bisect.bisect(cumulative, rng.randrange(cumulative[-1]))]
            facility = rng.choice(host.facilities)
            if rng.random() < 0.85:
                first = max(provider.joined, facility.created_at.date())
                start, status = self._day_between(first, today), AssignmentStatus.ACTIVE
            else:
                start = today + dt.timedelta(days=rng.randint(1, 60))
                status = AssignmentStatus.PENDING
            joined = min(start, today - dt.timedelta(days=1))
            host.members.append((provider, dt.datetime.combine(joined, dt.time(8), dt.UTC)))
            self._assign(host, provider, facility, start, None, status)

    def _credential_kinds(self) -> None:
        """Everyone holds a medical license and malpractice insurance; the credentials
        left over are DEA registrations and board certifications, drawn at random."""
        providers = self.providers
        extra = self.scale.credentials - 2 * len(providers)
        if not 0 <= extra <= 2 * len(providers):
            raise ValueError(f"scale {self.scale.name}: 2 to 4 credentials per provider")
        for slot in self.rng.sample(range(2 * len(providers)), extra):
            if slot % 2:
                providers[slot // 2].has_board = True
            else:
                providers[slot // 2].has_dea = True

    def _go_live(self, org: Organization) -> None:
        """A live organization went live once its first office manager and provider had
        accepted their invitations, some days after signing up."""
        if org.onboarding != OnboardingStatus.COMPLETED:
            return
        ready = max(
            org.created_at + dt.timedelta(days=self.rng.uniform(7, 45)),
            org.managers[0].created_at + dt.timedelta(days=1),
            org.first_provider.created_at + dt.timedelta(days=1),
        )
        org.activated_at = min(ready, self.anchor - dt.timedelta(hours=1))


# --- rows, table by table ---------------------------------------------------------------

Row = tuple[Any, ...]


def organization_rows(plan: Plan) -> Iterator[Row]:
    rng = plan.random("organizations")
    for org in plan.organizations:
        started = org.onboarding != OnboardingStatus.INITIATED
        yield (
            org.id,
            org.name,
            f"{rng.randrange(10, 99)}-{rng.randrange(10_000_000):07d}" if started else None,
            org.kind,
            f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            f"contact@{org.domain}",
            phone(rng, org.state),
            org.status,
            org.onboarding,
            org.representative_id,
            org.parent.id if org.parent else None,
            org.ancestor_ids,
            org.created_at,
            org.activated_at or org.created_at,
            org.activated_at,
        )


def _staff_row(staff: Staff, hashed: str, *, is_msc_admin: bool) -> Row:
    return (
        staff.id,
        staff.email,
        staff.name,
        None,
        None,
        hashed,
        NpiVerification.UNVERIFIED,
        None,
        False,
        is_msc_admin,
        # The organizations' representatives are MSC admins (Plan): so they are
        # representatives too, as the organizations_representative trigger requires.
        is_msc_admin,
        True,
        staff.created_at,
        staff.created_at,
    )


NPI_VERDICTS = Mix(
    (NpiVerification.VERIFIED, 85),
    (NpiVerification.UNVERIFIED, 7),
    (NpiVerification.PENDING, 3),
    (NpiVerification.MISMATCH, 3),
    (NpiVerification.NOT_FOUND, 2),
)


def user_rows(plan: Plan) -> Iterator[Row]:
    """Users, each with the organizations they are a member of, in the order their
    memberships are written."""
    rng, hashed, member_of = plan.random("users"), plan.password_hash, plan.member_of
    for staff in plan.msc_admins:
        yield (*_staff_row(staff, hashed, is_msc_admin=True), [])
    for org in plan.organizations:
        for staff in (*org.admins, *org.managers):
            yield (*_staff_row(staff, hashed, is_msc_admin=False), member_of[staff.id])
    for p in plan.providers:
        verdict = NPI_VERDICTS.pick(rng)
        asked = verdict not in (NpiVerification.UNVERIFIED, NpiVerification.PENDING)
        checked_at = p.created_at + dt.timedelta(minutes=5) if asked else None
        yield (
            p.id,
            p.email,
            f"Dr. {p.name}",
            phone(rng, p.state) if rng.random() < 0.7 else None,
            npi(1, p.serial),
            hashed,
            verdict,
            checked_at,
            not p.has_dea and rng.random() < 0.5,
            False,
            False,
            p.active,
            p.created_at,
            checked_at or p.created_at,
            member_of[p.id],
        )


def membership_rows(plan: Plan) -> Iterator[Row]:
    rng = plan.random("memberships")
    for org in plan.organizations:
        for role, staff in itertools.chain(
            ((Role.ORGANIZATION_ADMIN, s) for s in org.admins),
            ((Role.OFFICE_MANAGER, s) for s in org.managers),
        ):
            yield (new_id(rng), org.id, staff.id, role, staff.created_at, staff.created_at)
        for provider, joined in org.members:
            yield (new_id(rng), org.id, provider.id, Role.PROVIDER, joined, joined)


def facility_rows(plan: Plan) -> Iterator[Row]:
    rng = plan.random("facilities")
    for org in plan.organizations:
        for f in org.facilities:
            yield (
                f.id,
                f.organization_id,
                f.name,
                npi(2, f.serial) if rng.random() < 0.7 else None,
                f"{rng.randrange(36**6):X}" if rng.random() < 0.6 else None,
                f.facility_type,
                f"{rng.randint(1, 9999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}",
                rng.choice(CITIES),
                f.state,
                f"{rng.randrange(1_000, 99_951):05d}",
                phone(rng, f.state),
                f"facility{f.serial}@{org.domain}",
                f.manager_id,
                plan.jurisdictions[f.state],
                f.place_of_service,
                f.active,
                f.created_at,
                f.created_at,
            )


def assignment_rows(plan: Plan) -> Iterator[Row]:
    rng = plan.random("provider_facilities")
    yesterday = plan.today - dt.timedelta(days=1)
    for a in plan.assignments:
        created = moment(rng, min(a.start_date, yesterday))
        updated = max(created, moment(rng, a.end_date)) if a.end_date else created
        yield (*a, created, updated)


CREDENTIAL_STATUSES = Mix(
    (VerificationStatus.VERIFIED, 75),
    (VerificationStatus.UNVERIFIED, 20),
    (VerificationStatus.REJECTED, 5),
)
# How long each kind runs, in years, from its effective date to its expiry.
CREDENTIAL_TERMS = {
    CredentialType.MEDICAL_LICENSE: 2,
    CredentialType.DEA_REGISTRATION: 3,
    CredentialType.MALPRACTICE_INSURANCE: 1,
    CredentialType.BOARD_CERTIFICATION: 10,
}


def primary_assignment_rows(plan: Plan) -> Iterator[Row]:
    """Each provider's primary, as app/domain/assignments.py keeps it."""
    rng = plan.random("primary_assignments")
    yesterday = plan.today - dt.timedelta(days=1)
    for a in plan.primary.values():
        created = moment(rng, min(a.start_date, yesterday))
        yield a.user_id, a.organization_id, a.facility_id, created, created


def credential_rows(plan: Plan) -> Iterator[Row]:
    return (credential for credential, _ in _credentials(plan))


def credential_verification_rows(plan: Plan) -> Iterator[Row]:
    """The decision behind each decided credential: its provider's home organization's."""
    return (decision for _, decision in _credentials(plan) if decision is not None)


def _credentials(plan: Plan) -> Iterator[tuple[Row, Row | None]]:
    """Each credential, and its decision if it has one (its id derived from the
    credential's, so that the credentials' stream of random draws is the same)."""
    rng, today = plan.random("credentials"), plan.today
    latest = plan.anchor - dt.timedelta(hours=1)
    for p in plan.providers:
        kinds = [CredentialType.MEDICAL_LICENSE, CredentialType.MALPRACTICE_INSURANCE]
        kinds += [CredentialType.DEA_REGISTRATION] * p.has_dea
        kinds += [CredentialType.BOARD_CERTIFICATION] * p.has_board
        for kind in kinds:
            expiry: dt.date | None = today + dt.timedelta(
                days=rng.randint(-EXPIRY_SPREAD_DAYS, EXPIRY_SPREAD_DAYS)
            )
            number = state = issuer = specialty = None
            schedules: list[str] | None = None
            per_claim = aggregate = None
            if kind == CredentialType.MEDICAL_LICENSE:
                state, number = p.state, f"{rng.choice('ABCDGLMR')}{rng.randrange(10**4, 10**7)}"
            elif kind == CredentialType.DEA_REGISTRATION:
                state, number = p.state, dea_number(rng, p.last)
                schedules = rng.choice(DEA_SCHEDULE_SETS)
            elif kind == CredentialType.MALPRACTICE_INSURANCE:
                issuer, number = rng.choice(INSURERS), f"MP{rng.randrange(10**8):08d}"
                per_claim, aggregate = rng.choice(COVERAGES)
            else:
                issuer, specialty = rng.choice(BOARDS)
                if rng.random() < 0.3:
                    expiry = None  # a lifetime certification
            effective = None
            if expiry is not None:
                effective = expiry - dt.timedelta(days=365 * CREDENTIAL_TERMS[kind])
            entered = moment(rng, (effective or today) - dt.timedelta(days=rng.randint(1, 20)))
            created = min(max(p.created_at, entered), latest)
            status = CREDENTIAL_STATUSES.pick(rng)
            verified_at = reason = None
            if status != VerificationStatus.UNVERIFIED:
                verified_at = min(created + dt.timedelta(days=rng.randint(1, 5)), latest)
            if status == VerificationStatus.REJECTED:
                reason = rng.choice(REJECTION_REASONS)
            credential_id = new_id(rng)
            history = []
            decision = None
            if verified_at is not None:
                # as policies/credentials.sql writes it
                changed_at = verified_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                history = [{"verification_status": str(status), "changed_at": changed_at}]
                decision = (
                    uuid.uuid5(credential_id, "decision"),
                    p.home.id,
                    credential_id,
                    p.id,
                    status,
                    reason,
                    p.home.admins[0].id,
                    verified_at,
                )
            credential = (
                credential_id,
                p.id,
                kind,
                number,
                state,
                issuer,
                specialty,
                schedules,
                per_claim,
                aggregate,
                effective,
                expiry,
                status,
                verified_at,
                history,
                created,
                max(created, verified_at or created),
                plan.member_of[p.id],
            )
            yield credential, decision


def invitation_rows(plan: Plan) -> Iterator[Row]:
    """What onboarding counts: a live organization's first office manager and first
    provider accepted invitations; half the organizations still onboarding have one open."""
    rng = plan.random("invitations")
    day = dt.timedelta(days=1)
    for org in plan.organizations:
        admin = org.admins[0].id
        if org.onboarding == OnboardingStatus.COMPLETED:
            manager = org.managers[0]
            managed = [f.id for f in org.facilities if f.manager_id == manager.id]
            yield _invitation(rng, org, manager.email, manager.name, Role.OFFICE_MANAGER,
                              managed, None, admin, manager.id, manager.created_at)  # fmt: skip
            provider = org.first_provider
            at = plan.primary[provider.id].facility_id
            yield _invitation(rng, org, provider.email, f"Dr. {provider.name}", Role.PROVIDER,
                              [at], at, admin, provider.id, provider.created_at)  # fmt: skip
        elif org.onboarding == OnboardingStatus.IN_PROGRESS and rng.random() < 0.5:
            at = rng.choice(org.facilities).id
            sent = plan.anchor - day * rng.uniform(1, 6)
            yield _invitation(rng, org, f"invitee@{org.domain}", "Dr. Invited Provider",
                              Role.PROVIDER, [at], at, admin, None, sent + day)  # fmt: skip


def _invitation(
    rng: random.Random,
    org: Organization,
    email: str,
    name: str,
    role: str,
    facility_ids: list[uuid.UUID],
    primary_facility_id: uuid.UUID | None,
    invited_by: uuid.UUID,
    accepted_by: uuid.UUID | None,
    answered: dt.datetime,
) -> Row:
    """An invitation sent the day before `answered`: accepted then by `accepted_by`, or
    still open (the token hash names no token anyone holds)."""
    sent = max(answered - dt.timedelta(days=1), org.created_at)
    accepted_at = answered if accepted_by else None
    return (
        new_id(rng),
        org.id,
        email,
        name,
        role,
        facility_ids,
        primary_facility_id,
        f"{rng.getrandbits(256):064x}",
        sent + dt.timedelta(days=7),
        invited_by,
        accepted_at,
        accepted_by,
        None,
        sent,
        accepted_at or sent,
    )


def document_rows(plan: Plan) -> Iterator[Row]:
    """Organizations' tax forms and banking letters (live ones, half of those still
    onboarding); training certificates of 60% of providers, some expired."""
    rng, today = plan.random("documents"), plan.today
    latest = plan.anchor - dt.timedelta(hours=1)
    for org in plan.organizations:
        live = org.onboarding == OnboardingStatus.COMPLETED
        if live or (org.onboarding == OnboardingStatus.IN_PROGRESS and rng.random() < 0.5):
            for kind in (DocumentType.TAX_FORM, DocumentType.BANKING_LETTER):
                at = org.created_at + dt.timedelta(days=rng.uniform(1, 6))
                yield _document(
                    plan, rng, org.id, None, kind, None, org.admins[0].id, min(at, latest)
                )
    for p in plan.providers:
        if rng.random() < 0.6:
            expiry = today + dt.timedelta(days=rng.randint(-200, 530))
            at = min(p.created_at + dt.timedelta(days=rng.uniform(1, 60)), latest)
            yield _document(
                plan, rng, None, p.id, DocumentType.TRAINING_CERTIFICATE, expiry, p.id, at
            )


def _document(
    plan: Plan,
    rng: random.Random,
    organization_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
    kind: str,
    expiry: dt.date | None,
    uploaded_by: uuid.UUID,
    at: dt.datetime,
) -> Row:
    return (
        new_id(rng),
        organization_id,
        user_id,
        kind,
        f"{kind.replace('_', '-')}.pdf",
        "application/pdf",
        rng.randrange(40_000, 2_000_000),
        f"{rng.getrandbits(256):064x}",
        uuid.UUID(int=rng.getrandbits(128), version=4).hex,
        expiry,
        uploaded_by,
        at,
        at,
        [] if user_id is None else plan.member_of[user_id],
    )


def step_rows(plan: Plan) -> Iterator[Row]:
    """The manual steps of every live organization, by its admin, going live last."""
    rng = plan.random("onboarding_step_completions")
    for org in plan.organizations:
        if org.activated_at is None:
            continue
        trained = org.activated_at - dt.timedelta(hours=rng.uniform(1, 48))
        for step, at in (
            (OnboardingStep.TRAINING_AND_CERTIFICATION, trained),
            (OnboardingStep.GO_LIVE, org.activated_at),
        ):
            yield (new_id(rng), org.id, step, org.admins[0].id, at)


# What orders of each age have come to: (older than, in days; statuses and weights).
ORDER_MIX_BY_AGE = (
    (45, Mix((OrderStatus.DELIVERED, 90), (OrderStatus.CANCELLED, 10))),
    (
        7,
        Mix(
            (OrderStatus.DELIVERED, 60),
            (OrderStatus.SHIPPED, 20),
            (OrderStatus.APPROVED, 8),
            (OrderStatus.SUBMITTED, 5),
            (OrderStatus.CANCELLED, 7),
        ),
    ),
    (
        -1,
        Mix(
            (OrderStatus.DRAFT, 8),
            (OrderStatus.SUBMITTED, 35),
            (OrderStatus.APPROVED, 25),
            (OrderStatus.SHIPPED, 20),
            (OrderStatus.DELIVERED, 5),
            (OrderStatus.CANCELLED, 7),
        ),
    ),
)
# The way from submitted to delivered: how many hours each step takes (from, to).
ORDER_STEPS = ((1, 48), (12, 72), (24, 120))
# How many of those steps an order in each status has taken.
ORDER_PROGRESS: dict[str, int] = {
    OrderStatus.SUBMITTED: 0,
    OrderStatus.APPROVED: 1,
    OrderStatus.SHIPPED: 2,
    OrderStatus.DELIVERED: 3,
}


def order_rows(plan: Plan) -> Iterator[Row]:
    """Orders in the order they were placed, growing over the two years, quieter at
    weekends; each by a provider inside one of their (current or ended) assignments, on a
    day it was active."""
    rng, today = plan.random("orders"), plan.today
    draw = rng.random
    latest = plan.anchor - dt.timedelta(seconds=1)
    yesterday = today - dt.timedelta(days=1)
    windows = [
        (a.start_date.toordinal(), (a.end_date or yesterday).toordinal(), a)
        for a in plan.assignments
        if a.status != AssignmentStatus.PENDING
    ]
    veteran = plan.primary[plan.providers[0].id]
    first_day = today - dt.timedelta(days=ORDER_DAYS)
    days = [first_day + dt.timedelta(days=k) for k in range(ORDER_DAYS)]
    weights = [(1 + k / ORDER_DAYS) * (0.35 if d.weekday() >= 5 else 1) for k, d in enumerate(days)]
    for day, count in zip(days, apportion(plan.scale.orders, weights), strict=True):
        ordinal, age = day.toordinal(), (today - day).days
        mix = next(m for older, m in ORDER_MIX_BY_AGE if age > older)
        midnight = dt.datetime.combine(day, dt.time(), dt.UTC)
        for second in sorted(int(draw() * 86_400) for _ in range(count)):
            for _ in range(50):
                start, end, a = windows[int(draw() * len(windows))]
                if start <= ordinal <= end:
                    break
            else:
                a = veteran
            created = midnight + dt.timedelta(seconds=second)
            status = mix.pick(rng)
            # submitted, approved, shipped, delivered, cancelled
            stamps: list[dt.datetime | None] = [None] * 5
            last = created
            if status == OrderStatus.CANCELLED:
                stamps[0] = created
                stamps[4] = last = min(created + dt.timedelta(hours=1 + 71 * draw()), latest)
            elif status != OrderStatus.DRAFT:
                stamps[0] = created
                for k in range(ORDER_PROGRESS[status]):
                    low, high = ORDER_STEPS[k]
                    last = min(last + dt.timedelta(hours=low + (high - low) * draw()), latest)
                    stamps[k + 1] = last
            lines = 1 + min(int(rng.expovariate(0.35)), 29)
            yield (
                new_id(rng),
                a.organization_id,
                a.facility_id,
                a.user_id,
                status,
                Decimal((1_500 + int(draw() * 43_500)) * lines).scaleb(-2),
                lines,
                created,
                last,
                *stamps,
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID | dt.date):
        return str(value)
    return value


def _insert_event(
    rng: random.Random,
    columns: Sequence[str],
    row: Row,
    *,
    organization_id: uuid.UUID,
    actor: uuid.UUID,
    cross_tenant: bool,
    table: str,
    redacted: Sequence[str] = (),
) -> Row:
    """The event the audit trigger writes for an insert: every column but the
    timestamps, from nothing to its value (redacted columns hidden)."""
    values = dict(zip(columns, row, strict=True))
    changes = {
        name: (
            {"old": "[redacted]", "new": "[redacted]"}
            if name in redacted
            else {"old": None, "new": _jsonable(value)}
        )
        for name, value in values.items()
        if name not in ("created_at", "updated_at")
    }
    return (
        new_id(rng),
        organization_id,
        actor,
        cross_tenant,
        "insert",
        table,
        values["id"],
        changes,
        REQUEST_ID,
        values["created_at"],
    )


def audit_rows(plan: Plan) -> Iterator[Row]:
    """Insert events of organizations (made by MSC, outside its own organizations) and
    facilities (made by the organization's admin): what recent activity shows."""
    rng = plan.random("audit_events")
    organizations = TABLES_BY_NAME["organizations"]
    for org, row in zip(plan.organizations, organizations.rows(plan), strict=True):
        yield _insert_event(
            rng, organizations.columns, row, organization_id=org.id, actor=org.representative_id,
            cross_tenant=True, table="organizations", redacted=("tax_id",),
        )  # fmt: skip
    admins = {org.id: org.admins[0].id for org in plan.organizations}
    facilities = TABLES_BY_NAME["facilities"]
    for row in facilities.rows(plan):
        org_id = row[1]
        yield _insert_event(
            rng, facilities.columns, row, organization_id=org_id, actor=admins[org_id],
            cross_tenant=False, table="facilities",
        )  # fmt: skip


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: Callable[[Plan], Iterator[Row]]


def _columns(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# In the order they load: each after the tables its keys refer to.
TABLES = (
    Table(
        "users",
        _columns(
            "id email name phone npi password_hash npi_verification npi_verified_at"
            " dea_not_applicable is_msc_admin is_msc_representative is_active created_at"
            " updated_at organization_ids"
        ),
        user_rows,
    ),
    Table(
        "organizations",
        _columns(
            "id name tax_id organization_type primary_contact_name primary_contact_email"
            " primary_contact_phone status onboarding_status msc_representative_id"
            " parent_organization_id ancestor_ids created_at updated_at activated_at"
        ),
        organization_rows,
    ),
    Table(
        "memberships",
        _columns("id organization_id user_id role created_at updated_at"),
        membership_rows,
    ),
    Table(
        "facilities",
        _columns(
            "id organization_id name npi ptan facility_type address city state zip_code phone"
            " email office_manager_id mac_jurisdiction place_of_service active created_at"
            " updated_at"
        ),
        facility_rows,
    ),
    Table(
        "provider_facilities",
        _columns(
            "id organization_id user_id facility_id start_date end_date status"
            " created_at updated_at"
        ),
        assignment_rows,
    ),
    Table(
        "primary_assignments",
        _columns("user_id organization_id facility_id created_at updated_at"),
        primary_assignment_rows,
    ),
    Table(
        "credentials",
        _columns(
            "id user_id credential_type number state issuer specialty dea_schedules"
            " coverage_per_claim coverage_aggregate effective_date expiry_date"
            " verification_status verified_at verification_history created_at"
            " updated_at owner_organization_ids"
        ),
        credential_rows,
    ),
    Table(
        "credential_verifications",
        _columns(
            "id organization_id credential_id user_id verification_status rejection_reason"
            " verified_by_id verified_at"
        ),
        credential_verification_rows,
    ),
    Table(
        "invitations",
        _columns(
            "id organization_id email name role facility_ids primary_facility_id token_hash"
            " expires_at invited_by_id accepted_at accepted_user_id revoked_at created_at"
            " updated_at"
        ),
        invitation_rows,
    ),
    Table(
        "documents",
        _columns(
            "id organization_id user_id document_type filename content_type size_bytes sha256"
            " storage_key expiry_date uploaded_by_id created_at updated_at"
            " owner_organization_ids"
        ),
        document_rows,
    ),
    Table(
        "onboarding_step_completions",
        _columns("id organization_id step completed_by_id completed_at"),
        step_rows,
    ),
    Table(
        "orders",
        _columns(
            "id organization_id facility_id provider_id status amount line_count created_at"
            " updated_at submitted_at approved_at shipped_at delivered_at cancelled_at"
        ),
        order_rows,
    ),
    Table(
        "audit_events",
        _columns(
            "id organization_id actor_user_id cross_tenant action table_name row_id changes"
            " request_id occurred_at"
        ),
        audit_rows,
    ),
)
TABLES_BY_NAME = {t.name: t for t in TABLES}


# --- after the load: the rules, checked by SQL ------------------------------------------


def _required_sql() -> str:
    def present(column: str) -> str:
        if column == "dea_schedules":
            return "coalesce(cardinality(dea_schedules), 0) > 0"
        return f"{column} IS NOT NULL"

    cases = " ".join(
        f"WHEN '{kind}' THEN {' AND '.join(present(c) for c in columns)}"
        for kind, columns in REQUIRED.items()
    )
    return f"SELECT count(*) FROM credentials WHERE NOT (CASE credential_type {cases} END)"


# Each query counts the rows that break a rule; all must count 0.
INVARIANTS = {
    "providers without a primary assignment": """
        SELECT count(*) FROM (SELECT DISTINCT user_id FROM memberships WHERE role = 'provider') m
          LEFT JOIN primary_assignments p USING (user_id)
         WHERE p.user_id IS NULL""",
    "primary assignments pointing at no active assignment": assignments.DANGLING_PRIMARIES,
    "assignments without a membership": """
        SELECT count(*) FROM provider_facilities pf
         WHERE NOT EXISTS (SELECT 1 FROM memberships m WHERE m.organization_id = pf.organization_id
                                                        AND m.user_id = pf.user_id)""",
    "orders outside an active day of their provider's assignment": """
        SELECT count(*) FROM orders o
         WHERE NOT EXISTS (
               SELECT 1 FROM provider_facilities pf
                WHERE pf.user_id = o.provider_id AND pf.organization_id = o.organization_id
                  AND pf.facility_id = o.facility_id AND pf.status <> 'pending'
                  AND o.created_at::date BETWEEN pf.start_date
                                             AND coalesce(pf.end_date, %(today)s))""",
    "orders whose stamps do not follow their status": """
        SELECT count(*) FROM orders
         WHERE NOT ((status = 'draft') = (submitted_at IS NULL)
                AND (approved_at IS NOT NULL) = (status IN ('approved', 'shipped', 'delivered'))
                AND (shipped_at IS NOT NULL) = (status IN ('shipped', 'delivered'))
                AND (delivered_at IS NOT NULL) = (status = 'delivered')
                AND (cancelled_at IS NOT NULL) = (status = 'cancelled')
                AND coalesce(submitted_at = created_at, true)
                AND coalesce(approved_at >= submitted_at, true)
                AND coalesce(shipped_at >= approved_at, true)
                AND coalesce(delivered_at >= shipped_at, true)
                AND coalesce(cancelled_at >= submitted_at, true)
                AND updated_at = greatest(created_at, submitted_at, approved_at, shipped_at,
                                          delivered_at, cancelled_at))""",
    "organizations whose ancestor_ids are not their parent's plus themselves": """
        SELECT count(*) FROM organizations o
          LEFT JOIN organizations p ON p.id = o.parent_organization_id
         WHERE o.ancestor_ids IS DISTINCT FROM coalesce(p.ancestor_ids, '{}') || o.id""",
    "users whose organization_ids are not the organizations of their memberships": """
        SELECT count(*) FROM users u
         WHERE (SELECT array_agg(o ORDER BY o) FROM unnest(u.organization_ids) o)
               IS DISTINCT FROM (SELECT array_agg(m.organization_id ORDER BY m.organization_id)
                                   FROM memberships m WHERE m.user_id = u.id)""",
    **{
        f"{table} whose owner_organization_ids are not their owner's organizations": f"""
        SELECT count(*) FROM {table} t LEFT JOIN users u ON u.id = t.user_id
         WHERE NOT (t.owner_organization_ids @> coalesce(u.organization_ids, '{{}}')
                    AND t.owner_organization_ids <@ coalesce(u.organization_ids, '{{}}'))"""
        for table in ("credentials", "documents")
    },
    "facilities whose MAC jurisdiction is not their state's": """
        SELECT count(*) FROM facilities f JOIN us_states s ON s.code = f.state
         WHERE f.mac_jurisdiction IS DISTINCT FROM s.mac_jurisdiction""",
    "organizations initiated with onboarding data, or started without": """
        SELECT count(*) FROM organizations o
         WHERE (o.onboarding_status = 'initiated') = (
               EXISTS (SELECT 1 FROM facilities x WHERE x.organization_id = o.id)
               OR EXISTS (SELECT 1 FROM invitations x WHERE x.organization_id = o.id)
               OR EXISTS (SELECT 1 FROM documents x WHERE x.organization_id = o.id)
               OR EXISTS (SELECT 1 FROM onboarding_step_completions x
                           WHERE x.organization_id = o.id))""",
    "organizations completed without going live, or live without completing": """
        SELECT count(*) FROM organizations o
         WHERE (o.onboarding_status = 'completed') <> EXISTS (
               SELECT 1 FROM onboarding_step_completions s
                WHERE s.organization_id = o.id AND s.step = 'go_live')""",
    "credentials missing what their kind requires": _required_sql(),
    "facilities with a place of service MSC does not use": f"""
        SELECT count(*) FROM facilities
         WHERE place_of_service NOT IN ({", ".join(f"'{c}'" for c in PLACE_OF_SERVICE)})""",
}


def violations(
    conn: psycopg.Connection[Any], today: dt.date, report: Callable[[str], None]
) -> dict[str, int]:
    """How many rows break each rule (INVARIANTS, and the check digits of NPIs and DEA
    numbers, which are checked here in Python by the application's own functions). A
    Citus cluster plans no correlated subquery beside a reference table: the rules it
    cannot check are reported, and hold for the same seed and scale on one server (the
    plan, not the engine, makes the rows)."""
    found: dict[str, int] = {}
    for rule, query in INVARIANTS.items():
        try:
            with conn.transaction():
                found[rule] = conn.execute(query, {"today": today}).fetchone()[0]  # type: ignore[index]
        except psycopg.errors.FeatureNotSupported as refused:
            report(f"not checked here ({refused.diag.message_primary}): {rule}")
    npis = conn.execute(
        "SELECT npi FROM users WHERE npi IS NOT NULL UNION ALL"
        " SELECT npi FROM facilities WHERE npi IS NOT NULL"
    )
    found["NPIs with a wrong check digit"] = sum(not is_valid_npi(n) for (n,) in npis)
    deas = conn.execute(
        "SELECT number FROM credentials WHERE credential_type = %s",
        (CredentialType.DEA_REGISTRATION,),
    )
    found["DEA numbers with a wrong check digit"] = sum(not is_valid_dea(n) for (n,) in deas)
    return found


# --- loading ----------------------------------------------------------------------------


def _check_triggers(conn: psycopg.Connection[Any]) -> None:
    """Refuse to load past an insert trigger this module does not stand in for: it would
    be skipped silently."""
    rows = conn.execute(
        "SELECT c.relname || '.' || t.tgname, t.tgname FROM pg_trigger t"
        "  JOIN pg_class c ON c.oid = t.tgrelid"
        " WHERE NOT t.tgisinternal AND c.relname = ANY (%s) AND t.tgtype & 4 <> 0"  # INSERT
        # the `<table>_may_write` triggers only refuse an MSC representative's writes: the
        # load is no one's, and they maintain nothing
        "   AND t.tgfoid <> 'tenancy.refuse_representatives_writes'::regproc",
        ([t.name for t in TABLES],),
    ).fetchall()
    unknown = sorted(qualified for qualified, name in rows if name not in ACCOUNTED_TRIGGERS)
    if unknown:
        raise RuntimeError(
            "insert triggers the generator does not account for: " + ", ".join(unknown)
        )


def _rate(what: str, rows: int, seconds: float) -> str:
    return f"  {what:<28} {rows:>10,} rows {seconds:8.1f} s {rows / seconds:>10,.0f} rows/s"


@dataclass(frozen=True)
class Keys:
    """The keys and indexes of the loaded tables, as PostgreSQL would recreate them."""

    # (table, name, definition), primary and unique first, then foreign keys
    constraints: list[tuple[str, str, str]]
    # (name, CREATE INDEX statement): the indexes no constraint owns
    indexes: list[tuple[str, str]]

    @classmethod
    def read(cls, conn: psycopg.Connection[Any]) -> Keys:
        tables = [t.name for t in TABLES]
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE (contype IN ('p', 'u') AND conrelid = ANY (%(t)s::regclass[]))"
            # foreign keys from or to a loaded table: those to it depend on its unique index
            "    OR (contype = 'f' AND (conrelid = ANY (%(t)s::regclass[])"
            "                           OR confrelid = ANY (%(t)s::regclass[])))"
            " ORDER BY contype = 'f', 1, 2",
            {"t": tables},
        ).fetchall()
        indexes = conn.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i"
            " WHERE indrelid = ANY (%(t)s::regclass[]) AND NOT EXISTS ("
            "       SELECT 1 FROM pg_constraint c"
            "        WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))"
            " ORDER BY 1",
            {"t": tables},
        ).fetchall()
        return cls(constraints, indexes)

    def drop(self, conn: psycopg.Connection[Any]) -> None:
        for table, name, _ in reversed(self.constraints):
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    sql.SQL(table), sql.Identifier(name)
                )
            )
        for name, _ in self.indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))

    def create(self, conn: psycopg.Connection[Any]) -> None:
        """Build them again; adding a key or foreign key checks every row against it."""
        primary_and_unique = [c for c in self.constraints if not c[2].startswith("FOREIGN KEY")]
        foreign = [c for c in self.constraints if c[2].startswith("FOREIGN KEY")]
        for table, name, definition in primary_and_unique:
            conn.execute(_add_constraint(table, name, definition))
        for _, statement in self.indexes:
            conn.execute(sql.SQL(statement))
        for table, name, definition in foreign:
            conn.execute(_add_constraint(table, name, definition))


def _add_constraint(table: str, name: str, definition: str) -> sql.Composed:
    return sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
        sql.SQL(table),
        sql.Identifier(name),
        sql.SQL(definition),
    )


def _triggers(conn: psycopg.Connection[Any], *, enabled: bool) -> None:
    """Turn the loaded tables' triggers off or on again. On a Citus cluster, whose
    reference tables take no ALTER TABLE ... TRIGGER, the loading transaction instead
    runs as a replica does, firing none of them, on every node it reaches."""
    if has_citus(conn):
        if not enabled:
            conn.execute(PROPAGATE_TO_WORKERS)
            conn.execute("SET LOCAL session_replication_role = replica")
        return
    for table in TABLES:
        conn.execute(
            sql.SQL("ALTER TABLE {} {} TRIGGER USER").format(
                sql.Identifier(table.name), sql.SQL("ENABLE" if enabled else "DISABLE")
            )
        )


def load(
    conn: psycopg.Connection[Any], plan: Plan, report: Callable[[str], None]
) -> dict[str, int]:
    """Write every table in one transaction, as pg_restore does: triggers disabled, keys
    and indexes dropped and built again once the rows are in; rows per table."""
    counts: dict[str, int] = {}
    with conn.transaction():
        _check_triggers(conn)
        if conn.execute("SELECT EXISTS (SELECT 1 FROM organizations)").fetchone() != (False,):
            raise RuntimeError("the database already holds organizations")
        # Index builds sort in memory rather than in temporary files.
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        keys = Keys.read(conn)
        keys.drop(conn)
        _triggers(conn, enabled=False)
        for table in TABLES:
            # Binary: several times cheaper to encode here and to decode there than text.
            statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
                sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, table.columns))
            )
            types = dict(
                conn.execute(
                    "SELECT attname, atttypid FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                    (table.name,),
                ).fetchall()
            )
            started, count = time.perf_counter(), 0
            with conn.cursor() as cursor, cursor.copy(statement) as copy:
                copy.set_types([types[c] for c in table.columns])
                for row in table.rows(plan):
                    copy.write_row(row)
                    count += 1
            elapsed = time.perf_counter() - started
            counts[table.name] = count
            report(_rate(table.name, count, elapsed))
        _triggers(conn, enabled=True)
        started = time.perf_counter()
        keys.create(conn)
        if Keys.read(conn) != keys:
            raise RuntimeError("the keys and indexes built again differ from the schema's")
        report(f"  built and checked keys and indexes in {time.perf_counter() - started:.1f} s")
    return counts


def manifest(plan: Plan, database: str, counts: dict[str, int]) -> dict[str, Any]:
    """Ids the load test needs to act as someone: the largest tenant's admin and an
    office manager there, other tenants' admins, an MSC admin, providers who may order."""
    rng = plan.random("manifest")
    root = plan.largest
    tree = plan.tree(root)
    facilities = [f for o in tree for f in o.facilities]
    home = [p for o in tree for p, _ in o.members if p.home is o]
    manager = root.managers[0]
    tenants = [
        o
        for o in plan.organizations
        if o.parent is None and o is not root and o.status == OrganizationStatus.ACTIVE
    ]
    live = {o.id for o in plan.organizations if o.status == OrganizationStatus.ACTIVE}
    providers = {p.id: p for p in plan.providers}
    writers = [
        a
        for a in plan.assignments
        if a.status == AssignmentStatus.ACTIVE
        and a.organization_id in live
        and providers[a.user_id].active
    ]

    def sample(items: Sequence[Any]) -> list[Any]:
        return rng.sample(list(items), min(MANIFEST_SAMPLE, len(items)))

    return {
        "database": database,
        "scale": dataclasses.asdict(plan.scale),
        "seed": plan.seed,
        "today": plan.today.isoformat(),
        "password": BENCH_PASSWORD,
        "counts": counts,
        "msc_admin_user_id": str(plan.msc_admins[0].id),
        "largest": {
            "organization_id": str(root.id),
            "name": root.name,
            "admin_user_id": str(root.admins[0].id),
            "organization_ids": [str(o.id) for o in tree],
            "facilities": len(facilities),
            "providers": len(home),
            "facility_ids": [str(f.id) for f in sample(facilities)],
            "provider_ids": [str(p.id) for p in sample(home)],
            "office_manager": {
                "user_id": str(manager.id),
                "organization_id": str(root.id),
                "facility_ids": [str(f.id) for f in root.facilities if f.manager_id == manager.id],
            },
        },
        "tenants": [
            {
                "organization_id": str(o.id),
                "admin_user_id": str(o.admins[0].id),
                "facilities": o.facility_count,
                "providers": o.provider_count,
            }
            for o in sorted(sample(tenants), key=lambda o: (-o.facility_count, o.serial))
        ],
        "order_writers": [
            {
                "user_id": str(a.user_id),
                "organization_id": str(a.organization_id),
                "facility_id": str(a.facility_id),
            }
            for a in sample(writers)
        ],
    }


def generate(
    server_admin_url: str,
    database: str,
    scale: Scale,
    *,
    seed: int = DEFAULT_SEED,
    today: dt.date | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Provision `database` afresh, fill it at `scale`, check it, vacuum and analyze it;
    returns the manifest."""
    if not database.startswith(DATABASE_PREFIX):
        # It is dropped and created again: never one of the service's own databases.
        raise ValueError(f"the database name must start with {DATABASE_PREFIX!r}")
    today = today or clock.today()
    began = time.perf_counter()
    urls = provision(server_admin_url, database, REGION, recreate=True)
    report(f"provisioned {database} in {time.perf_counter() - began:.1f} s")
    with psycopg.connect(libpq_url(urls.admin)) as conn:
        # UTC dates, as the application's roles see them (`created_at::date` in the checks).
        conn.execute("SET TimeZone = 'UTC'")
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if superuser.fetchone() != (True,):
            raise RuntimeError("the load needs a superuser: COPY refuses tables under RLS")
        states = conn.execute("SELECT code, mac_jurisdiction FROM us_states").fetchall()
        jurisdictions: dict[str, str | None] = dict(states)
        conn.commit()
        started = time.perf_counter()
        plan = Plan(scale, seed, today, jurisdictions)
        planned = time.perf_counter() - started
        report(f"planned scale {scale.name} (seed {seed}, today {today}) in {planned:.1f} s")
        started = time.perf_counter()
        counts = load(conn, plan, report)
        loaded = time.perf_counter() - started
        total = sum(counts.values())
        report(_rate("all tables", total, loaded))
        started = time.perf_counter()
        broken = {rule: n for rule, n in violations(conn, today, report).items() if n}
        conn.commit()
        report(f"checked the rules in {time.perf_counter() - started:.1f} s")
        if broken:
            raise RuntimeError(f"the generated data breaks rules: {broken}")
        conn.autocommit = True
        started = time.perf_counter()
        conn.execute(
            sql.SQL("VACUUM (ANALYZE) {}").format(
                sql.SQL(", ").join(sql.Identifier(t.name) for t in TABLES)
            )
        )
        report(f"vacuumed and analyzed in {time.perf_counter() - started:.1f} s")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()
    report(
        f"done in {time.perf_counter() - began:.1f} s; {database} takes {size[0] if size else '?'}"
    )
    return manifest(plan, database, counts)


@click.command()
@click.option(
    "--scale", "scale_name", type=click.Choice(list(SCALES)), default="large", show_default=True
)
@click.option(
    "--database",
    default=DATABASE_PREFIX,
    show_default=True,
    help="Dropped and created again; must start with msc_bench.",
)
@click.option("--seed", default=DEFAULT_SEED, show_default=True)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day the data is laid out around [default: today, UTC].",
)
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(path_type=Path),
    default=None,
    help="[default: <LOCAL_DATA_DIR>/bench/<database>.json]",
)
def main(
    scale_name: str, database: str, seed: int, today: dt.datetime | None, manifest_path: Path | None
) -> None:
    """Fill a benchmark database with deterministic synthetic data at a scale.

    Recreates the database on the server of DATABASE_ADMIN_URL (an embedded one when
    unset), loads it through COPY, checks the rules, vacuums and analyzes it, and writes
    a manifest of ids for the load test. Every user's password is `bench-password`."""
    settings = Settings.from_env()
    admin = settings.database_admin_url or embedded_postgres(settings.local_data_dir)
    result = generate(
        admin,
        database,
        SCALES[scale_name],
        seed=seed,
        today=today.date() if today else None,
        report=click.echo,
    )
    path = manifest_path or settings.local_data_dir / "bench" / f"{database}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    click.echo(f"manifest: {path}")


if __name__ == "__main__":
    main()
