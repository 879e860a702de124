"""How long the LEIE import takes for a full file of the real list's size.

    DATABASE_ADMIN_URL=... .venv/bin/python bench/exclusion_import.py [--rows 80000] \
        [--database msc_bench_exclusion_import]

Writes a full file of `rows` rows in the LEIE's layout (tests/leie_files.py: made-up
people, in the real list's proportions of entities, NPIs and dates of birth) and imports
it into a scratch database as the service does (app/domain/exclusion_lists.py, the
application role in the service's context, one transaction): first into empty tables,
then the next month's file, which carries the same rows but 2% dropped and 2% new (the
merge updates every entry and withdraws the dropped), then that file again (a no-op by
its SHA-256). Prints the seconds of each and the file's size, then drops the database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from types import ModuleType

from sqlalchemy.orm import Session

from app.config import Settings
from app.database import make_engine, register_session_listeners
from app.domain.exclusion_lists import FULL, ImportResult, import_leie
from app.local import drop_database, embedded_postgres, provision
from app.tenancy.context import TenantContext, use_context

ROOT = Path(__file__).resolve().parents[1]

NOVEMBER = date(2026, 11, 10)
DECEMBER = date(2026, 12, 10)


def _leie_files() -> ModuleType:
    """tests/leie_files.py, which writes the tests' LEIE files: the benchmark's too."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import leie_files

    return leie_files


def _timed(database_url: str, path: Path, published_on: date) -> tuple[float, ImportResult]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            use_context(session, TenantContext.system("bench:exclusion-import"))
            started = time.perf_counter()
            result = import_leie(session, path, kind=FULL, published_on=published_on)
            session.commit()
            return time.perf_counter() - started, result
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=80_000)
    parser.add_argument("--database", default="msc_bench_exclusion_import")
    args = parser.parse_args(argv)
    register_session_listeners()
    configured = Settings.from_env()
    admin = configured.database_admin_url or embedded_postgres(configured.local_data_dir)
    database = args.database
    urls = provision(admin, database, "bench", recreate=True)
    leie_files = _leie_files()
    try:
        with tempfile.TemporaryDirectory(prefix="leie-bench-") as directory:
            rows = list(leie_files.realistic_rows(args.rows + args.rows // 50))
            dropped = args.rows // 50
            first = leie_files.write(Path(directory) / "first.csv", rows[: args.rows])
            second = leie_files.write(Path(directory) / "second.csv", rows[dropped:])
            size = first.stat().st_size / 1e6
            print(f"LEIE full file: {args.rows} rows, {size:.1f} MB")
            for label, path, published_on in (
                ("into empty tables", first, NOVEMBER),
                ("next month's file", second, DECEMBER),
                ("the same file again", second, DECEMBER),
            ):
                seconds, result = _timed(urls.app, path, published_on)
                print(f"  {label:<22} {seconds:7.2f} s  {result}")
    finally:
        drop_database(admin, database)


if __name__ == "__main__":
    main()
