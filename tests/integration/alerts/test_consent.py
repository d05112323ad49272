"""Issue 13, subscribers and bulletins: consent is kept, each copy tells the truth, and the
CSV files an administrator handles are safe. Through the CLI, on a real database."""

from __future__ import annotations

import csv
import email
import io
from email import policy

import pytest

from gateway.alerts import bulletins
from gateway.db.models import Bulletin, Outbound, Subscriber
from gateway.render import Renderer
from tests.helpers import write_config
from tests.integration.alerts.test_bulletins import AREAS
from tests.integration.test_cli import gateway

pytestmark = pytest.mark.database


def configured(tmp_path) -> str:
    path = str(write_config(tmp_path, **AREAS))
    assert gateway("--config", path, "init").returncode == 0
    return path


def test_an_import_never_brings_back_someone_who_unsubscribed(tmp_path):
    path = configured(tmp_path)
    assert gateway("--config", path, "subscribers", "add", "carol@example.net", "--area", "hightown").returncode == 0
    assert gateway("--config", path, "subscribers", "remove", "carol@example.net").returncode == 0
    exported = tmp_path / "all.csv"
    assert gateway("--config", path, "subscribers", "export", str(exported)).returncode == 0
    imported = gateway("--config", path, "subscribers", "import", str(exported), "--area", "hightown")
    assert imported.returncode == 0, imported.stderr
    assert "skipped: carol@example.net hightown: they unsubscribed" in imported.stderr
    assert "0 subscription(s) started" in imported.stdout
    listed = gateway("--config", path, "subscribers", "list")
    assert "carol@example.net\t\thightown:ended" in listed.stdout
    again = gateway("--config", path, "subscribers", "add", "carol@example.net", "--area", "hightown")
    assert again.returncode == 1 and "nothing started" in again.stderr and "they unsubscribed" in again.stderr
    consented = gateway("--config", path, "subscribers", "add", "carol@example.net", "--area", "hightown",
                        "--resubscribe")
    assert "1 subscription(s) started" in consented.stdout


def test_the_gateways_own_addresses_cannot_be_subscribed(tmp_path):
    path = configured(tmp_path)
    for address in ("surgery@surgery.example.org", "hightown@surgery.example.org", "alerts@surgery.example.org"):
        added = gateway("--config", path, "subscribers", "add", address, "--area", "hightown")
        assert added.returncode == 2 and "one of the gateway's own addresses" in added.stderr
    (tmp_path / "own.csv").write_text("address\nsurgery@surgery.example.org\nann@example.net\n")
    imported = gateway("--config", path, "subscribers", "import", str(tmp_path / "own.csv"), "--area", "hightown")
    assert imported.returncode == 1 and "line 2: surgery@surgery.example.org is one of the gateway's own" in imported.stderr
    assert "1 subscription(s) started" in imported.stdout


def test_a_line_that_is_not_utf8_is_listed_and_the_rest_imported(tmp_path):
    path = configured(tmp_path)
    (tmp_path / "mixed.csv").write_bytes(b"ann@example.net,Ann\nj\xe9r\xf4me@example.net,J\nbob@example.net,Bob\n")
    imported = gateway("--config", path, "subscribers", "import", str(tmp_path / "mixed.csv"), "--area", "hightown")
    assert imported.returncode == 1 and "Traceback" not in imported.stderr
    assert "bad: line 2: not UTF-8 text" in imported.stderr and "2 subscription(s) started" in imported.stdout


