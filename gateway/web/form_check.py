"""The online form's checks, apart from the page: its anti-forgery token (which also carries
when the page was given, for the minimum time on the page), the client's address (believing
X-Forwarded-For only from [http] proxy_networks), and the fields a resident filled in."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets as random
from dataclasses import dataclass, field
from typing import Iterable

from gateway.config import ADDRESS_RE
from gateway.mail.form import PHONE_RE

TOKEN_HOURS = 4          # a page left open longer is given afresh
MAX_FILES = 3
MAX_MESSAGE = 20_000     # characters: a long letter, not a book
FIELDS = ("message", "email", "phone", "name", "place", "area")
# An address's local part as a mail header can carry it without SMTPUTF8 (not every server has it).
LOCAL_PART_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")


def new_cookie() -> str:
    """A browser's cookie value: random, kept as long as the browser sends it back."""
    return random.token_hex(12)


def valid_cookie(cookie: str) -> bool:
    """Whether a cookie the browser sent is one of ours in form (then it is kept: another tab's
    or an older page's token stays good)."""
    return bool(re.fullmatch(r"[0-9a-f]{24}", cookie or ""))


def new_token(secret: str, now: float, cookie: str) -> str:
    """The token for the form's hidden field: when the page was given, the page's own random
    id, and a signature over both and the browser's cookie (so the token is good only with
    that cookie; each tab's page has its own id)."""
    value = f"{int(now * 1000)}.{random.token_hex(12)}"   # milliseconds: the minimum time is a few seconds
    return f"{value}.{_mac(secret, value, cookie)}"


def read_token(token: str, cookie: str, secrets: Iterable[str], now: float) -> tuple[str, float, str]:
    """(page id, seconds since the page was given, problem): problem is "" for a token signed
    for this browser's cookie and not too old, "cookie" when no cookie came back (cookies
    blocked, or a post from another site), "expired" for any other (too old, made for another
    cookie, or not ours)."""
    issued, _, rest = token.partition(".")
    page, _, mac = rest.partition(".")
    if not (issued.isdigit() and re.fullmatch(r"[0-9a-f]{24}", page)):
        return "", 0.0, "expired"
    if not valid_cookie(cookie):
        return "", 0.0, "cookie"
    value = f"{issued}.{page}"
    if not any(hmac.compare_digest(mac, _mac(secret, value, cookie)) for secret in secrets):
        return "", 0.0, "expired"
    age = now - int(issued) / 1000
    return page, age, "" if -60 <= age <= TOKEN_HOURS * 3600 else "expired"


def message_id(secret: str, page: str, domain: str) -> str:
    """The stored message's Message-ID: a keyed hash of the page's random id, so the same page
    sent twice is found as one, while the id (logged, and in the team's mail) tells nothing
    of the browser's cookie or the page's token."""
    digest = hmac.new(secret.encode(), f"surgery-form-message:{page}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"<{digest}.form@{domain}>"


def _mac(secret: str, value: str, cookie: str) -> str:
    return hmac.new(secret.encode(), f"surgery-form:{value}:{cookie}".encode(), hashlib.sha256).hexdigest()[:32]


def client_address(remote: str | None, forwarded_for: str, proxies: tuple) -> str:
    """The resident's address: the connection's, or, when the connection comes from one of
    [http] proxy_networks, the last address in X-Forwarded-For that is not one of them (the
    ones before it are whatever the client chose to write)."""
    address = _address(remote)
    if address is None:
        return "unknown"
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    while _within(address, proxies) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break
        address = previous
    return _key(address)


def _address(text: str | None):
    try:
        address = ipaddress.ip_address(str(text or "").split("%", 1)[0])
    except ValueError:
        return None
    return address.ipv4_mapped if address.version == 6 and address.ipv4_mapped else address


def _within(address, networks: tuple) -> bool:
    return any(address in network for network in networks)


def _key(address) -> str:
    """An IPv4 address, or an IPv6 address's /64 (one subscriber's: per address, a limit holds nobody)."""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass
class Filled:
    """What came in, as typed (to show the form again), and the errors: (field, word key)."""
    values: dict = field(default_factory=dict)
    phone_only: bool = False
    trap: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)


def check(post, area_keys: set[str], own_domain: str = "") -> Filled:
    """The fields of a submitted form, read and checked; the files are counted elsewhere.
    An address at the gateway's own domain is refused: mail "from" it is dropped as a loop."""
    values = {name: str(post.get(name, "") or "")[:MAX_MESSAGE if name == "message" else 200] for name in FIELDS}
    values["email"] = values["email"].strip()
    if values["area"] not in area_keys:
        values["area"] = ""
    ticked = bool(post.get("no_email"))
    filled = Filled(values, phone_only=ticked and not values["email"], trap=bool(str(post.get("gw_extra", "")).strip()))
    if not values["message"].strip():
        filled.errors.append(("message", "err_message"))
    if values["email"] and not values["email"].isascii() and "@" in values["email"]:
        filled.errors.append(("email", "err_email_ascii"))
    elif values["email"] and not _address_ok(values["email"]):
        filled.errors.append(("email", "err_email"))
    elif own_domain and values["email"].lower().endswith("@" + own_domain):
        filled.errors.append(("email", "err_email_ours"))
    elif not values["email"] and not filled.phone_only:
        filled.errors.append(("email", "err_contact"))
    if filled.phone_only and not PHONE_RE.match(values["phone"].strip()):
        filled.errors.append(("phone", "err_phone"))
    return filled


def _address_ok(address: str) -> bool:
    local, _, domain = address.rpartition("@")
    return bool(ADDRESS_RE.match(address) and "." in domain and LOCAL_PART_RE.match(local))


def fingerprint(secret: str, cookie: str, values: dict, files: list[tuple[str, str, bytes]]) -> str:
    """What was sent from which browser, as a keyed digest: a second press of the same page's
    button is "the same" only when the browser and everything typed and attached are."""
    mac = hmac.new(secret.encode(), f"surgery-form-sent:{cookie}".encode(), hashlib.sha256)
    for name in sorted(values):
        mac.update(f"\0{name}\0{values[name]}".encode())
    for name, content_type, data in files:
        mac.update(f"\0file\0{name}\0{content_type}\0".encode() + hashlib.sha256(data).digest())
    return mac.hexdigest()[:32]
