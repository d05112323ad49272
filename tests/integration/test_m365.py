"""Microsoft 365 over loopback: app-only OAuth 2.0 tokens from a token service playing Entra
ID (tests/servers/oauth.py, HTTPS with a test CA, reached through MSAL), Dovecot's oauth2
passdb checking XOAUTH2 logins to the mailbox, and a relay requiring STARTTLS and AUTH
XOAUTH2 (tests/servers/xoauth_relay.py), both validating the token at the service."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.helpers import db_rows, free_port, resident_mail, wait_for, write_config
from tests.integration.test_cli import gateway
from tests.servers.oauth import TokenService
from tests.servers.xoauth_relay import XOAuthRelay

SENDER = "surgery@surgery.example.org"     # the shared mailbox the gateway sends as
MAILBOX = "gw"                             # the Dovecot mailbox it reads (tests/servers/dovecot.py)


@pytest.fixture
def entra(tmp_path):
    service = TokenService(tmp_path / "entra")
    service.grants.mailboxes = (MAILBOX, SENDER)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def exchange(tmp_path, entra):
    relay = XOAuthRelay(tmp_path / "exchange", f"{entra.authority}/introspect", entra.ca_file).start()
    yield relay
    relay.stop()


@pytest.fixture
def mailbox(entra):
    from tests.servers.dovecot import Dovecot

    server = Dovecot(oauth2=(f"{entra.authority}/introspect", entra.ca_file)).start()
    yield server
    server.remove()


def mail(n: int) -> bytes:
    """A resident's report; each from another resident ([limits] caps replies to one address)."""
    sender = "Ann Resident <ann@example.net>" if n == 1 else f"Resident {n} <resident{n}@example.net>"
    return resident_mail(message_id=f"<m365-{n}@example.net>", subject=f"Streetlight {n}", sender=sender,
                         body=f"Report number {n}: the streetlight on Hill Street is out.").as_bytes()


def sections(tmp_path, entra, exchange=None, mailbox=None, **more) -> dict:
    """[oauth2], and [relay] / [imap] with auth = oauth2 for the peers given."""
    parts = {"oauth2": entra.oauth2_section(), **more}
    (tmp_path / "m365-client-secret").write_text((entra.folder / "m365-client-secret").read_text())
    parts["oauth2"]["client_secret_file"] = "m365-client-secret"
    if exchange is not None:
        parts["relay"] = exchange.section(SENDER, retry_delays="1, 1, 2")
    if mailbox is not None:
        parts["imap"] = mailbox.config(auth="oauth2", password=None, poll_seconds="1")
    return parts


def acks_and_forwards(exchange) -> list[str]:
    return sorted(m["Subject"] for m in exchange.messages())


