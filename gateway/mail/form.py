"""The online form's submissions as mail: the gateway builds an ordinary MIME message from
the form's fields (build), so threading, routing, danger, language, limits, retention,
export and erasure apply unchanged; and reads back what only the form can say (facts).

The X-Surgery-Form header says which client sent it and whether an email address was given.
Anyone can write that header into a mail: it is believed only on messages the form door
stored (the inbound row's source is "form"); elsewhere it means nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

HEADER = "X-Surgery-Form"
NO_EMAIL_DOMAIN = "no-email.invalid"   # RFC 2606: never delivered anywhere
TYPE_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{5,24}$")
SUBJECTS = {"en": "Message from the online form", "cy": "Neges o'r ffurflen ar-lein"}
LABELS = {
    "en": {"name": "Name", "phone": "Phone", "place": "Postcode or area", "area": "Area",
           "phone_me": "No email: please phone me"},
    "cy": {"name": "Enw", "phone": "Ffôn", "place": "Cod post neu ardal", "area": "Ardal",
           "phone_me": "Dim e-bost: ffoniwch fi os gwelwch yn dda"},
}


@dataclass(frozen=True)
class Submission:
    """What a resident typed into the form, checked by the page."""
    message: str
    email: str = ""          # "" with phone_only
    phone: str = ""
    phone_only: bool = False
    name: str = ""
    place: str = ""          # their postcode or area, as typed
    area_name: str = ""      # an area chosen from the list
    area: str = ""           # that area's key (the team is chosen by it)
    language: str = "en"
    files: tuple[tuple[str, str, bytes], ...] = ()   # (name, content type, data)
    trap: bool = False       # the hidden field people never see was filled in
    digest: str = ""         # the page's and the fields' fingerprint: the same button pressed again


@dataclass(frozen=True)
class Facts:
    """What the form door recorded about a submission (trusted only for source "form")."""
    client: str = ""
    language: str = "en"
    email_given: bool = True
    trap: bool = False
    digest: str = ""
    area: str = ""           # the key of the area chosen from the form's list
    phone: str = ""          # the number to phone, when the resident has no email
    extra: dict = field(default_factory=dict)


def no_email_address(phone: str) -> str:
    """The address a resident without email stands under: their phone's digits, at a domain
    that is never delivered to (so nothing is ever sent to it)."""
    return f"phone-{re.sub(r'[^0-9]', '', phone)[:20] or 'unknown'}@{NO_EMAIL_DOMAIN}"


def no_email(address: str) -> bool:
    """Whether a case's resident has no email (the stand-in address of no_email_address)."""
    return address.lower().endswith("@" + NO_EMAIL_DOMAIN)


def build(form: Submission, to: str, client: str, message_id: str, now: dt.datetime) -> bytes:
    """The stored message for one submission: From the resident (or their phone's stand-in),
    To the surgery (or the chosen area's team), the text and what else they gave."""
    words = LABELS[form.language]
    msg = EmailMessage()
    address = form.email if not form.phone_only else no_email_address(form.phone)
    msg["From"] = Address(display_name=person_name(form.name), addr_spec=address)
    msg["To"] = to
    msg["Subject"] = SUBJECTS[form.language]
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id
    msg["Content-Language"] = form.language
    facts = [f"client={client}", f"lang={form.language}", f"email={'none' if form.phone_only else 'given'}"]
    facts += [f"digest={form.digest}"] if form.digest else []
    facts += [f"area={form.area}"] if form.area else []
    facts += [f"phone={_line(form.phone)}"] if form.phone_only else []   # PHONE_RE: no ";" or "="
    msg[HEADER] = "; ".join(facts + (["trap=filled"] if form.trap else []))
    details = [(words["name"], form.name), (words["phone"], form.phone), (words["place"], form.place),
               (words["area"], form.area_name)]
    lines = [f"{label}: {_line(value)}" for label, value in details if value.strip()]
    if form.phone_only:
        lines.append(words["phone_me"])
    body = form.message.replace("\r\n", "\n").strip() + "\n"
    # 7-bit (quoted-printable): the team's copy then carries the original as a message, readable
    msg.set_content(body + ("\n--\n" + "\n".join(lines) + "\n" if lines else ""), charset="utf-8",
                    cte="quoted-printable")
    for name, content_type, data in form.files:
        maintype, _, subtype = _opaque(content_type).partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=_line(name)[:200] or "file")
    return msg.as_bytes()


def facts(header_value: str) -> Facts:
    """The X-Surgery-Form header read back (see the module's docstring for when to believe it)."""
    pairs = dict(part.strip().partition("=")[::2] for part in header_value.split(";") if "=" in part)
    return Facts(client=pairs.get("client", "")[:64], language="cy" if pairs.get("lang") == "cy" else "en",
                 email_given=pairs.get("email") != "none", trap=pairs.get("trap") == "filled",
                 digest=pairs.get("digest", "")[:64], area=pairs.get("area", "")[:64],
                 phone=pairs.get("phone", "")[:32])


def phone_of(found: Facts, address: str) -> str:
    """The number to phone a resident without email: as typed on the form, or (for a message
    stored before the form recorded it) the digits of their stand-in address."""
    if found.phone:
        return found.phone
    digits = address.partition("@")[0].removeprefix("phone-")
    return digits if digits.isdigit() else "(see the message)"


def describe(found: Facts) -> str:
    """For the team's copy and the case's history: how it came, in one line."""
    said = f"came by the online form, from client address {found.client or 'unknown'}"
    if not found.email_given:
        return said + "; the resident has NO email and asks to be phoned (the number is in the message)"
    return said + "; the email address was typed in and is not verified"


def _line(value: str) -> str:
    """One line: no line breaks in a header or a label's value."""
    return " ".join(value.split())[:200]


def person_name(value: str) -> str:
    """A typed name as a name, for a From header: plain text (an encoded word typed by a person
    is not decoded, so cannot become a line break or an address), without control characters,
    addresses, angle brackets or commas (which would make it read as another address)."""
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in value)
    text = re.sub(r"\S*@\S*", " ", text)              # an address, whatever surrounds it
    text = re.sub(r'=\?|\?=|[<>,;:"\\]', " ", text)   # encoded words' ends, and what separates addresses
    return " ".join(text.split())[:200]


def _opaque(content_type: str) -> str:
    """An upload's type for its part: as declared when it is a plain type/subtype; otherwise,
    and always for multipart/* and message/* (a saved web page, a mail: their boundaries and
    headers are the sender's, not ours), an opaque application/octet-stream."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if not TYPE_RE.match(declared) or declared.startswith(("multipart/", "message/")):
        return "application/octet-stream"
    return declared
