"""The one clock: the current time and today's date, both in UTC.

Rules, views and jobs read the time only here, so a credential expires, a reminder
window opens and the daily scan runs on the same date whatever the server's time zone.
Tests hold the clock at a moment with `frozen()` instead of waiting for it.

Stamps the database writes itself (`created_at`, `updated_at`, order stamps) come from
PostgreSQL's `now()`, the transaction's start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def _system_time() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Callable[[], dt.datetime] = _system_time


def now() -> dt.datetime:
    """The current time, aware, in UTC."""
    return _source()


def today() -> dt.date:
    """Today's date in UTC."""
    return now().date()


@contextmanager
def frozen(at: dt.datetime | dt.date) -> Iterator[dt.datetime]:
    """Hold the clock at `at` (a date: its first moment, UTC) for the block, in every
    thread of this process; yields the moment."""
    global _source
    if isinstance(at, dt.datetime):
        if at.tzinfo is None:
            raise ValueError("the clock holds aware times only")
        moment = at.astimezone(dt.UTC)
    else:
        moment = dt.datetime.combine(at, dt.time(), dt.UTC)

    def held() -> dt.datetime:
        return moment

    previous = _source
    _source = held
    try:
        yield moment
    finally:
        _source = previous
