"""Exclusion screening: every active provider checked against the exclusion lists in
force, in one set-based pass, the result recorded per organization as evidence.

Who is screened: each active provider membership (role provider, membership active) of
every organization, or of the users named. A user with no organization is not screened
(no organization employs them: nobody to answer for it). A provider shared by several
organizations is matched once per organization and recorded per organization: one
`provider_screenings` row and its own `exclusion_matches` each, which each reads under
its own row-level security without learning of the others.

What matches (exclusion_entries in force: withdrawn_list_id IS NULL):
- the NPI: the entry's NPI (when the list knows one) equals the provider's. An
  exclusion at once: status `excluded`, decided by no one, the reason naming the list;
- otherwise the name (tenancy.name_key of users.name equals the entry's name_key; an
  entity has none, so matches by NPI alone) and
  - both dates of birth known: they are equal (`name_and_date_of_birth`); a known,
    different date of birth is a different person, never a match;
  - either unknown: the entry's state is one of the provider's states
    (`name_and_state`): the states of the facilities of their assignments at the
    organization screening them (any status: a past assignment still says where they
    practised) and of their medical licenses. Only that organization's facilities, not
    every organization's: a candidate raised by a facility elsewhere would tell the
    organization where else the provider works;
  - an entry whose NPI is known and differs from the provider's known NPI is another
    person (one NPI per person for life), not a name match.
  A name match is a `candidate` for an admin of the organization to confirm or clear.

A match is found once per organization, provider and entry: a later pass finding it
again inserts nothing (ON CONFLICT DO NOTHING), so a candidate an admin cleared is not
re-opened by the same entry; a new entry (the next exclusion of the same person) is a
new match.

Reinstatement: a match still open (candidate or excluded) whose entry a later list
withdrew becomes `reinstated`, decided by no one, with the reason "reinstated on <list>
of <date>"; the audit trigger on exclusion_matches records the change, and the
screening of that pass lists the match among its evidence.

A pass is set-based: a few statements whatever the number of providers, no loop over
providers in Python. The providers are taken in slices of about SLICE memberships (by a
hash of the user id; a provider's memberships in one slice), the same statements for
each, so that no statement outlasts the service's statement timeout at any size.

Each new match is announced to its organization as an `exclusion.candidate` webhook
event (its status `candidate` or, by NPI, `excluded`), built for the new matches alone.

Each pass writes one row per organization and provider: the list versions in force,
the outcome read from the review queue after the pass (`excluded` if any match of that
organization is an exclusion, `candidate` if any is still open, else `clear`) and the
evidence: every entry matched in the pass, every match still open, and every match the
pass reinstated, as the entries read then. Rows are only ever inserted.

The caller sets the context: the service's (TenantContext.system; workers/jobs.py runs
it in system_session), or `system_context` around it inside a request (an acceptance, a
profile change): the policies let only the service write screenings and matches.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from app import clock
from app.domain import exclusion_reviews
from app.models.screening import SCREENING_REASONS


@dataclass(frozen=True)
class ScreeningSummary:
    providers: int  # distinct providers screened
    rows: int  # provider_screenings rows written (one per organization and provider)
    candidates: int  # rows whose outcome is candidate
    excluded: int  # rows whose outcome is excluded
    new_matches: int  # exclusion_matches found for the first time
    notices: int  # emails to admins announcing the exclusions among them
    reinstated: int  # matches this pass moved to reinstated
    seconds: float


# The versions in force: the LEIE's latest full file with the supplements published after
# it (all of them while no full file is in), and SAM.gov's latest extract.
_LISTS_IN_FORCE = text(
    """
    WITH latest_full AS (
        SELECT id, published_on FROM exclusion_lists
         WHERE source = 'leie' AND kind = 'full'
         ORDER BY published_on DESC, imported_at DESC LIMIT 1
    ), latest_sam AS (
        SELECT id FROM exclusion_lists
         WHERE source = 'sam'
         ORDER BY published_on DESC, imported_at DESC LIMIT 1
    )
    SELECT coalesce(array_agg(id ORDER BY source, published_on, id), '{}') FROM (
        SELECT l.id, l.source, l.published_on FROM exclusion_lists l
         WHERE l.id IN (SELECT id FROM latest_full UNION ALL SELECT id FROM latest_sam)
            OR (l.source = 'leie' AND l.kind = 'supplement'
                AND l.published_on > coalesce((SELECT published_on FROM latest_full),
                                              '-infinity'::date))
    ) AS in_force
    """
)

# Open matches whose entry a later version withdrew, with the reason their reinstatement
# records. Read first and updated by id: a Citus cluster computes no text from a date
# (a STABLE function) beside a distributed table's columns in an UPDATE.
_WITHDRAWN = text(
    """
    SELECT m.organization_id, m.id,
           'reinstated on ' || upper(l.source) || ' list of '
           || to_char(l.published_on, 'YYYY-MM-DD')
      FROM exclusion_matches AS m
      JOIN exclusion_entries AS e ON e.id = m.entry_id
      JOIN exclusion_lists AS l ON l.id = e.withdrawn_list_id
     WHERE e.withdrawn_list_id IS NOT NULL
       AND m.status IN ('candidate', 'excluded')
       AND (CAST(:user_ids AS uuid[]) IS NULL OR m.user_id = ANY (CAST(:user_ids AS uuid[])))
       AND (CAST(:organization_id AS uuid) IS NULL OR m.organization_id = :organization_id)
    """
)

_REINSTATE = text(
    """
    UPDATE exclusion_matches AS m
       SET status = 'reinstated', decided_at = :now, decided_by_id = NULL,
           decision_reason = w.reason
      FROM unnest(CAST(:withdrawn_organizations AS uuid[]), CAST(:withdrawn_ids AS uuid[]),
                  CAST(:withdrawn_reasons AS text[])) AS w(organization_id, id, reason)
     WHERE m.organization_id = w.organization_id AND m.id = w.id
       AND m.status IN ('candidate', 'excluded')
    RETURNING m.id
    """
)


def _sql(*parts: str) -> TextClause:
    """A statement made of this module's constant fragments, shared by several
    statements; every value is a bound parameter."""
    return text("".join(parts))


# The providers screened: active provider memberships (of the users named, if any), of
# the slice at hand: a provider's memberships all fall in one slice.
_SCREENED = """
    m.role = 'provider' AND m.is_active
    AND (CAST(:user_ids AS uuid[]) IS NULL OR m.user_id = ANY (CAST(:user_ids AS uuid[])))
    AND (CAST(:organization_id AS uuid) IS NULL OR m.organization_id = :organization_id)
    AND (hashtext(m.user_id::text) & 2147483647) % :slices = :slice
