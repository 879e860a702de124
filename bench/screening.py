"""How long exclusion screening takes: every provider of a benchmark database (200,000 at
bench/generate.py's large scale) against a full-size list (80,000 entries), in one pass.

    .venv/bin/python bench/generate.py --scale large --database msc_bench
    .venv/bin/python bench/screening.py --database msc_bench [--entries 80000] [--per-kind 100]

The list is made in SQL, deterministic for the same database: a LEIE full file of
`--entries` entries, of which `--per-kind` each are real matches of the database's
providers by NPI, by name and date of birth, and by name and state (a provider whose
date of birth is unknown, the entry in the state of one of their facilities), as many
near misses (a provider's name with another date of birth), 1% entries of the generator's
common names (each names dozens of providers: the name join's worst case, left to the
dates of birth to tell apart), and the rest other people and entities. Nine providers in
ten get a date of birth.

Then runs the screening job's work (`screening.screen` in the system context of the
job's session, committed) twice, printing for each the seconds and the counts:
- first: the matches are found and written (the pass after a list import);
- again: the same list once more (the monthly pass), which finds nothing new.

The list, the screenings, the matches and their audit events, and the dates of birth are
removed afterwards: the database is left as it was found.
"""

from __future__ import annotations

import argparse
import os
import time

import harness
import psycopg
from sqlalchemy import text

from app.tenancy.roles import libpq_url

DATABASE = "msc_bench"
PUBLISHED_ON = "2026-11-10"

# The providers, in a fixed pseudo-random order, numbered from 0 (one row per user).
_PROVIDERS = """
    CREATE TEMP TABLE bench_providers AS
    SELECT row_number() OVER (ORDER BY md5(u.id::text)) - 1 AS n, u.id, u.npi,
           u.date_of_birth, tenancy.name_key(u.name) AS name_key,
           (SELECT f.state FROM provider_facilities pf
              JOIN facilities f ON f.organization_id = pf.organization_id
                               AND f.id = pf.facility_id
             WHERE pf.user_id = u.id ORDER BY f.state LIMIT 1) AS state
      FROM users u
     WHERE u.id IN (SELECT user_id FROM memberships WHERE role = 'provider' AND is_active)
       AND tenancy.name_key(u.name) IS NOT NULL
"""

_ENTRY_COLUMNS = (
    "source, entry_key, list_id, first_name, last_name, business_name, npi, date_of_birth,"
    " state, exclusion_type, excluded_on"
)


