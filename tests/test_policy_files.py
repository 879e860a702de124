"""Facts that the domain and policies/ both state, compared by reading the policy files,
so that one cannot change without the other."""

from __future__ import annotations

import re

from app.domain.organizations import MSC_ONLY_FIELDS
from app.tenancy.policies import POLICIES_DIR

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
