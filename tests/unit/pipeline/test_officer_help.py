"""The officers' command help (the reply to an unknown #command) names every command the
gateway takes, #waiting, #seen, #urgent and #noturgent included (issue 25, item 8)."""

import pytest

from gateway.pipeline.officer import COMMANDS
from tests.helpers import resident_mail
from tests.unit.pipeline.test_officer import officer_reply

pytestmark = pytest.mark.database


def test_the_help_an_officer_gets_names_every_command(harness):
    harness.submit(resident_mail())
    officer_reply(harness, "#wating\nWhich street was it?")
    help_text = harness.outbox("officer_error")[-1].get_body(("plain",)).get_content()
    assert "Unknown command #wating." in help_text
    listed = {line.split()[0].lstrip("#") for line in help_text.splitlines() if line.startswith("  #")}
    assert listed == set(COMMANDS)
