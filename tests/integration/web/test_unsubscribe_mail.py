"""Unsubscribing on the web page or by a provider's one-click POST is confirmed by mail,
as the README says and as unsubscribing by mail is (issue 25, item 8); once, however often
the link is posted."""

from __future__ import annotations

import time
import urllib.request

import pytest

from gateway.mail.addresses import token
from tests.helpers import BASE_CONFIG, db_rows, wait_for
from tests.integration.alerts.test_bulletins import start
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database


def post(url: str) -> int:
    request = urllib.request.Request(url, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.status


def test_a_one_click_unsubscribe_is_confirmed_by_mail_once(tmp_path, gateway_process, relay):
    daemon, _, http_port, path = start(tmp_path, gateway_process, relay.port)
    assert gateway("--config", str(path), "subscribers", "add", "sian@example.net", "--area", "hightown",
                   "--name", "Sian").returncode == 0
    (subscriber,) = db_rows(tmp_path, "SELECT id FROM subscriber WHERE address = 'sian@example.net'")[0]
    url = f"http://127.0.0.1:{http_port}/unsubscribe/{token('unsubscribe', subscriber, BASE_CONFIG['gateway']['secret'])}"
    assert post(url) == 200
    goodbye = wait_for(lambda: relay.messages("sian@example.net"), 15, what="the goodbye mail")[0]
    assert goodbye["Subject"] == "You will receive no more community alerts"
    assert goodbye["Auto-Submitted"] == "auto-replied"
    text = goodbye.get_body(("plain",)).get_content()
    assert "Dear Sian," in text and "You have been unsubscribed" in text
    assert post(url) == 200   # posted again (a provider retrying): nothing more ended, no second mail
    time.sleep(2)   # the outbox is polled every 0.2 s: a second mail would be there by now
    assert len(relay.messages("sian@example.net")) == 1
    assert daemon.stop() == 0
