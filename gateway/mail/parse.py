"""bytes -> ParsedMessage. Pure: no I/O, never raises on any input; faults become `problems`."""

from __future__ import annotations

import email
import html
import re
from dataclasses import dataclass, field
import time
from email import policy
from email.feedparser import BytesFeedParser
from email.policy import EmailPolicy
from email.message import Message
from email.header import decode_header, make_header
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_PARTS = 200
PARSE_SECONDS = 2.0
PARSE_CHUNK = 64 * 1024
BOM = b"\xef\xbb\xbf"  # some Windows tools start a saved .eml with one
MAX_DEPTH = 20
MSGID_RE = re.compile(r"<[^<>\s]+>")


class _PlainHeaders(EmailPolicy):
    """policy.default, except that a plain ASCII header is handed back as its unfolded text,
    not as a parsed header object. The Message API (content types, parameters, filenames)
    reads such headers as text either way; building the objects for every lookup was a
    quarter of a message's handling time. Encoded words (RFC 2047), RFC 2231 parameters
    and non-ASCII headers are parsed as before."""

    def header_fetch_parse(self, name, value):
        if value.isascii() and "=?" not in value and "*=" not in value:  # not RFC 2047 or 2231
            return value.replace("\r", "").replace("\n", "")   # unfolded; the spaces kept
        return super().header_fetch_parse(name, value)


PARSE_POLICY = _PlainHeaders()


@dataclass
class ParsedMessage:
    message_id: str | None
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    in_reply_to: list[str]
    references: list[str]
    text: str
    headers: dict[str, list[str]]
    problems: list[str] = field(default_factory=list)
    html: str | None = None     # the HTML part when the message has no plain text, for trimming
    attachments: list = field(default_factory=list)   # mail.attachments.Attachment, not yet judged
    from_problem: str | None = None   # why the sender is ambiguous (two From headers, two addresses)

    def header(self, name: str) -> str:
        """The first value of a header, or ""."""
        values = self.headers.get(name.lower())
        return values[0] if values else ""

    @property
    def thread_ids(self) -> list[str]:
        """References then In-Reply-To, oldest first, without repeats."""
        seen: list[str] = []
        for message_id in self.references + self.in_reply_to:
            if message_id not in seen:
                seen.append(message_id)
        return seen


def parse(raw: bytes) -> ParsedMessage:
    """Read what can be read of a message; what could not be read is listed in problems."""
    problems: list[str] = []
    try:
        msg = _budgeted(raw.removeprefix(BOM), problems)
    except Exception as exc:  # the stdlib parser is lenient, but any bytes may arrive
        problems.append(f"unparseable message: {type(exc).__name__}")
        msg = email.message_from_bytes(b"", policy=PARSE_POLICY)
    headers = _headers(msg, problems)
    first = lambda name: (headers.get(name) or [""])[0]  # noqa: E731
    name, address, from_problem = sender([v for k, v in msg.raw_items() if k.lower() == "from"])
    if from_problem:
        problems.append(f"sender unclear: {from_problem}")
    if not address:
        problems.append("no usable From address")
    message_id = (MSGID_RE.findall(first("message-id")) or [None])[0]
    text, rich = body_text(msg, problems)
    if message_id is None:
        problems.append("no Message-ID")
    for defect in getattr(msg, "defects", [])[:5]:
        problems.append(f"MIME defect: {type(defect).__name__}")
    return ParsedMessage(
        message_id=message_id, subject=_one_line(first("subject")), from_name=_one_line(name),
        from_address=address.strip().lower(), from_problem=from_problem,
        to=_addresses(headers.get("to", [])), cc=_addresses(headers.get("cc", [])),
        in_reply_to=MSGID_RE.findall(" ".join(headers.get("in-reply-to", []))),
        references=MSGID_RE.findall(" ".join(headers.get("references", []))),
        text=text, headers=headers, problems=problems, html=rich, attachments=_attachments(msg, problems))


QUOTED_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
COMMENT_RE = re.compile(r"\((?:[^()\\]|\\.)*\)")
ANGLE_RE = re.compile(r"<([^<>]*)>")


def sender(raw_values: list[str]) -> tuple[str, str, str | None]:
    """(display name, address, problem) from the From header(s) as they arrived.

    The address is read before any encoded word is decoded (a name that decodes to
    "x\r\nBcc: victim@..." stays a name), and from the one angle-addr when there is one, so
    an unquoted comma in a name ("Jones, PC 1234 <pc.jones@...>") does not split it. Two
    From headers, or two addresses in one, are a problem: whose mail is it?"""
    if not raw_values:
        return "", "", None
    problem = f"{len(raw_values)} From headers" if len(raw_values) > 1 else None
    raw = _as_text(" ".join(raw_values[0].split()))
    bare = COMMENT_RE.sub(" ", QUOTED_RE.sub('""', raw))   # where angle brackets really are
    angles = ANGLE_RE.findall(bare)
    if len(angles) == 1 and not ANGLE_RE.sub("", bare.partition(">")[2]).strip(" ,;"):
        address = angles[0].strip().rpartition(":")[2].strip()   # drop an obsolete source route
        display = raw[:raw.index("<" + angles[0])] if "<" + angles[0] in raw else ""
        return _decoded_name(display), address, problem
    if angles:
        return "", angles[0].strip(), problem or f"From holds {len(angles)} addresses"
    found = [addr for _, addr in getaddresses([raw]) if addr]
    if len(found) > 1:
        return "", found[0], problem or f"From holds {len(found)} addresses"
    name, address = parseaddr(raw)
    comment = " ".join(c.strip("()") for c in COMMENT_RE.findall(raw))
    return _decoded_name(name or comment), address, problem