def prepare(admin_url: str, entries: int, per_kind: int) -> None:
    """Dates of birth and the list, as the superuser past the tables' triggers (the
    import's own checks are not what is measured)."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "UPDATE users SET date_of_birth = date '1950-01-01' + abs(hashtext(id::text)) % 16000"
            " WHERE abs(hashtext(id::text) / 7) % 10 <> 0"
            "   AND id IN (SELECT user_id FROM memberships WHERE role = 'provider')"
        )
        conn.execute(_PROVIDERS)
        list_id = conn.execute(
            "INSERT INTO exclusion_lists (source, kind, published_on, sha256, entry_count)"
            " VALUES ('leie', 'full', %s, repeat('5', 64), %s) RETURNING id",
            (PUBLISHED_ON, entries),
        ).fetchone()
        assert list_id is not None
        person = (
            "'leie', md5('{kind}' || p.n), %(list)s, upper(split_part(p.name_key, ' ', 1)),"
            " upper(split_part(p.name_key, ' ', 2)), NULL"
        )
        kinds = {
            # the NPI: under another name altogether
            "npi": (
                "'leie', md5('npi' || p.n), %(list)s, 'ROBIN', 'QUILL' || p.n, NULL, p.npi,"
                " NULL, 'NY'",
                "p.npi IS NOT NULL",
            ),
            "dob": (person + ", NULL, p.date_of_birth, 'AK'", "p.date_of_birth IS NOT NULL"),
            "state": (person + ", NULL, date '1960-01-01', p.state", "p.date_of_birth IS NULL"),
            "near": (
                person + ", NULL, p.date_of_birth + 366, p.state",
                "p.date_of_birth IS NOT NULL",
            ),
        }
        for offset, (kind, (values, having)) in enumerate(kinds.items()):
            conn.execute(
                f"INSERT INTO exclusion_entries ({_ENTRY_COLUMNS})"
                f" SELECT {values.format(kind=kind)}, '1128a1', date '2019-05-20'"
                f"   FROM bench_providers p WHERE {having} AND p.n %% 4 = {offset}"
                f"  ORDER BY p.n LIMIT %(per_kind)s",
                {"list": list_id[0], "per_kind": per_kind},
            )
        common = max(entries // 100, 1)
        others = entries - 4 * per_kind - common
        # The generator's common names: first and last name from its vocabulary.
        conn.execute(
            f"INSERT INTO exclusion_entries ({_ENTRY_COLUMNS})"
            " SELECT 'leie', md5('common' || i), %(list)s, split_part(p.name_key, ' ', 1),"
            "        split_part(p.name_key, ' ', 2), NULL, NULL,"
            "        date '1940-01-01' + i %% 20000, 'TX', '1128b4', date '2020-01-01'"
            "   FROM generate_series(1, %(common)s) AS i"
            "   JOIN bench_providers p"
            "     ON p.n = (i * 7919) %% (SELECT count(*) FROM bench_providers)",
            {"list": list_id[0], "common": common},
        )
        # Everyone else: names no provider has, one in ten an entity, one in five an NPI.
        conn.execute(
            f"INSERT INTO exclusion_entries ({_ENTRY_COLUMNS})"
            " SELECT 'leie', md5('other' || i), %(list)s,"
            "        CASE WHEN i %% 10 <> 0 THEN 'PAT' END,"
            "        CASE WHEN i %% 10 <> 0"
            "             THEN translate(substr(md5('last' || i), 1, 9),"
            "                            '0123456789', 'ghijklmnop')"
            "        END,"
            "        CASE WHEN i %% 10 = 0 THEN 'PHARMACY ' || i END,"
            "        CASE WHEN i %% 5 = 0 THEN lpad((2000000000 + i)::text, 10, '0') END,"
            "        date '1940-01-01' + i %% 20000, 'CA', '1128a1', date '2018-01-01'"
            "   FROM generate_series(1, %(others)s) AS i",
            {"list": list_id[0], "others": others},
        )
        conn.execute(
            "UPDATE exclusion_entries"
            " SET name_key = tenancy.name_key(first_name || ' ' || last_name)"
            " WHERE first_name IS NOT NULL"
        )
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) users, exclusion_entries, exclusion_lists")


def forget(admin_url: str) -> None:
    """Remove what prepare and the screenings wrote, past the tables' triggers."""
    with psycopg.connect(libpq_url(admin_url)) as conn:
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute(
            "DELETE FROM audit_events"
            " WHERE table_name IN ('exclusion_matches', 'provider_screenings')"
        )
        conn.execute("DELETE FROM exclusion_matches")
        conn.execute("DELETE FROM provider_screenings")
        conn.execute("DELETE FROM exclusion_entries")
        conn.execute("DELETE FROM exclusion_lists")
        conn.execute("UPDATE users SET date_of_birth = NULL WHERE date_of_birth IS NOT NULL")
    with psycopg.connect(libpq_url(admin_url), autocommit=True) as conn:
        conn.execute(
            "VACUUM (ANALYZE) users, exclusion_entries, exclusion_matches, provider_screenings"
        )


def screen(reason: str) -> tuple[float, str]:
    """The screening job's work, as the job does it; seconds and its summary."""
    # Imported here: the job reads its settings from the environment main() sets.
    from app.domain import screening
    from workers.runtime import system_session

    with system_session("warm-up") as session:  # the pool's first connection, not timed
        session.execute(text("SELECT 1"))
    started = time.perf_counter()
    with system_session(f"screening:{reason}") as session:
        summary = screening.screen(session, reason=reason)
    seconds = time.perf_counter() - started
    return seconds, (
        f"{summary.providers} providers, {summary.rows} screenings, {summary.new_matches}"
        f" new matches, {summary.candidates} candidate and {summary.excluded} excluded"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", default=DATABASE, help="a bench/generate.py database")
    parser.add_argument("--entries", type=int, default=80_000, help="entries in the list")
    parser.add_argument(
        "--per-kind", type=int, default=100, help="real matches of each kind, and near misses"
    )
    args = parser.parse_args(argv)

    bench = harness.target(args.database)
    urls = bench.urls
    os.environ.update(
        {
            "DATABASE_URL": urls.app,
            "DATABASE_OWNER_URL": urls.owner,
            "DATABASE_ADMIN_URL": urls.admin,
            "REDIS_URL": bench.redis_url,
            "REGION": bench.region,
            "LOG_LEVEL": "WARNING",
        }
    )
    forget(urls.admin)
    try:
        started = time.perf_counter()
        prepare(urls.admin, args.entries, args.per_kind)
        print(
            f"{args.database}: list of {args.entries} entries made in"
            f" {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for label, reason in (("first", "list_import"), ("again", "monthly")):
            seconds, summary = screen(reason)
            print(f"screening {label:5} {seconds:6.2f} s: {summary}", flush=True)
    finally:
        forget(urls.admin)


if __name__ == "__main__":
    main()