def healthz(port: int) -> str:
    """/healthz's text, whether it answers 200 or 503."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.read().decode()


@pytest.mark.database
@pytest.mark.one_backend   # logging in with OAuth at the mailbox and the relay: the database only stores the mail
def test_mail_read_with_oauth_from_the_mailbox_is_acknowledged_through_the_oauth_relay(
        tmp_path, gateway_process, entra, exchange, mailbox):
    mailbox.append(mail(1))
    daemon = gateway_process(write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox)), None)
    exchange.wait(2)
    ack, = exchange.messages("ann@example.net")
    forward, = exchange.messages("hightown.npt@police.example")
    assert "SRG-2026-0001" in ack.get_content() and forward["Subject"] == "[SRG-2026-0001] Streetlight 1"
    assert {user for user, _ in exchange.logins} == {SENDER}        # AUTH XOAUTH2 as [relay] username
    wait_for(lambda: mailbox.uids("Processed") and not mailbox.uids("INBOX"), 10, what="the move to Processed")
    assert "method=XOAUTH2" in mailbox._log()
    assert entra.token_requests() == 1    # one token, kept in memory, for the mailbox and the relay
    assert "test-client-secret" not in daemon.log_text()
    assert daemon.stop() == 0


@pytest.mark.database
@pytest.mark.one_backend   # token renewal at the mailbox and the relay: the database only stores the mail
def test_tokens_are_renewed_across_their_expiry_during_a_run_with_nothing_lost_or_sent_twice(
        tmp_path, gateway_process, entra, exchange, mailbox):
    # MSAL takes a token as spent five minutes before it expires: 306 s leaves 6 s of use, and
    # the token works at the peers for 9 s. The daemon must log in again, with a new token,
    # at the mailbox and at the relay, before each one dies.
    entra.lifetime, entra.valid_for = 306, 9
    daemon = gateway_process(write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox)), None)
    for wave in range(3):
        mailbox.append(mail(2 * wave + 1), mail(2 * wave + 2))
        exchange.wait(4 * (wave + 1), timeout=30)
        if wave < 2:
            first = entra.token_requests()
            wait_for(lambda: entra.token_requests() > first, 20, what="a new token")
    subjects = acks_and_forwards(exchange)
    assert len(subjects) == 12 and len(set(subjects)) == 12      # an ack and a forward each, once
    assert len({token for _, token in exchange.logins}) >= 2
    assert exchange.refusals == []                                # renewed before, never refused
    assert db_rows(tmp_path, "select count(*) from inbound where source = 'imap'") == [(6,)]
    assert daemon.stop() == 0


def test_a_token_revoked_under_an_open_connection_is_replaced_and_the_mail_goes_once(
        tmp_path, gateway_process, entra, exchange, mailbox):
    daemon = gateway_process(write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox)), None)
    mailbox.append(mail(1))
    exchange.wait(2)
    entra.revoke_all()     # the relay's open session and the cached token both die
    mailbox.append(mail(2))
    exchange.wait(4, timeout=30)
    subjects = acks_and_forwards(exchange)
    assert len(subjects) == 4 and len(set(subjects)) == 4        # an ack and a forward each, once
    assert set(exchange.refusals) == {"token not active"}   # the old token; then a new one at once
    assert entra.token_requests() == 2
    assert daemon.stop() == 0
    assert " ERROR " not in daemon.log_text()          # a replaced token is no one's problem


def _deliver(tmp_path, entra, exchange):
    """The pipeline and one delivery pass in-process: what the relay got, and the outbox."""
    from gateway.db.models import Outbound
    from gateway.runtime.outbound import Deliverer
    from tests.conftest import Harness

    harness = Harness(tmp_path, **sections(tmp_path, entra, exchange))
    harness.submit(resident_mail())
    deliverer = Deliverer(harness.settings, harness.clock, "t")
    deliverer.deliver_one()
    deliverer.close()
    return list(Outbound.select().order_by(Outbound.id))


def test_a_wrong_secret_names_aadsts7000215_and_what_to_do_and_the_mail_waits(tmp_path, entra, exchange):
    entra.grants.secret = "a-new-secret-made-in-entra"   # the one in the file is now wrong
    rows = _deliver(tmp_path, entra, exchange)
    assert exchange.received == [] and len(rows) == 2
    assert all(r.state == "queued" for r in rows)
    assert ("AADSTS7000215: the client secret is wrong or has expired: make a new one in Entra ID and "
            "replace m365-client-secret") in rows[0].last_error
    check = gateway("--config", str(tmp_path / "gateway.ini"), "relay", "check")
    assert check.returncode == 2
    assert "token    FAILED: [oauth2] no token from" in check.stdout and "AADSTS7000215" in check.stdout
    assert "test-client-secret" not in check.stdout + check.stderr

    entra.grants.secret = (entra.folder / "m365-client-secret").read_text().strip()   # put right
    from gateway.runtime.outbound import Deliverer
    from tests.helpers import ready_settings
    from gateway.clock import FakeClock

    settings, clock = ready_settings(tmp_path / "gateway.ini"), FakeClock()
    clock.advance(seconds=60)
    deliverer = Deliverer(settings, clock, "t2")
    deliverer.deliver_one()
    deliverer.close()
    assert len(exchange.messages()) == 2


@pytest.mark.parametrize("grant, words", [
    ("consent", "AADSTS65001: admin consent is missing: in Entra ID, API permissions, grant admin consent"),
    ("tenant", "AADSTS90002: the tenant was not found: check [oauth2] tenant"),
])
def test_missing_consent_and_an_unknown_tenant_are_named(tmp_path, entra, exchange, grant, words):
    more = {}
    if grant == "consent":
        entra.grants.consent = False
    else:
        more = {"tenant": "fabrikam.onmicrosoft.com"}
    parts = sections(tmp_path, entra, exchange)
    parts["oauth2"].update(more)
    result = gateway("--config", str(write_config(tmp_path, **parts)), "relay", "check")
    assert result.returncode == 2 and words in result.stdout, result.stdout + result.stderr
    assert "connect  ok:" in result.stdout    # the connection is tried all the same; the login is not
    assert "login    FAILED: not tried without a token (see the token line)" in result.stdout


def test_no_permission_on_the_mailbox_is_said_at_the_login_step(tmp_path, entra, exchange, mailbox):
    entra.grants.mailboxes = ("someone.else@surgery.example.org",)
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox))
    relay = gateway("--config", str(path), "relay", "check")
    assert relay.returncode == 2, relay.stdout
    assert "token    ok:" in relay.stdout and "connect  ok:" in relay.stdout and "tls      ok: starttls" in relay.stdout
    assert f"login    FAILED: the relay 127.0.0.1:{exchange.port} refused AUTH XOAUTH2 for [relay] username " \
           f"{SENDER} (535 5.7.3 Authentication unsuccessful)" in relay.stdout
    assert f"the app has no permission on the mailbox {SENDER}" in relay.stdout
    assert "Add-MailboxPermission" in relay.stdout
    imap = gateway("--config", str(path), "imap", "check")
    assert imap.returncode == 2 and "login    FAILED: XOAUTH2 as gw" in imap.stdout
    assert "the app has no permission on the mailbox gw" in imap.stdout
    assert entra.token_requests() == 2 * 2    # each check: its token step, then the login tries a new one once

    entra.grants.mailboxes, entra.grants.roles = (MAILBOX, SENDER), ("IMAP.AccessAsApp",)
    relay = gateway("--config", str(path), "relay", "check")
    assert "the token lacks the SMTP.SendAsApp permission" in relay.stdout

    entra.grants.mailboxes, entra.grants.roles = (), ("IMAP.AccessAsApp", "SMTP.SendAsApp")
    rows = _deliver(tmp_path, entra, exchange)     # the daemon's delivery: the mail waits, said why
    assert exchange.received == [] and rows and all(r.state == "queued" for r in rows)
    assert f"the app has no permission on the mailbox {SENDER}" in rows[0].last_error


def test_relay_and_imap_check_show_each_step_and_exit_0(tmp_path, entra, exchange, mailbox):
    mailbox.append(mail(1))
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox))
    relay = gateway("--config", str(path), "relay", "check")
    assert relay.returncode == 0, relay.stdout + relay.stderr
    lines = relay.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["token", "connect", "tls", "login", "OK."]
    assert "app permissions: IMAP.AccessAsApp, SMTP.SendAsApp" in lines[0]
    assert lines[3] == f"login    ok: AUTH XOAUTH2 as {SENDER}"
    imap = gateway("--config", str(path), "imap", "check")
    assert imap.returncode == 0, imap.stdout + imap.stderr
    assert "login    ok: XOAUTH2 as gw" in imap.stdout and "folder 'INBOX' holds 1 message(s)" in imap.stdout
    bulletins = gateway("--config", str(path), "relay", "check", "--bulletins")
    assert bulletins.returncode == 0 and "no [relay:bulletins]: bulletins leave by [relay]" in bulletins.stdout


UNRESOLVABLE = "https://login.microsoftonline.invalid"   # no such name: as login.microsoftonline.com with no network


def _no_token_lines(result) -> list[str]:
    """The check's steps when no token could be had: the token's whole reason on one line, in the
    check's own words, then the connection and TLS tried all the same, the login not."""
    lines = result.stdout.splitlines()
    assert result.returncode == 2, result.stdout + result.stderr
    assert [line.split()[0] for line in lines] == ["token", "connect", "tls", "login"], result.stdout
    assert lines[0].startswith(f"token    FAILED: [oauth2] the token service {UNRESOLVABLE} cannot be reached "
                               "(NameResolutionError: Failed to resolve 'login.microsoftonline.invalid' ([Errno ")
    assert lines[0].endswith("))") and "mail waits" not in result.stdout
    assert lines[1].startswith("connect  ok: 127.0.0.1:") and lines[2].startswith("tls      ok: ")
    return lines