def test_an_export_is_safe_to_open_in_a_spreadsheet_and_has_one_shape(tmp_path):
    path = configured(tmp_path)
    (tmp_path / "odd.csv").write_text('address,name,areas\n=cmd|calc!a1@example.net,,hightown\n'
                                      'dave@example.net,"=HYPERLINK(""http://evil.example"",""x"")",hightown rhosddu\n'
                                      "carol@example.net,,hightown\n")
    assert gateway("--config", path, "subscribers", "import", str(tmp_path / "odd.csv")).returncode == 0
    gateway("--config", path, "subscribers", "remove", "carol@example.net")
    exported = gateway("--config", path, "subscribers", "export", "-")
    rows = list(csv.reader(io.StringIO(exported.stdout)))
    assert rows[0] == ["address", "name", "areas", "state"]
    assert all(len(row) == 4 for row in rows)
    by_address = {row[0]: row for row in rows[1:]}
    assert "'=cmd|calc!a1@example.net" in by_address
    assert by_address["dave@example.net"][1].startswith("'=HYPERLINK(")
    assert by_address["carol@example.net"] == ["carol@example.net", "", "hightown", "hightown:ended"]
    assert by_address["dave@example.net"][2:] == ["hightown rhosddu", "hightown:active rhosddu:active"]


def test_a_bulletin_for_two_areas_speaks_to_each_resident_for_their_own_area(make_harness):
    from gateway.runtime.outbound import Deliverer

    harness = make_harness(**AREAS)
    now = harness.clock.now()
    from gateway.alerts import subscribers

    subscribers.add("hilda@example.net", ["hightown"], "Hilda", now)
    subscribers.add("rhys@example.net", ["rhosddu"], "Rhys", now)
    subscribers.add("both@example.net", ["hightown", "rhosddu"], "", now)
    bulletin = bulletins.create(["hightown", "rhosddu"], "Bike thefts", "Lock your bikes.", "cli", now)
    bulletins.fan_out(bulletin.id, harness.clock, 24, harness.settings.surgery_address)
    Deliverer(harness.settings, harness.clock, "t", copies=bulletins.Copies(harness.settings, Renderer())) \
        .deliver_one()
    copies = {}
    for file in (harness.settings.spool).glob("*bulletin.eml"):
        msg = email.message_from_bytes(file.read_bytes(), policy=policy.default)
        copies[msg["To"]] = msg
    rhys, hilda, both = copies["rhys@example.net"], copies["hilda@example.net"], copies["both@example.net"]
    assert rhys["From"].startswith("Rhosddu Neighbourhood Policing Team") and rhys["Reply-To"] == \
        "area+rhosddu@surgery.example.org"
    assert "alerts for Rhosddu." in " ".join(rhys.get_content().split()) and "Hightown" not in rhys.get_content()
    assert hilda["From"].startswith("Hightown") and "alerts for Hightown." in " ".join(hilda.get_content().split())
    assert "alerts for Hightown and Rhosddu" in " ".join(both.get_content().split())
    assert bulletins.mark_finished() == 1 and Bulletin.get_by_id(bulletin.id).state == "sent"


def test_bulletin_list_says_sent_once_nothing_is_left(tmp_path, make_harness):
    from gateway.runtime.outbound import Deliverer

    harness = make_harness(**AREAS)
    from gateway.alerts import subscribers

    subscribers.add("ann@example.net", ["hightown"], "", harness.clock.now())
    bulletin = bulletins.create(["hightown"], "Road closed", "Closed.", "cli", harness.clock.now())
    bulletins.fan_out(bulletin.id, harness.clock, 24, harness.settings.surgery_address)
    path = str(tmp_path / "gateway.ini")
    assert "\tqueued\t" in gateway("--config", path, "bulletin", "list").stdout
    Deliverer(harness.settings, harness.clock, "t", copies=bulletins.Copies(harness.settings, Renderer())) \
        .deliver_one()
    listed = gateway("--config", path, "bulletin", "list")
    assert "\tsent\t" in listed.stdout and "sent 1/1" in listed.stdout
    status = gateway("--config", path, "bulletin", "status", str(bulletin.id), "--no-watch")
    assert "(sent)" in status.stdout
    assert Outbound.select().where(Outbound.bulletin == bulletin.id).count() == 1
    assert Subscriber.select().count() == 1
