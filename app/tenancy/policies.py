"""Applying the SQL in policies/ (row-level security, grants, triggers).

The files describe the security of the schema at its newest revision. They are
idempotent (CREATE OR REPLACE, DROP ... IF EXISTS) and applied whole, in the same
transaction, each time the migrations bring a database to head; so a policy change is
an edit of one file, and a fresh database never sees a policy that names a table a
later revision creates.

On a Citus cluster the same files are applied with one change: the wrappers a policy
puts around each call of a reach function so that PostgreSQL evaluates it once per
statement, `(SELECT tenancy.f())` and, for a set of ids, `x IN (SELECT
unnest(tenancy.f()))`, are removed (the latter written `x = ANY (tenancy.f())`), because
Citus refuses any subquery in the policy of a distributed table (policies/functions.sql).
They are the only subqueries the policies hold (tests/test_catalogue.py checks both).
"""

from __future__ import annotations

import re

from psycopg import sql
from sqlalchemy import Connection

from app.citus import has_citus
from app.migrate import PROJECT_ROOT
from app.tenancy.signing import ContextKey

POLICIES_DIR = PROJECT_ROOT / "policies"
# Shared functions come first: the table files use them.
FIRST = "functions.sql"
# The context key and its check: made before the rest, outside the migrations'
# transaction, on every node (prepare_context_key).
CONTEXT_KEY = "context_key.sql"


def policy_files() -> list[str]:
    names = sorted(path.name for path in POLICIES_DIR.glob("*.sql"))
    names.remove(FIRST)
    names.remove(CONTEXT_KEY)
    return [FIRST, *names]


# The once-per-statement wrappers of a reach function's call: `(SELECT tenancy.f())`,
# and `IN (SELECT unnest(tenancy.f()))` for a hashed test against a set of ids.
ONCE_PER_STATEMENT = re.compile(r"\(SELECT (tenancy\.\w+\(\))\)")
ONCE_PER_STATEMENT_SET = re.compile(r"\bIN \(SELECT unnest\((tenancy\.\w+\(\))\)\)")


def for_citus(policy: str) -> str:
    """A CREATE POLICY statement as a Citus cluster accepts it: each reach function called
    plainly."""
    unwrapped = ONCE_PER_STATEMENT_SET.sub(r"= ANY (\1)", policy)
    return ONCE_PER_STATEMENT.sub(r"\1", unwrapped)


def is_policy(statement: str) -> bool:
    code = (line.strip() for line in statement.splitlines())
    return next(line for line in code if line and not line.startswith("--")).startswith(
        "CREATE POLICY"
    )


def citus_form(script: str) -> list[str]:
    """The statements of a policy file as a Citus cluster is given them: the policies
    without their wrappers, everything else (function bodies too) as written."""
    return [for_citus(s) if is_policy(s) else s for s in statements(script)]


def is_citus(connection: Connection) -> bool:
    driver = connection.connection.driver_connection
    assert driver is not None
    return has_citus(driver)


# Where a dollar-quoted body begins: $$ or $tag$.
DOLLAR_QUOTE = re.compile(r"\$\w*\$")


def statements(script: str) -> list[str]:
    """`script` cut at the semicolons that end its statements: those outside quoted
    strings and identifiers, dollar-quoted bodies and comments. Each statement is sent
    on its own because Citus passes a DDL command to the workers as the text it came in,
    which must then hold that command alone."""
    found: list[str] = []
    start = i = 0
    while i < len(script):
        if script.startswith("--", i):
            end = script.find("\n", i)
            i = len(script) if end < 0 else end
        elif script.startswith("/*", i) or script[i : i + 2].upper() == "E'":
            raise ValueError(f"write -- comments and plain strings here: {script[i : i + 40]}")
        elif script[i] in "'\"":
            # a doubled quote inside closes and reopens: the same as one string
            i = _end_of(script, script[i], i + 1)
        elif (dollar := DOLLAR_QUOTE.match(script, i)) is not None:
            i = _end_of(script, dollar.group(), dollar.end()) + len(dollar.group()) - 1
        elif script[i] == ";":
            found.append(script[start : i + 1].strip())
            start = i + 1
        i += 1
    rest = script[start:].strip()
    if any(line.strip() and not line.strip().startswith("--") for line in rest.splitlines()):
        raise ValueError(f"statement without its closing semicolon: {rest[:80]}")
    return found


def _end_of(script: str, closing: str, start: int) -> int:
    end = script.find(closing, start)
    if end < 0:
        raise ValueError(f"{closing} opened and never closed: {script[start - 1 : start + 40]}")
    return end


def apply_policies(connection: Connection) -> None:
    # The raw driver connection runs each statement ($$ bodies included) as a simple
    # query, inside the migration's transaction.
    driver = connection.connection.driver_connection
    assert driver is not None
    citus = is_citus(connection)
    if citus:
        # Citus asks for this before it creates a trigger on a distributed table's
        # shards (the tenant tables' audit trail and guards; tenancy.on_worker_node says
        # which act on which node).
        driver.execute("SET LOCAL citus.enable_unsafe_triggers = on")
    for name in policy_files():
        script = (POLICIES_DIR / name).read_text()
        for statement in citus_form(script) if citus else statements(script):
            driver.execute(statement)


def prepare_context_key(connection: Connection, secret: str) -> None:
    """Make the context key's table and check (policies/context_key.sql) and write the key
    of `secret` (app/tenancy/signing.py) into them, on every node of a Citus cluster,
    where each node holds its own copy. `connection`, the owner's, must be in autocommit:
    what is made reaches the workers in transactions of their own, which would wait for
    an open one of the coordinator's that made the schema they go in; and the functions
    the migrations' transaction then makes on the workers read the check."""
    driver = connection.connection.driver_connection
    assert driver is not None
    assert driver.autocommit, "prepare_context_key needs an autocommit connection"
    citus = is_citus(connection)
    inner, outer = ContextKey(secret).pads()
    key = (
        sql.SQL(
            "INSERT INTO tenancy.context_key (inner_pad, outer_pad) VALUES ({}, {})"
            " ON CONFLICT (only_row) DO UPDATE"
            " SET inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad"
        )
        .format(sql.Literal(inner), sql.Literal(outer))
        .as_string(driver)
    )
    for statement in [*statements((POLICIES_DIR / CONTEXT_KEY).read_text()), key]:
        driver.execute(statement)
        if citus:
            run_on_workers(connection, statement)


def run_on_workers(connection: Connection, statement: str) -> None:
    """Run `statement` on each worker node of the Citus cluster of `connection`, as that
    node's own (each in a transaction of its own, in which Citus passes no DDL on: a
    worker refuses DDL on what the cluster shares, such as the schema), failing if it
    fails on any."""
    driver = connection.connection.driver_connection
    assert driver is not None
    # one simple query: its statements are one transaction, which the SET LOCAL holds for
    local = f"SET LOCAL citus.enable_ddl_propagation TO off; {statement}"
    failed = driver.execute(
        "SELECT nodename, nodeport, result FROM run_command_on_workers(%s) WHERE NOT success",
        (local,),
    ).fetchall()
    if failed:
        raise RuntimeError(f"failed on a worker node: {statement[:80]}: {failed}")
