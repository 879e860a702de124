"""The clock: UTC whatever the process's time zone, and held still by `frozen()`; the
scheduler reads its cron expressions in UTC too, so the daily scan runs on the date the
rules use."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import pytest
from rq.cron import CronJob

from app import clock
from app.config import Settings
from workers import jobs

UTC_PLUS_14 = "Pacific/Kiritimati"


@pytest.fixture
def far_east(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local time zone is UTC+14, where the date is ahead of UTC's from
    10:00 UTC on."""
    monkeypatch.setenv("TZ", UTC_PLUS_14)
    time.tzset()
    assert time.localtime().tm_gmtoff == 14 * 3600
    yield
    monkeypatch.undo()
    time.tzset()


def test_now_is_aware_utc_in_any_time_zone(far_east: None) -> None:
    now = clock.now()
    assert now.utcoffset() == dt.timedelta(0)
    assert abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(seconds=5)


def test_today_is_the_utc_date_in_any_time_zone(far_east: None) -> None:
    before = dt.datetime.now(dt.UTC).date()
    today = clock.today()
    after = dt.datetime.now(dt.UTC).date()
    assert today in (before, after)


def test_frozen_holds_the_time_and_then_lets_go() -> None:
    moment = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    with clock.frozen(moment) as held:
        assert held == moment
        assert clock.now() == moment
        assert clock.today() == dt.date(2026, 12, 31)
    assert clock.now() - dt.datetime.now(dt.UTC) < dt.timedelta(seconds=5)


def test_frozen_at_a_local_time_holds_its_utc_date(far_east: None) -> None:
    # 09:00 on New Year's Day at UTC+14 is still the last day of the year in UTC.
    local = dt.datetime(2027, 1, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=14)))
    with clock.frozen(local):
        assert clock.now() == dt.datetime(2026, 12, 31, 19, 0, tzinfo=dt.UTC)
        assert clock.now().utcoffset() == dt.timedelta(0)
        assert clock.today() == dt.date(2026, 12, 31)


def test_frozen_at_a_date_holds_its_first_moment() -> None:
    with clock.frozen(dt.date(2027, 3, 1)):
        assert clock.now() == dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
        assert clock.today() == dt.date(2027, 3, 1)


def test_frozen_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"), clock.frozen(dt.datetime(2027, 1, 1)):
        pass


def test_frozen_nests_and_lets_go_on_error() -> None:
    outer, inner = dt.date(2027, 1, 1), dt.date(2028, 1, 1)
    with clock.frozen(outer):
        with pytest.raises(RuntimeError), clock.frozen(inner):
            assert clock.today() == inner
            raise RuntimeError("the block failed")
        assert clock.today() == outer


def test_frozen_holds_for_every_thread() -> None:
    seen: list[dt.date] = []
    with clock.frozen(dt.date(2027, 6, 1)):
        thread = threading.Thread(target=lambda: seen.append(clock.today()))
        thread.start()
        thread.join()
    assert seen == [dt.date(2027, 6, 1)]


def test_the_daily_scan_is_scheduled_in_utc(far_east: None) -> None:
    scan = CronJob(
        queue_name="default", func=jobs.scan_reminders, cron=Settings().reminder_scan_cron
    )
    next_run = scan.next_enqueue_time
    assert next_run is not None
    assert next_run.utcoffset() == dt.timedelta(0)
    assert (next_run.hour, next_run.minute) == (6, 0)
    # When it runs, the scan's date is the UTC date of that moment.
    with clock.frozen(next_run):
        assert clock.today() == next_run.date()