def _as_text(value: str) -> str:
    """A raw header value as the parser left it (undecodable bytes as surrogates) -> text."""
    try:
        return value.encode("ascii", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return value


def _decoded_name(display: str) -> str:
    display = display.strip().strip('"').strip()
    if "=?" in display:
        try:
            display = str(make_header(decode_header(display)))
        except Exception:  # a broken encoded word stays as written
            pass
    return display.replace('\\"', '"')


def _budgeted(raw: bytes, problems: list[str]) -> Message:
    """The stdlib parser, fed a chunk at a time so that no message can hold the worker for
    more than about PARSE_SECONDS: past that, what was read so far is the message."""
    parser = BytesFeedParser(policy=PARSE_POLICY)
    started = time.monotonic()
    for offset in range(0, len(raw), PARSE_CHUNK):
        if time.monotonic() - started > PARSE_SECONDS:
            problems.append(f"parsing stopped after {PARSE_SECONDS:g} s at byte {offset} of {len(raw)}; "
                            "the rest was not read (the original is kept whole)")
            break
        parser.feed(raw[offset:offset + PARSE_CHUNK])
    return parser.close()


def _headers(msg: Message, problems: list[str]) -> dict[str, list[str]]:
    """Header name (lower case) -> its values; an undecodable header keeps its raw text."""
    headers: dict[str, list[str]] = {}
    for key, raw_value in msg.raw_items():
        name = key.lower()
        try:
            if "=?" in raw_value or not raw_value.isascii():
                value = str(policy.default.header_fetch_parse(key, raw_value))
            else:  # plain ASCII needs no decoding, only unfolding; addresses and Message-IDs
                # are read from the text below (building header objects for every header
                # was a tenth of a message's handling time)
                value = " ".join(raw_value.split())
        except Exception:
            problems.append(f"unreadable {name} header")
            value = raw_value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        headers.setdefault(name, []).append(value)
    return headers


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _addresses(values: list[str]) -> list[str]:
    return [addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr]


def body_text(msg: Message, problems: list[str]) -> tuple[str, str | None]:
    """The readable text (the first plain part, else the first HTML part made plain), and
    the HTML it came from when it came from HTML."""
    plain, rich = None, None
    for part in _walk(msg, problems):
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = _decode(part, problems)
        elif kind == "text/html" and rich is None:
            rich = _decode(part, problems)
    if plain is not None and plain.strip():
        return plain, None
    if rich is not None:
        return html_to_text(rich), rich
    return plain or "", None


def _attachments(msg: Message, problems: list[str]) -> list:
    """Every part that is a file (a disposition of attachment, or a filename), decoded."""
    from gateway.mail.attachments import Attachment

    found = []
    for part in _walk(msg, []):
        if part.is_multipart():
            continue
        try:
            name = part.get_filename()
        except Exception:  # an undecodable filename: still a file
            name = "unnamed"
        if part.get_content_disposition() != "attachment" and not name:
            continue
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:
            data = b""
            problems.append(f"attachment {name!r} could not be decoded")
        if not isinstance(data, bytes):
            data = str(data).encode("utf-8", "replace")
        found.append(Attachment(name=(name or "unnamed")[:200], content_type=part.get_content_type(), data=data))
    return found


def _walk(msg: Message, problems: list[str]):
    """Every part, depth first, within the part-count and depth budgets."""
    stack, count = [(msg, 0)], 0
    while stack:
        part, depth = stack.pop()
        count += 1
        if count > MAX_PARTS:
            problems.append(f"more than {MAX_PARTS} MIME parts; the rest were not read")
            return
        yield part
        if part.is_multipart():
            if depth >= MAX_DEPTH:
                problems.append(f"MIME nested deeper than {MAX_DEPTH}; inner parts not read")
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))


def _decode(part: Message, problems: list[str]) -> str:
    if part.get_param("charset") is None or part.get_content_charset() == "us-ascii":
        raw = part.get_payload(decode=True) or b""
        if not raw.isascii():   # 8-bit text that names no charset (swaks, some scripts and old clients):
            return _guess(raw)  # read as UTF-8 first ("rŵan"), not as ASCII with every letter replaced
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError, ValueError, TypeError) as exc:
        problems.append(f"text part could not be decoded as declared ({type(exc).__name__})")
    return _guess(part.get_payload(decode=True) or b"")


def _guess(payload: bytes) -> str:
    for charset in ("utf-8", "cp1252"):
        try:
            return payload.decode(charset)
        except UnicodeDecodeError:
            continue
    return payload.decode("latin-1")


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote", "table"}
    SKIP = {"script", "style", "head", "title"}

    def __init__(self, quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skip = 0
        self.quotes = quotes
        self.depth = 0          # blockquote nesting, written as "> " when quotes are asked for

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag == "hr":
            self._newline()
            self.chunks.append("_" * 32)
            self._newline()
        elif tag in self.BLOCK:
            if tag == "blockquote":
                self.depth += 1
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skip:
            self.skip -= 1
        elif tag in self.BLOCK:
            if tag == "blockquote" and self.depth:
                self.depth -= 1
            self._newline()

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.quotes and self.depth:
            data = data.replace("\n", " ")
            if self.chunks and self.chunks[-1].endswith("\n") and data.strip():
                data = "> " * self.depth + data.lstrip()
        self.chunks.append(data)

    def _newline(self) -> None:
        self.chunks.append("\n")


def html_to_text(markup: str, quotes: bool = False) -> str:
    """Readable plain text from HTML mail: tags dropped, blocks on their own lines, a rule as
    a line of underscores; with `quotes`, blockquoted lines start with "> " as in plain mail."""
    parser = _TextExtractor(quotes)
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # malformed markup: fall back to stripping tags crudely
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
