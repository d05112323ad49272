import datetime as dt

from gateway.workdays import add_working_days, in_words


def test_five_working_days_skip_the_weekend():
    assert add_working_days(dt.date(2026, 11, 28), 5) == dt.date(2026, 12, 4)  # a Saturday
    assert in_words(dt.date(2026, 12, 4)) == "Friday 4 December 2026"


def test_bank_holidays_do_not_count():
    # Christmas Day (Fri) and Boxing Day observed (Mon 28th) are skipped.
    assert add_working_days(dt.date(2026, 12, 23), 5) == dt.date(2027, 1, 4)
    # Easter 2027: Good Friday 26 March, Easter Monday 29 March.
    assert add_working_days(dt.date(2027, 3, 25), 1) == dt.date(2027, 3, 30)


def test_a_message_on_a_working_day_counts_from_the_next_one():
    assert add_working_days(dt.date(2026, 12, 1), 5) == dt.date(2026, 12, 8)
