"""At `[gateway] log_level = debug` the log still holds no subjects, bodies or names: the
database libraries' loggers (peewee logs each SQL statement with its values) stay at INFO."""

from __future__ import annotations

import pytest

from tests.helpers import resident_mail
from tests.integration.test_daemon import send, start

pytestmark = pytest.mark.database

SUBJECT, BODY, NAME = "Quokkaflange outside", "The zebrapuddle behind the chip shop again.", "Ottoline Marchbanks"


def test_the_debug_log_holds_no_subject_body_or_name(tmp_path, gateway_process, relay):
    gateway, port = start(tmp_path, gateway_process, relay.port, gateway={"log_level": "debug"})
    send(port, resident_mail(subject=SUBJECT, body=BODY, sender=f"{NAME} <ann@example.net>"))
    relay.wait(2)
    assert gateway.stop() == 0
    log = gateway.log_text()
    assert "DEBUG" in log.upper()   # the level took: debug lines are there
    for word in ("Quokkaflange", "zebrapuddle", "Ottoline", "Marchbanks"):
        assert word not in log, word