def test_relay_check_without_the_token_service_says_why_whole_and_still_tries_the_relay(tmp_path, entra, exchange):
    parts = sections(tmp_path, entra, exchange)
    parts["oauth2"]["authority"] = UNRESOLVABLE
    lines = _no_token_lines(gateway("--config", str(write_config(tmp_path, **parts)), "relay", "check"))
    assert lines[3] == "login    FAILED: not tried without a token (see the token line)"
    assert exchange.received == []


def test_imap_check_without_the_token_service_says_why_whole_and_still_tries_the_mailbox(tmp_path, entra, mailbox):
    parts = sections(tmp_path, entra, mailbox=mailbox)
    parts["oauth2"]["authority"] = UNRESOLVABLE
    lines = _no_token_lines(gateway("--config", str(write_config(tmp_path, **parts)), "imap", "check"))
    assert lines[3] == "login    FAILED: XOAUTH2 as gw: not tried without a token (see the token line)"


def test_a_certificate_credential_gets_a_token(tmp_path, entra, exchange):
    pem, thumbprint = entra.use_certificate()
    parts = sections(tmp_path, entra, exchange)
    parts["oauth2"].update({"client_secret_file": None, "certificate_file": str(pem),
                            "certificate_thumbprint": thumbprint})
    result = gateway("--config", str(write_config(tmp_path, **parts)), "relay", "check")
    assert result.returncode == 0, result.stdout + result.stderr
    entra.use_certificate()    # the app now has another certificate: ours is refused, and said so
    result = gateway("--config", str(tmp_path / "gateway.ini"), "relay", "check")
    assert result.returncode == 2 and "AADSTS700027: the certificate was not accepted" in result.stdout