"""

_COUNT = _sql("SELECT count(*) FROM memberships AS m WHERE ", _SCREENED)

_NPI_HITS = _sql(
    """
    SELECT m.organization_id, m.user_id, e.id, 'npi'
      FROM memberships AS m
      JOIN users AS u ON u.id = m.user_id
      JOIN exclusion_entries AS e
        ON e.npi = u.npi AND e.npi IS NOT NULL AND e.withdrawn_list_id IS NULL
     WHERE """,
    _SCREENED,
)

# Name hits first (few), then the state rule against the organization's facilities and
# the provider's licenses, joined on the organization so that a Citus cluster keeps each
# organization's part on its node.
_NAME_HITS = _sql(
    """
    SELECT DISTINCT h.organization_id, h.user_id, h.entry_id,
           CASE WHEN h.both_born THEN 'name_and_date_of_birth' ELSE 'name_and_state' END
      FROM (
        SELECT m.organization_id, m.user_id, e.id AS entry_id, e.state,
               u.date_of_birth IS NOT NULL AND e.date_of_birth IS NOT NULL AS both_born,
               u.date_of_birth = e.date_of_birth AS same_birth
          FROM memberships AS m
          JOIN users AS u ON u.id = m.user_id
          JOIN exclusion_entries AS e
            ON e.name_key = tenancy.name_key(u.name) AND e.withdrawn_list_id IS NULL
         WHERE """,
    _SCREENED,
    """
           AND (e.npi IS NULL OR u.npi IS NULL)
      ) AS h
      LEFT JOIN (
        SELECT pf.organization_id, pf.user_id, f.state
          FROM provider_facilities AS pf
          JOIN facilities AS f
            ON f.organization_id = pf.organization_id AND f.id = pf.facility_id
      ) AS worked
        ON worked.organization_id = h.organization_id AND worked.user_id = h.user_id
       AND worked.state = h.state
      LEFT JOIN credentials AS c
        ON c.user_id = h.user_id AND c.credential_type = 'medical_license'
       AND c.state = h.state
     WHERE CASE WHEN h.both_born THEN h.same_birth
                ELSE worked.state IS NOT NULL OR c.state IS NOT NULL END
    """,
)

# The matches of this pass, as parallel arrays (organization, user, entry, kind).
_FOUND = """
    unnest(CAST(:found_organizations AS uuid[]), CAST(:found_users AS uuid[]),
           CAST(:found_entries AS uuid[]), CAST(:found_kinds AS text[]))
        AS f(organization_id, user_id, entry_id, match_kind)
