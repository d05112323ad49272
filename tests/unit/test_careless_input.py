"""Issue 13: one bad message, value or file never hurts anything else (the pure parts)."""

from __future__ import annotations

from gateway.alerts.bulletins import area_names
from gateway.config import Area
from gateway.render import Renderer

AREAS = [Area("hightown", "Hightown", "hightown", ("LL13 7",)), Area("rhosddu", "Rhosddu", "rhosddu", ())]


def test_the_confirmation_request_names_the_areas_and_keeps_its_words_apart():
    # The caller joins the names (gateway.alerts.bulletins.area_names: "A, B and C", "A, B ac C").
    text = Renderer().render("alerts/confirm_request", areas=AREAS, area_names=area_names(AREAS), resident_name="")
    assert "alerts for Hightown and Rhosddu to be sent to this address." in " ".join(text.split())
    assert "Rhosdduto" not in text and "Hightownto" not in text


import pytest  # noqa: E402

from gateway import config  # noqa: E402
from gateway.errors import ConfigError  # noqa: E402
from tests.helpers import write_config  # noqa: E402


@pytest.mark.parametrize("section, key, value, expected", [
    ("relay", "retry_deadline_hours", "1e308", "[relay] retry_deadline_hours: must be from 0.01 to 720, not 1e308"),
    ("gateway", "response_days", "10000000", "[gateway] response_days: must be from 1 to 60, not 10000000"),
    ("worker", "poll_seconds", "inf", "[worker] poll_seconds: must be from 0.01 to 60, not inf"),
    ("worker", "poll_seconds", "1e12", "[worker] poll_seconds: must be from 0.01 to 60, not 1e12"),
    ("relay", "timeout_seconds", "nan", "[relay] timeout_seconds: must be from 1 to 600, not nan"),
    ("worker", "delivery_workers", "100000", "[worker] delivery_workers: must be from 1 to 64, not 100000"),
    ("smtp", "max_message_bytes", "1e24", "[smtp] max_message_bytes: '1e24' is not a whole number"),
    ("smtp", "max_message_bytes", "99999999999", "[smtp] max_message_bytes: must be from 1024 to 268435456"),
    ("relay", "retry_delays", "30, 1e9", "[relay] retry_delays: must be a comma-separated list of whole seconds from 1 to 86400"),
    ("limits", "acks_per_hour", "-1", "[limits] acks_per_hour: must be from 0 to 1000000, not -1"),
])
def test_every_number_has_a_sane_range_and_the_problem_names_it(tmp_path, section, key, value, expected):
    with pytest.raises(ConfigError) as raised:
        config.load(write_config(tmp_path, **{section: {key: value}}))
    assert any(problem.startswith(expected) for problem in raised.value.problems), raised.value.problems
