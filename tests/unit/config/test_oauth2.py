"""[oauth2], auth = oauth2 in [imap] and [relay], and [relay:bulletins], read and checked."""

import base64
import json
from pathlib import Path

import pytest

from gateway import config
from gateway.config.oauth2 import OAuth2
from gateway.tokens import Token, explain, mailbox_advice, xoauth2
from tests.unit.config.test_config import problems_for
from tests.helpers import write_config

APP = {"tenant": "contoso.onmicrosoft.com", "client_id": "6b5f1c1e-0d5e-4a8e-9a43-2f1b8c7d9e01",
       "client_secret_file": "m365-client-secret"}


def test_an_app_with_a_secret_file_found_in_the_credentials_directory(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "m365-client-secret").write_text("the-secret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    settings = config.load(write_config(tmp_path, oauth2=APP, relay={
        "host": "smtp.office365.com", "port": "587", "auth": "oauth2", "username": "surgery@force.example"}))
    o = settings.oauth2
    assert (o.client_secret, o.secret_file, o.authority_url) == (
        "the-secret", credentials / "m365-client-secret",
        "https://login.microsoftonline.com/contoso.onmicrosoft.com")
    assert o.scope == "https://outlook.office365.com/.default"
    assert "the-secret" not in repr(o)
    login = settings.relay.login
    assert (login.auth, login.security, login.username) == ("oauth2", "starttls", "surgery@force.example")
    assert settings.bulletin_relay is None and settings.relays == (settings.relay,)


def test_a_certificate_needs_its_thumbprint_and_a_private_key(tmp_path):
    (tmp_path / "app.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    found = problems_for(tmp_path, oauth2=APP | {"client_secret_file": None, "certificate_file": "app.pem"})
    assert "[oauth2] certificate_file: " in found[0] and "holds no PEM private key" in found[0]
    assert any(p.startswith("[oauth2] certificate_thumbprint: is required with certificate_file") for p in found)
    both = problems_for(tmp_path, oauth2=APP | {"certificate_file": "app.pem"})
    assert any("give client_secret_file or certificate_file" in p for p in both)


def test_imap_with_oauth2_takes_no_password_and_bulletins_need_a_host(tmp_path):
    (tmp_path / "m365-client-secret").write_text("s\n")
    settings = config.load(write_config(tmp_path, oauth2=APP, imap={
        "host": "outlook.office365.com", "username": "surgery@force.example", "auth": "oauth2"}))
    assert settings.imap.auth == "oauth2" and settings.imap.password == ""
    found = problems_for(tmp_path, oauth2=APP, imap={"host": "h.example", "username": "u", "auth": "oauth2",
                                                      "password": "p"}, relay__bulletins={"port": "587"})
    assert "[imap] password: is not used with auth = oauth2 (the token comes from [oauth2]): remove it" in found
    assert "[relay:bulletins] host: is required" in found


@pytest.mark.parametrize("description, words", [
    ("AADSTS7000215: Invalid client secret provided.", "AADSTS7000215: the client secret is wrong or has expired: "
                                                       "make a new one in Entra ID and replace m365-client-secret"),
    ("AADSTS65001: The user or administrator has not consented", "AADSTS65001: admin consent is missing"),
    ("AADSTS90002: Tenant 'x' not found.", "AADSTS90002: the tenant was not found: check [oauth2] tenant"),
    # An unknown code: the code and our words, never the service's text (it may echo the request).
    ("AADSTS123456: Something new.\r\nTrace ID: 1", "https://a/t: AADSTS123456: an error the gateway does not "
                                                    "know (invalid_client)"),
    ("<html>proxy: client_secret=s3cr3t</html>", "https://a/t: invalid_client: the token service gave no AADSTS"),
])
def test_microsofts_errors_are_said_in_plain_words(description, words):
    oauth = OAuth2(tenant="t", client_id="c", authority="https://a", scope="s",
                   secret_file=Path("/etc/gw/m365-client-secret"))
    error = explain(oauth, "invalid_client", description)
    assert words in str(error) and str(error).startswith("[oauth2] no token from https://a/t: ")
    assert "Something new" not in str(error) and "s3cr3t" not in str(error)


def test_the_xoauth2_response_and_what_a_refused_login_means():
    assert xoauth2("surgery@force.example", "TOKEN") == "user=surgery@force.example\x01auth=Bearer TOKEN\x01\x01"
    claims = base64.urlsafe_b64encode(json.dumps({"roles": ["IMAP.AccessAsApp"]}).encode()).decode().rstrip("=")
    token = Token(f"h.{claims}.s", 0, True)
    assert "lacks the SMTP.SendAsApp permission" in mailbox_advice(token, "SMTP.SendAsApp", "m@x")
    assert "no permission on the mailbox m@x" in mailbox_advice(token, "IMAP.AccessAsApp", "m@x")