"""

_RECORD_MATCHES = _sql(
    """
    INSERT INTO exclusion_matches
           (organization_id, user_id, entry_id, match_kind, status, found_at,
            decided_at, decision_reason)
    SELECT f.organization_id, f.user_id, f.entry_id, f.match_kind,
           CASE WHEN f.match_kind = 'npi' THEN 'excluded' ELSE 'candidate' END, :now,
           CASE WHEN f.match_kind = 'npi' THEN CAST(:now AS timestamptz) END,
           CASE WHEN f.match_kind = 'npi'
                THEN 'NPI listed on ' || upper(l.source) || ' '
                     || to_char(l.published_on, 'YYYY-MM-DD') END
      FROM """,
    _FOUND,
    """
      JOIN exclusion_entries AS e ON e.id = f.entry_id
      JOIN exclusion_lists AS l ON l.id = e.list_id
    ON CONFLICT (organization_id, user_id, entry_id) DO NOTHING
    RETURNING id
    """,
)

# One row per screened organization and provider. The evidence: the matches found in
# this pass, those still open, and those this pass reinstated (decided_at = :now).
_RECORD_SCREENINGS = _sql(
    """
    INSERT INTO provider_screenings
           (organization_id, user_id, screened_at, reason, list_ids, outcome, matches)
    SELECT m.organization_id, m.user_id, :now, :reason, CAST(:list_ids AS uuid[]),
           coalesce(q.outcome, 'clear'), coalesce(q.evidence, '[]'::jsonb)
      FROM memberships AS m
      LEFT JOIN (
        SELECT x.organization_id, x.user_id,
               CASE WHEN bool_or(x.status = 'excluded') THEN 'excluded'
                    WHEN bool_or(x.status = 'candidate') THEN 'candidate'
                    ELSE 'clear' END AS outcome,
               jsonb_agg(jsonb_build_object(
                   'entry_id', e.id, 'source', e.source, 'match_kind', x.match_kind,
                   'status', x.status, 'last_name', e.last_name,
                   'first_name', e.first_name, 'middle_name', e.middle_name,
                   'business_name', e.business_name, 'npi', e.npi,
                   'date_of_birth', e.date_of_birth, 'state', e.state,
                   'exclusion_type', e.exclusion_type, 'excluded_on', e.excluded_on,
                   'reinstated_on', e.reinstated_on
               ) ORDER BY e.source, e.entry_key) AS evidence
          FROM exclusion_matches AS x
          JOIN exclusion_entries AS e ON e.id = x.entry_id
          LEFT JOIN """,
    _FOUND,
    """
            ON f.organization_id = x.organization_id AND f.user_id = x.user_id
           AND f.entry_id = x.entry_id
         WHERE (CAST(:user_ids AS uuid[]) IS NULL
                OR x.user_id = ANY (CAST(:user_ids AS uuid[])))
           AND (CAST(:organization_id AS uuid) IS NULL OR x.organization_id = :organization_id)
           AND (f.entry_id IS NOT NULL
                OR (x.status IN ('candidate', 'excluded') AND e.withdrawn_list_id IS NULL)
                OR (x.status = 'reinstated' AND x.decided_at = :now))
         GROUP BY x.organization_id, x.user_id
      ) AS q ON q.organization_id = m.organization_id AND q.user_id = m.user_id
     WHERE """,
    _SCREENED,
    """
    RETURNING user_id, outcome
    """,
)

# Providers (memberships) per slice of a pass: each slice's statements stay well inside
# the service's statement timeout (DATABASE_STATEMENT_TIMEOUT_SECONDS) at any size. The
# list's entries are read again for each slice, a small cost beside the providers'.
SLICE = 100_000

_IDS = ARRAY(UUID(as_uuid=True))
# Every statement's bound types: the arrays are sent as uuid[] (or text[]), and a NULL
# filter is a NULL of its type.
_TYPES = (
    bindparam("user_ids", type_=_IDS),
    bindparam("organization_id", type_=UUID(as_uuid=True)),
    bindparam("list_ids", type_=_IDS),
    bindparam("found_organizations", type_=_IDS),
    bindparam("found_users", type_=_IDS),
    bindparam("found_entries", type_=_IDS),
    bindparam("found_kinds", type_=ARRAY(Text())),
    bindparam("withdrawn_organizations", type_=_IDS),
    bindparam("withdrawn_ids", type_=_IDS),
    bindparam("withdrawn_reasons", type_=ARRAY(Text())),
)


def _typed(statement: TextClause) -> TextClause:
    named = set(statement.compile().params)
    return statement.bindparams(*(b for b in _TYPES if b.key in named))


def screen(
    session: Session,
    *,
    reason: str,
    user_ids: Sequence[uuid.UUID] | None = None,
    organization_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> ScreeningSummary:
    """Screen every active provider (or those of `user_ids`; at `organization_id` alone,
    if given) against the lists in force, in the caller's transaction and context
    (module docstring)."""
    if reason not in SCREENING_REASONS:
        raise ValueError(f"unknown screening reason {reason!r}")
    started = time.monotonic()
    now = now or clock.now()
    scope: dict[str, Any] = {
        "user_ids": list(user_ids) if user_ids is not None else None,
        "organization_id": organization_id,
        "now": now,
    }
    session.flush()

    # Nothing is written where there is nothing to write: a statement on the screening
    # tables is refused as a whole to some callers (an MSC representative changing their
    # own name, tenancy.refuse_representatives_writes), even one that changes no row.
    withdrawn = session.execute(_typed(_WITHDRAWN), scope).all()
    reinstated = 0
    if withdrawn:
        reinstated = len(
            session.execute(
                _typed(_REINSTATE),
                {
                    "now": now,
                    "withdrawn_organizations": [row[0] for row in withdrawn],
                    "withdrawn_ids": [row[1] for row in withdrawn],
                    "withdrawn_reasons": [row[2] for row in withdrawn],
                },
            ).all()
        )
    memberships = session.execute(_typed(_COUNT), {**scope, "slices": 1, "slice": 0})
    slices = math.ceil(memberships.scalar_one() / SLICE)
    list_ids = session.execute(_LISTS_IN_FORCE).scalar_one() if slices else []
    new_match_ids: list[uuid.UUID] = []
    written: list[Row[Any]] = []
    for part in range(slices):
        sliced = {**scope, "slices": slices, "slice": part}
        found = [
            *session.execute(_typed(_NPI_HITS), sliced),
            *session.execute(_typed(_NAME_HITS), sliced),
        ]
        this_pass = {
            "found_organizations": [row[0] for row in found],
            "found_users": [row[1] for row in found],
            "found_entries": [row[2] for row in found],
            "found_kinds": [row[3] for row in found],
        }
        if found:
            new_match_ids += session.scalars(
                _typed(_RECORD_MATCHES), {"now": now, **this_pass}
            ).all()
        written += session.execute(
            _typed(_RECORD_SCREENINGS),
            {**sliced, **this_pass, "reason": reason, "list_ids": list_ids},
        ).all()
    # Each new match is announced (built for them alone, few, never for the population
    # screened); an NPI match is an exclusion at once: its organization's admins are
    # told now.
    notices = exclusion_reviews.announce_found(session, new_match_ids)
    return ScreeningSummary(
        providers=len({row.user_id for row in written}),
        rows=len(written),
        candidates=sum(1 for row in written if row.outcome == "candidate"),
        excluded=sum(1 for row in written if row.outcome == "excluded"),
        new_matches=len(new_match_ids),
        notices=notices,
        reinstated=reinstated,
        seconds=time.monotonic() - started,
    )
