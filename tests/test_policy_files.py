"""Facts that the domain and policies/ both state, compared by reading the policy files,
so that one cannot change without the other."""

from __future__ import annotations

import re

import pytest

from app.domain.organizations import MSC_ONLY_FIELDS
from app.tenancy.policies import POLICIES_DIR, policy_files, statements

# The timestamp of the first activation follows `status` (the domain stamps it); no
# request ever names it, so only the database's guard lists it.
FOLLOWS_STATUS = {"activated_at"}


def guarded_columns(table: str) -> set[str]:
    """The columns `tenancy.guard_msc_columns` protects on `table`."""
    sql = (POLICIES_DIR / f"{table}.sql").read_text()
    match = re.search(
        rf"CREATE TRIGGER {table}_guard\b.*?tenancy\.guard_msc_columns\((?P<columns>[^)]*)\)",
        sql,
        re.DOTALL,
    )
    assert match, f"policies/{table}.sql has no {table}_guard trigger"
    return set(re.findall(r"'([a-z_]+)'", match["columns"]))


def test_msc_only_organization_fields_match_the_column_guard() -> None:
    assert guarded_columns("organizations") == MSC_ONLY_FIELDS | FOLLOWS_STATUS


def test_the_files_are_cut_into_statements_where_they_end() -> None:
    """Each statement is applied on its own (app/tenancy/policies.py says why): a
    semicolon ends one only outside strings, quoted names, bodies and comments."""
    script = (
        "-- a comment; not a statement\n"
        "SELECT 'it''s; one';\n"
        'CREATE TABLE "odd;name" (x int);\n'
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\n"
        "BEGIN RETURN 1; END $body$;\n"
        "DO $$ BEGIN PERFORM 1; END $$;  -- trailing; comment\n"
    )
    assert statements(script) == [
        "-- a comment; not a statement\nSELECT 'it''s; one';",
        'CREATE TABLE "odd;name" (x int);',
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$\nBEGIN RETURN 1; END $body$;",
        "DO $$ BEGIN PERFORM 1; END $$;",
    ]
    with pytest.raises(ValueError, match="closing semicolon"):
        statements("SELECT 1; SELECT 2")


def test_every_policy_file_cuts_cleanly() -> None:
    for name in policy_files():
        pieces = statements((POLICIES_DIR / name).read_text())
        assert pieces, name
        assert all(piece.endswith(";") for piece in pieces), name
