"""Active providers per period, from assignments' dates: values worked out by hand on a
calendar of four weeks, Monday 2026-10-05 to Sunday 2026-11-01, the range starting on
Wednesday 10-07."""

from __future__ import annotations

import datetime as dt
import uuid

from app.domain.analytics import active_per_period

FIRST_DAYS = [
    dt.date(2026, 10, 7),
    dt.date(2026, 10, 12),
    dt.date(2026, 10, 19),
    dt.date(2026, 10, 26),
]
END = dt.date(2026, 11, 1)
ANN, BEN, CAL, DEE = (uuid.uuid4() for _ in range(4))


def _d(month: int, day: int) -> dt.date:
    return dt.date(2026, month, day)


def test_each_provider_counts_once_in_each_period_they_were_active_in() -> None:
    spans = [
        # since before the range, still active: every week
        (ANN, _d(1, 1), None),
        # two overlapping assignments, 10-08..10-20 and 10-13..10-26 (ends are
        # exclusive): weeks one to three, once each
        (BEN, _d(10, 8), _d(10, 20)),
        (BEN, _d(10, 13), _d(10, 26)),
        # ends on a Monday: active until the Sunday before, not in the week of 10-19;
        # then again from the last Sunday
        (CAL, _d(9, 1), _d(10, 19)),
        (CAL, _d(11, 1), None),
        # starts on the range's last day
        (DEE, _d(11, 1), None),
    ]
    # week 1: Ann Ben Cal; week 2: Ann Ben Cal; week 3: Ann Ben; week 4: Ann Cal Dee
    assert active_per_period(spans, FIRST_DAYS, END) == [3, 3, 2, 3]


def test_an_assignment_counts_up_to_the_day_before_its_end_date() -> None:
    # started before the range, ended on 10-08: active on 10-07 alone, in the first week
    assert active_per_period([(ANN, _d(9, 1), _d(10, 8))], FIRST_DAYS, END) == [1, 0, 0, 0]


def test_no_assignments_no_active_providers() -> None:
    assert active_per_period([], FIRST_DAYS, END) == [0, 0, 0, 0]
