"""The exclusion lists' tables and the name rule screening compares names by
(policies/exclusion_lists.sql, exclusion_entries.sql)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import psycopg.errors
import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.models import ExclusionList
from app.models.enums import MSC_REPRESENTATIVE
from app.tenancy.context import TenantContext, use_context
from tests.conftest import MSC_SYSTEM, TwoTenants


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Dr. Mary Ann Smith-Jones, MD", "mary smithjones"),
        ("MARY ANN SMITH-JONES", "mary smithjones"),
        ("Sean O'Brien Jr.", "sean obrien"),
        ("José García", "jose garcia"),
        ("  JOHN   Q.  PUBLIC III ", "john public"),
        ("Maria de la Cruz", "maria cruz"),
        # no name to match: one word, or none
        ("Madonna", None),
        ("Dr. Smith", None),
        ("", None),
        (None, None),
    ],
)
def test_names_compare_by_first_and_last_word(
    db: Session, name: str | None, key: str | None
) -> None:
    assert db.scalar(select(text("tenancy.name_key(:n)")).params(n=name)) == key


def _a_list() -> dict[str, object]:
    return {
        "source": "leie",
        "kind": "full",
        "published_on": date(2026, 11, 10),
        "sha256": uuid.uuid4().hex * 2,
        "entry_count": 0,
    }


def test_the_lists_are_written_in_the_services_context_alone(
    db: Session, tenants: TwoTenants
) -> None:
    # no context; an organization's admin; an MSC representative lent MSC reach
    representative = replace(MSC_SYSTEM, role=MSC_REPRESENTATIVE)
    for context in (TenantContext(), tenants.a.context(), representative):
        use_context(db, context)
        with pytest.raises(DBAPIError) as raised, db.begin_nested():
            db.execute(insert(ExclusionList).values(**_a_list()))
        assert isinstance(raised.value.orig, psycopg.errors.InsufficientPrivilege)
    use_context(db, MSC_SYSTEM)
    db.execute(insert(ExclusionList).values(**_a_list()))
    # and everyone reads them: a screening names the versions it was checked against
    use_context(db, tenants.a.context())
    assert db.scalar(select(ExclusionList.id).limit(1)) is not None