def test_a_token_service_outage_loses_nothing_and_the_health_check_says_why(
        tmp_path, gateway_process, entra, exchange, mailbox):
    from tests.integration.test_daemon import send

    entra.down()
    http, smtp = free_port(), free_port()
    mailbox.append(mail(1))
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange, mailbox), smtp={"listen": f"127.0.0.1:{smtp}"},
                        http={"listen": f"127.0.0.1:{http}", "base_url": f"http://127.0.0.1:{http}"})
    daemon = gateway_process(path, smtp)
    send(smtp, mail(2), sender="resident2@example.net")    # by the SMTP door: its mail waits in the outbox

    wait_for(lambda: "oauth2:" in healthz(http), 15, what="/healthz to name the token service")
    assert f"the token service {entra.authority} cannot be reached" in healthz(http)
    assert mailbox.uids("INBOX") == [1] and exchange.received == []    # nothing taken, nothing lost
    waiting = wait_for(lambda: db_rows(tmp_path, "select state, last_error from outbound where last_error is not null"),
                       15, what="the outbox to wait for a token")
    assert all(state == "queued" and "cannot be reached" in error for state, error in waiting)
    entra.up()
    exchange.wait(4, timeout=40)
    wait_for(lambda: healthz(http) == "ok\n", 15, what="/healthz to be ok again")
    assert len(exchange.messages()) == 4 and len({m["Message-ID"] for m in exchange.messages()}) == 4
    assert daemon.stop() == 0
    assert "cannot be reached" in daemon.log_text()


def test_bulletins_leave_by_relay_bulletins_and_case_mail_by_relay(tmp_path, gateway_process, entra, exchange, relay):
    from tests.integration.alerts.test_bulletins import AREAS, send_bulletin, subscribe, to
    from tests.integration.test_daemon import send

    smtp, http = free_port(), free_port()
    parts = sections(tmp_path, entra, exchange)
    path = write_config(tmp_path, **AREAS, **parts, smtp={"listen": f"127.0.0.1:{smtp}"},
                        relay__bulletins={"host": "127.0.0.1", "port": str(relay.port), "max_per_second": "50"},
                        http={"listen": f"127.0.0.1:{http}", "base_url": f"http://127.0.0.1:{http}"})
    checked = gateway("--config", str(path), "check-config")
    assert checked.returncode == 0 and "bulletins would leave" not in checked.stdout, checked.stdout
    assert f"bulletins to relay 127.0.0.1:{relay.port}" in checked.stdout
    daemon = gateway_process(path, smtp)
    for address in ("ann@example.net", "carol@example.net"):
        subscribe(smtp, exchange, address, "Hightown please")    # confirmations are case-like mail: [relay]
    send(smtp, resident_mail(body="The streetlight on Hill Street is out."))
    wait_for(lambda: exchange.messages("hightown.npt@police.example"), 15, what="the case mail at [relay]")
    sent = send_bulletin(path, tmp_path, "Car crime on Hill Street")
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: all(to(relay, a, "Car crime") for a in ("ann@example.net", "carol@example.net")), 15,
             what="both copies at [relay:bulletins]")
    assert [m for m in exchange.messages() if "Car crime" in m["Subject"]] == []
    assert [m for m in relay.messages() if "Car crime" not in m["Subject"]] == []    # nothing else went that way
    assert len(relay.messages()) == 2
    assert daemon.stop() == 0


