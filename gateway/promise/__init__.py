"""The five-working-day promise: the calendar of working days and hours (calendar), dates in
words (dates), reminders and breach notices (reminders), the figures (stats) and the monthly
report (report). calendar and dates import nothing of the gateway (config uses calendar);
reminders, stats and report sit above the pipeline and the database. Runtime and CLI use them."""
