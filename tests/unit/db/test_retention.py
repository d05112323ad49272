"""[retention] closed_case_months counts calendar months back, the last day of a short month
standing in for a day it does not have."""

import datetime as dt

from gateway.db.privacy import months_before


def test_months_before_counts_calendar_months():
    at = dt.datetime(2026, 12, 1, 9, 30)
    assert months_before(at, 24) == dt.datetime(2024, 12, 1, 9, 30)
    assert months_before(at, 1) == dt.datetime(2026, 11, 1, 9, 30)
    assert months_before(at, 12 * 100) == dt.datetime(1926, 12, 1, 9, 30)
    assert months_before(dt.datetime(2026, 3, 31), 1) == dt.datetime(2026, 2, 28)
    assert months_before(dt.datetime(2028, 3, 31), 1) == dt.datetime(2028, 2, 29)
    assert months_before(dt.datetime(2027, 1, 15), 13) == dt.datetime(2025, 12, 15)
    assert months_before(at, 0) == at