def test_check_config_warns_of_bulletins_through_exchange_online_and_names_oauth2_problems(tmp_path, entra):
    from tests.integration.alerts.test_bulletins import AREAS

    parts = sections(tmp_path, entra)
    office = {"host": "smtp.office365.com", "port": "587", "auth": "oauth2", "username": SENDER}
    result = gateway("--config", str(write_config(tmp_path, **AREAS, **parts, relay=office)), "check-config")
    assert result.returncode == 0, result.stdout
    assert ("warning: [relay] (there is no [relay:bulletins]) host: bulletins would leave through "
            "smtp.office365.com") in result.stdout
    wrong = write_config(tmp_path, relay=office | {"security": "none", "password_file": "pw"},
                         imap={"host": "127.0.0.1", "username": "gw", "auth": "oauth2"},
                         relay__bulletins={"host": "smtp.example.net", "auth": "bearer"})
    result = gateway("--config", str(wrong), "check-config")
    assert result.returncode == 2
    for text in ("[relay] security: must be starttls or tls with auth = oauth2",
                 "[relay] password_file: is not used with auth = oauth2",
                 "[relay:bulletins] auth: 'bearer' must be password or oauth2",
                 "[relay] auth: oauth2 needs an [oauth2] section", "[imap] auth: oauth2 needs an [oauth2] section"):
        assert text in result.stdout, result.stdout
    bad = write_config(tmp_path, oauth2={"tenant": "contoso.onmicrosoft.com", "client_id": "not-a-guid"})
    result = gateway("--config", str(bad), "check-config")
    for text in ("[oauth2] client_id: is required: the app registration's Application (client) ID",
                 "[oauth2] client_secret_file: give client_secret_file or certificate_file"):
        assert text in result.stdout, result.stdout


LEAK = "secret=SUPERSECRET"


def test_an_unknown_code_shows_the_code_and_our_words_never_the_services_text(
        tmp_path, gateway_process, entra, exchange):
    """A proxy or a wrong authority may echo the request, secret and all, in its error
    description: the check, the outbox, the log and /healthz give only the code."""
    entra.grants.unknown = f"Bad request. client_id=abc&{LEAK}&scope=x\r\nmore"
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange))
    check = gateway("--config", str(path), "relay", "check")
    assert check.returncode == 2 and "AADSTS9999999" in check.stdout, check.stdout
    assert "SUPERSECRET" not in check.stdout + check.stderr
    rows = _deliver(tmp_path, entra, exchange)
    assert "AADSTS9999999" in rows[0].last_error and "SUPERSECRET" not in " ".join(r.last_error or "" for r in rows)

    http, smtp = free_port(), free_port()
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange), smtp={"listen": f"127.0.0.1:{smtp}"},
                        http={"listen": f"127.0.0.1:{http}", "base_url": f"http://127.0.0.1:{http}"})
    daemon = gateway_process(path, smtp)

    wait_for(lambda: "AADSTS9999999" in healthz(http), 20, what="/healthz to name the refusal")
    assert "SUPERSECRET" not in healthz(http)
    assert daemon.stop() == 0
    assert "AADSTS9999999" in daemon.log_text() and "SUPERSECRET" not in daemon.log_text()


def test_a_relays_refusal_is_shown_as_its_code_and_a_short_plain_summary(tmp_path, entra, exchange):
    entra.grants.mailboxes = ("someone.else@surgery.example.org",)   # so the relay refuses the login
    exchange.refusal = f"535 5.7.3 Authentication unsuccessful {LEAK} dXNlcj1zdXJnZXJ5QGV4YW1wbGUub3Jn"
    path = write_config(tmp_path, **sections(tmp_path, entra, exchange))
    check = gateway("--config", str(path), "relay", "check")
    assert check.returncode == 2
    assert "(535 5.7.3 Authentication unsuccessful)" in check.stdout, check.stdout
    assert "SUPERSECRET" not in check.stdout + check.stderr and "dXNlcj1" not in check.stdout + check.stderr
