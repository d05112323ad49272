import datetime as dt

from gateway.promise.calendar import Calendar, ClockSettings
from gateway.promise.dates import in_words

add_working_days = Calendar(ClockSettings()).add_working_days


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


def test_extra_closed_days_do_not_count_and_a_reminder_falls_a_working_day_before():
    calendar = Calendar(ClockSettings(extra_closed_days=(dt.date(2026, 12, 7),)))
    assert calendar.add_working_days(dt.date(2026, 12, 1), 5) == dt.date(2026, 12, 9)
    assert calendar.reminder_day(dt.date(2026, 12, 9)) == dt.date(2026, 12, 8)
    assert calendar.reminder_day(dt.date(2026, 12, 8)) == dt.date(2026, 12, 4)   # over the weekend and the 7th
    assert calendar.working_days_between(dt.date(2026, 12, 4), dt.date(2026, 12, 9)) == 2


def test_working_hours_count_business_hours_of_working_days_only():
    calendar = Calendar(ClockSettings())   # 09:00-17:00 Europe/London
    friday_4pm = dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.timezone.utc)   # GMT in December
    monday_10am = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.timezone.utc)
    assert calendar.working_hours(friday_4pm, monday_10am) == 2.0
    summer_8am_utc = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.timezone.utc)   # 09:00 BST
    assert calendar.working_hours(summer_8am_utc, summer_8am_utc + dt.timedelta(hours=3)) == 3.0
    christmas = dt.datetime(2026, 12, 25, 10, 0, tzinfo=dt.timezone.utc)
    assert calendar.working_hours(christmas, christmas + dt.timedelta(hours=5)) == 0.0
    assert calendar.open_now(monday_10am) and not calendar.open_now(christmas)


def test_the_due_date_counts_from_the_local_day_the_message_arrived():
    calendar = Calendar(ClockSettings(), response_days=5)
    late_sunday_utc = dt.datetime(2026, 6, 28, 23, 30)   # already Monday 00:30 in London (BST)
    assert calendar.due(late_sunday_utc) == dt.date(2026, 7, 6)
